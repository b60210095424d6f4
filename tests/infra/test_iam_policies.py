"""The hand-written policies (autogen_policy is off) grant each function only what it needs."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from .cfn import PSEUDO, Evaluator
from .conftest import ROOT, STAGES, Packaged

# The first test to need the packaged templates pays for `chalice package` (wheels from PyPI on a cold cache).
pytestmark = pytest.mark.timeout(900)

POLICY_DIR = ROOT / ".chalice"
ROLES = {"api_handler": "ApiHandlerRole", "dispatch": "DispatchRole", "run_execution": "RunExecutionRole",
         "jwt_authorizer": "JwtAuthorizerRole"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


OWN_REGION_AND_ACCOUNT = "${AWS::Region}:${AWS::AccountId}"
"""How a policy file names the stack's own region and account: in an ``Fn::Sub``, which
``chalice package`` copies verbatim into the role's ``PolicyDocument`` for CloudFormation."""


def resource_text(resource: Any) -> str:
    """A policy Resource as text: an ``{"Fn::Sub": "..."}`` as its template string."""
    if isinstance(resource, dict):
        assert list(resource) == ["Fn::Sub"] and isinstance(resource["Fn::Sub"], str), resource
        assert set(re.findall(r"\$\{([^}]*)\}", resource["Fn::Sub"])) <= {"AWS::Region", "AWS::AccountId"}, resource
        return resource["Fn::Sub"]
    return resource


def statements(document: dict) -> Iterator[tuple[set[str], list[str], dict]]:
    for s in document["Statement"]:
        assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
        yield set(_as_list(s["Action"])), [resource_text(r) for r in _as_list(s["Resource"])], s.get("Condition", {})


def policy_files() -> list[Path]:
    return sorted(POLICY_DIR.glob("policy-*.json"))


def granted(document: dict) -> dict[str, set[str]]:
    """action -> resources."""
    out: dict[str, set[str]] = {}
    for actions, resources, _ in statements(document):
        for action in actions:
            out.setdefault(action, set()).update(resources)
    return out


def test_each_function_of_each_stage_has_its_own_policy_file(chalice_config: dict) -> None:
    for stage in STAGES:
        for _function, settings in chalice_config["stages"][stage]["lambda_functions"].items():
            path = POLICY_DIR / settings["iam_policy_file"]
            assert path.is_file(), path
            assert f"-{stage}-" in path.name


# ARN resource part (after "arn:aws:<service>:<region>:<account>:") each service's grants must start with.
APP_RESOURCES = {"dynamodb": "table/nightly-scheduler-", "sns": "nightly-scheduler-",
                 "lambda": "function:nightly-scheduler-", "secretsmanager": "secret:nightly-scheduler/",
                 "ssm": "parameter/nightly-scheduler/", "sqs": "nightly-scheduler-"}


@pytest.mark.parametrize("path", policy_files(), ids=lambda p: p.name)
def test_no_data_or_alert_action_on_every_resource(path: Path) -> None:
    document = json.loads(path.read_text())
    for actions, resources, condition in statements(document):
        assert not any(a == "*" or a.endswith(":*") for a in actions), actions
        for service in {a.split(":")[0] for a in actions} & set(APP_RESOURCES):
            for resource in resources:
                parts = resource.replace(OWN_REGION_AND_ACCOUNT, "region:account").split(":", 5)
                assert parts[:3] == ["arn", "aws", service] and parts[5].startswith(APP_RESOURCES[service]), (
                    path.name, actions, resource)
        if "*" in resources:
            # Only actions without resource-level permissions, and metrics only in our namespace.
            assert actions <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData"}
            if "cloudwatch:PutMetricData" in actions:
                assert list(condition) == ["StringEquals"]
                assert list(condition["StringEquals"]) == ["cloudwatch:namespace"]


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_gets_what_its_role_needs_and_no_more(chalice_config: dict, stage: str) -> None:
    env = chalice_config["stages"][stage]["environment_variables"]
    jobs = f"arn:aws:dynamodb:*:*:table/{env['SCHEDULER_JOBS_TABLE']}"
    executions = f"arn:aws:dynamodb:*:*:table/{env['SCHEDULER_EXECUTIONS_TABLE']}"
    worker = f"arn:aws:lambda:*:*:function:{env['SCHEDULER_WORKER_FUNCTION']}"
    topic = f"arn:aws:sns:*:*:nightly-scheduler-{stage}-alerts"
    files = chalice_config["stages"][stage]["lambda_functions"]
    policy = {fn: granted(json.loads((POLICY_DIR / s["iam_policy_file"]).read_text())) for fn, s in files.items()}

    for fn in ("api_handler", "dispatch", "run_execution"):
        # Transactions need the item actions; there is no TransactWriteItems action.
        for action in ("GetItem", "PutItem", "UpdateItem", "ConditionCheckItem", "Query"):
            assert policy[fn][f"dynamodb:{action}"] == {jobs, f"{jobs}/index/due-index", executions}, (fn, action)
        assert policy[fn]["cloudwatch:PutMetricData"] == {"*"}
        assert policy[fn]["sns:Publish"] == {topic}  # notices leave from whichever function ends a streak
    # Only the API lists (Scan) and cancels (DeleteItem) jobs; executions are queried and expire by TTL.
    assert policy["api_handler"]["dynamodb:Scan"] == policy["api_handler"]["dynamodb:DeleteItem"] == {jobs}
    assert not {"dynamodb:Scan", "dynamodb:DeleteItem"} & (set(policy["dispatch"]) | set(policy["run_execution"]))
    for fn in ("api_handler", "dispatch"):
        assert policy[fn]["lambda:InvokeFunction"] == {worker}
    # http-request jobs' secretRefs: Secrets Manager or SSM, under the stage's jobs/ prefix only,
    # in the stack's own region and account (a job may give an ARN: never another account's).
    own = OWN_REGION_AND_ACCOUNT
    assert policy["run_execution"]["secretsmanager:GetSecretValue"] == {
        f"arn:aws:secretsmanager:*:*:secret:{env['SUPABASE_SERVICE_KEY_ID']}-??????",
        f"arn:aws:secretsmanager:{own}:secret:nightly-scheduler/{stage}/jobs/*-??????"}
    assert policy["run_execution"]["ssm:GetParameter"] == {f"arn:aws:ssm:{own}:parameter/nightly-scheduler/{stage}/jobs/*"}
    # The authorizer reads the JWT secret, and the keys an sb_secret_ bearer is compared with:
    # the Supabase service key and the optional list (nightly-scheduler/<stage>/api-keys).
    assert policy["jwt_authorizer"]["secretsmanager:GetSecretValue"] == {
        f"arn:aws:secretsmanager:*:*:secret:{env['SCHEDULER_JWT_SECRET_ID']}-??????",
        f"arn:aws:secretsmanager:*:*:secret:{env['SUPABASE_SERVICE_KEY_ID']}-??????",
        f"arn:aws:secretsmanager:*:*:secret:nightly-scheduler/{stage}/api-keys-??????"}

    services = {fn: {a.split(":")[0] for a in actions} for fn, actions in policy.items()}
    assert services["jwt_authorizer"] == {"logs", "xray", "secretsmanager"}
    assert not {"secretsmanager", "ssm"} & (services["api_handler"] | services["dispatch"])
    assert "lambda" not in services["run_execution"]


@pytest.mark.parametrize("stage", STAGES)
def test_packaged_roles_carry_the_policy_files(chalice_config: dict, packaged: dict[str, Packaged], stage: str) -> None:
    files = chalice_config["stages"][stage]["lambda_functions"]
    for fn, settings in files.items():
        role = packaged[stage].template["Resources"][ROLES[fn]]["Properties"]
        assert [p["PolicyDocument"] for p in role["Policies"]] == [
            json.loads((POLICY_DIR / settings["iam_policy_file"]).read_text())]
        assert "ManagedPolicyArns" not in role


SECRET_READS = {"secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"}
SOME_ACCOUNT = "arn:aws:secretsmanager:eu-north-1:123456789012:secret:"


def iam_matches(pattern: str, arn: str) -> bool:
    """IAM's resource wildcards: ``*`` any run of characters (``/`` included), ``?`` one; the
    stack's own region and account (``Fn::Sub``) are the test stack's (``tests/infra/cfn.py``)."""
    pattern = pattern.replace("${AWS::Region}", PSEUDO["AWS::Region"]).replace("${AWS::AccountId}", PSEUDO["AWS::AccountId"])
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), arn) is not None


@pytest.mark.parametrize("stage", STAGES)
def test_the_worker_reads_the_jobs_namespace_and_its_own_secret_in_separate_statements(
        chalice_config: dict, packaged: dict[str, Packaged], stage: str) -> None:
    """A job's secretRef resolves under nightly-scheduler/<stage>/jobs/ only (the setting, the
    code); the worker's role grants that namespace in statements of its own, which reach none
    of the scheduler's own secrets, and the JWT secret not at all (only the authorizer reads it)."""
    env = chalice_config["stages"][stage]["environment_variables"]
    prefix = env["SCHEDULER_JOB_SECRETS_PREFIX"]
    assert prefix == f"nightly-scheduler/{stage}/jobs/"
    own = {"jwt": f"{SOME_ACCOUNT}{env['SCHEDULER_JWT_SECRET_ID']}-AbCdEf",
           "supabase": f"{SOME_ACCOUNT}{env['SUPABASE_SERVICE_KEY_ID']}-AbCdEf"}
    assert not any(env[k].startswith(prefix) for k in ("SCHEDULER_JWT_SECRET_ID", "SUPABASE_SERVICE_KEY_ID"))
    job_secrets = [f"{SOME_ACCOUNT}{prefix}slack/team-AbCdEf", f"arn:aws:ssm:eu-north-1:123456789012:parameter/{prefix}edge/token"]
    elsewhere = [*own.values(), f"{SOME_ACCOUNT}nightly-scheduler/{'prod' if stage == 'dev' else 'dev'}/jobs/x-AbCdEf",
                 f"arn:aws:secretsmanager:eu-north-1:999999999999:secret:{prefix}slack/team-AbCdEf",  # another account
                 f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{prefix}slack/team-AbCdEf",  # another region
                 f"arn:aws:ssm:eu-north-1:999999999999:parameter/{prefix}edge/token",
                 "arn:aws:ssm:eu-north-1:123456789012:parameter/aws/service/global-infrastructure/regions",
                 f"arn:aws:ssm:eu-north-1:123456789012:parameter/nightly-scheduler/{stage}/jwt-secret"]

    worker_file = chalice_config["stages"][stage]["lambda_functions"]["run_execution"]["iam_policy_file"]
    role = packaged[stage].resource(ROLES["run_execution"])["Properties"]
    documents = {worker_file: json.loads((POLICY_DIR / worker_file).read_text()),
                 **{f"packaged {p['PolicyName']}": p["PolicyDocument"] for p in role["Policies"]}}
    for where, document in documents.items():
        reads = [resources for actions, resources, _ in statements(document) if actions & SECRET_READS]
        for_jobs = [r for r in reads if any(iam_matches(p, arn) for p in r for arn in job_secrets)]
        for_own = [r for r in reads if any(iam_matches(p, arn) for p in r for arn in own.values())]
        assert for_jobs and for_own, where
        assert not [r for r in for_jobs if r in for_own], f"{where}: a statement grants jobs' and own secrets"
        for resources in for_jobs:
            for pattern in resources:
                assert not any(iam_matches(pattern, arn) for arn in elsewhere), (where, pattern)
        assert all(iam_matches(p, own["supabase"]) for r in for_own for p in r), where
        assert not any(iam_matches(p, own["jwt"]) for r in reads for p in r), where
        assert all(any(iam_matches(p, arn) for r in for_jobs for p in r) for arn in job_secrets), where

    ev = Evaluator(packaged[stage].template, {"Stage": stage, "SupabaseUrl": "https://abcd.supabase.co"})
    packaged_env = ev.resolve(packaged[stage].resource("RunExecution")["Properties"]["Environment"]["Variables"])
    assert packaged_env["SCHEDULER_JOB_SECRETS_PREFIX"] == prefix
