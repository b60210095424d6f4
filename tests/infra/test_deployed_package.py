"""The deployed form: what ``make package`` builds, run the way Lambda runs it.

``make package`` (Makefile.infra's recipe, into a scratch directory) builds the prod
template and the precompiled ``deployment.zip``. The zip is unzipped; each of the four
functions gets its environment from the packaged template, every ``Ref`` resolved to a
resource made on a moto server on 127.0.0.1 from the template's own properties (tables,
topic, secrets); and each runs in its own process under the real runtime interface
client (``awslambdaric``), with the template's Python, ``-S`` and only the package (and
the runtime's own directory, as ``/var/runtime`` on Lambda) on the path
(``tests/infra/lambda_runtime.py``). AWS SDK calls go to moto through the SDK's own
``AWS_ENDPOINT_URL``; the Lambda ``Invoke`` the dispatcher makes goes to a recorder on
loopback (``AWS_ENDPOINT_URL_LAMBDA``), and the worker is then handed exactly what was
recorded.

One night, in order: the authorizer answers each credential shaped as Supabase issues it
(a project's legacy keys, its secret and publishable keys, a Supabase Auth token) and a
forged one; the API, with the authorizer's context, registers a ``noop`` job and an
``edge-function`` job and lists the job types; the dispatcher, given EventBridge's event at
the ``noop`` job's slot, claims it and invokes the worker; the worker runs it; the API
reads the result. Then the processes are ended and their own reports say what they
imported and that no bytecode was written.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import boto3
import jwt
import pytest

from .cfn import PSEUDO, Evaluator
from .conftest import BIN, ROOT
from .lambda_runtime import Answer, InvokeRecorder, LambdaProcess, build_runtime_dir, files_under, start_moto

pytestmark = pytest.mark.timeout(900)  # a cold wheel cache makes `chalice package` download from PyPI

REGION, ACCOUNT = PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
PROJECT_REF = "qwertyuiopasdfghjklz"  # Supabase project refs are 20 lowercase letters
SUPABASE_URL = f"https://{PROJECT_REF}.supabase.co"
JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
SECRET_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"  # the shape of a project's secret API key
PUBLISHABLE_KEY = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
BASE = "/api/v1/scheduler"
JOB = "deployed-noop"
# An Edge Function on a schedule half an hour away from the noop job's slot, so never due
# with it: on Lambda its run would call https://<ref>.supabase.co, which a test cannot
# reach, and the worker calls no loopback address outside local mode.
EDGE_JOB = {"jobName": "send-reminders", "cronExpression": f"{(time.gmtime().tm_min + 30) % 60} * * * *",
            "timezone": "UTC", "handler": "edge-function",
            "payload": {"function": "send-reminders", "method": "POST", "body": {"batch": 50}}}
FUNCTIONS = {"JwtAuthorizer": "authorizer", "APIHandler": "api", "Dispatch": "dispatcher", "RunExecution": "worker"}
EMPTY_FLUSH_WARNING = "No application metrics to publish"


# ---------------------------------------------------------------------- the resources the template names


def make_resources(template: dict[str, Any], evaluator: Evaluator, endpoint: str) -> dict[str, str]:
    """Create the tables, topic and secrets the template names on moto; logical id -> what Ref gives."""
    clients = {name: boto3.client(name, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                                  aws_secret_access_key="testing") for name in ("dynamodb", "sns", "secretsmanager")}
    values = {"JwtSecret": JWT_SECRET, "SupabaseServiceKeySecret": SECRET_KEY}
    refs: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        kind = resource.get("Type")
        properties = evaluator.resolve(resource.get("Properties", {}))
        if kind == "AWS::DynamoDB::Table":
            clients["dynamodb"].create_table(**{k: properties[k] for k in (
                "TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
                if k in properties})
            refs[logical_id] = properties["TableName"]
        elif kind == "AWS::SNS::Topic":
            refs[logical_id] = clients["sns"].create_topic(Name=properties["TopicName"])["TopicArn"]
        elif kind == "AWS::SecretsManager::Secret":
            value = {"SecretString": values[logical_id]} if logical_id in values else {}  # deployed without one
            refs[logical_id] = clients["secretsmanager"].create_secret(Name=properties["Name"], **value)["ARN"]
        elif kind == "AWS::Serverless::Function":
            refs[logical_id] = properties["FunctionName"]
    return refs


# ---------------------------------------------------------------------- events as AWS sends them


def supabase_legacy_key(role: str = "service_role", ref: str = PROJECT_REF, secret: str = JWT_SECRET) -> str:
    """A project's legacy API key as the dashboard shows it (Settings > API Keys > Legacy)."""
    now = int(time.time())
    return jwt.encode({"iss": "supabase", "ref": ref, "role": role, "iat": now, "exp": now + 10 * 365 * 86400},
                      secret, algorithm="HS256")


def supabase_auth_token(secret: str = JWT_SECRET) -> str:
    """An access token Supabase Auth issues to a signed-in user whose app_metadata.role is admin."""
    now = int(time.time())
    return jwt.encode({"iss": f"{SUPABASE_URL}/auth/v1", "sub": str(uuid.uuid4()), "aud": "authenticated",
                       "role": "authenticated", "email": "ops@example.org", "app_metadata": {"provider": "email",
                       "providers": ["email"], "role": "admin"}, "user_metadata": {}, "aal": "aal1",
                       "session_id": str(uuid.uuid4()), "is_anonymous": False, "iat": now, "exp": now + 3600},
                      secret, algorithm="HS256")


def token_event(token: str, method: str = "POST", path: str = f"{BASE}/jobs") -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": f"Bearer {token}",
            "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/api/{method}{path}"}


def proxy_event(method: str, resource: str, path: str, authorizer: dict[str, Any], body: Any = None,
                path_parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """API Gateway's REST proxy event, with what the authorizer answered as its context."""
    headers = {"Host": "a1b2c3d4e5.execute-api.eu-north-1.amazonaws.com", "Authorization": "Bearer (checked)",
               "Content-Type": "application/json", "Accept": "application/json"}
    request_id = str(uuid.uuid4())
    return {
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters, "stageVariables": None,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "path": f"/api{path}", "stage": "api",
                           "requestId": request_id, "accountId": ACCOUNT, "apiId": "a1b2c3d4e5",
                           "identity": {"sourceIp": "198.51.100.7", "userAgent": "curl/8.5.0"},
                           "authorizer": {"principalId": authorizer["principalId"],
                                          **(authorizer.get("context") or {})}},
        "body": None if body is None else json.dumps(body), "isBase64Encoded": False,
    }


def eventbridge_event(at: str) -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": at, "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly-scheduler-prod-dispatch"], "detail": {}}


# ---------------------------------------------------------------------- one night, deployed


@dataclass
class Night:
    task: Path
    runtime: Path
    stdlib: list[str]
    files_before: set[str]
    files_after: set[str] = field(default_factory=set)
    answers: dict[str, Answer] = field(default_factory=dict)
    invokes: list[dict[str, Any]] = field(default_factory=list)
    exits: dict[str, tuple[int, dict[str, Any], str]] = field(default_factory=dict)
    slot: str = ""


def template_python(template: dict[str, Any]) -> str:
    """The interpreter of the template's runtime (``python3.11``): this one when it matches."""
    runtimes = {template["Resources"][f]["Properties"]["Runtime"] for f in FUNCTIONS}
    assert len(runtimes) == 1, runtimes
    version = runtimes.pop().removeprefix("python")
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = subprocess.run(["sh", "-c", f"command -v python{version}"], capture_output=True, text=True).stdout.strip()
    assert found, f"the template's runtime is python{version}, which is not installed"
    return found


def build_package(build: Path) -> dict[str, Any]:
    """``make package``'s own recipe (Makefile.infra) into ``build``; the packaged template."""
    # Not a sub-make of `make test`: its variables (MAKEFLAGS carries command-line ones) stay out.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    made = subprocess.run(["make", "--no-print-directory", "-f", "Makefile.infra", "package",
                           f"INFRA_BUILD={build}", f"INFRA_BIN={BIN}", f"INFRA_REGION={REGION}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stdout + made.stderr
    return json.loads((build / "sam.json").read_text())


def stdlib_dirs(python: str) -> list[str]:
    out = subprocess.run([python, "-S", "-c", "import json, sysconfig; p = sysconfig.get_paths(); "
                                              "print(json.dumps(sorted({p['stdlib'], p['platstdlib']})))"],
                         capture_output=True, text=True, check=True).stdout
    return list(json.loads(out))


def start_functions(template: dict[str, Any], task: Path, runtime: Path, scratch: Path, endpoint: str,
                    lambda_endpoint: str) -> dict[str, LambdaProcess]:
    """Each function's process, with its environment from the template and every Ref a resource on moto."""
    python = template_python(template)
    parameters = {"Stage": "prod", "SupabaseUrl": SUPABASE_URL}
    evaluator = Evaluator(template, parameters, make_resources(template, Evaluator(template, parameters), endpoint))
    processes: dict[str, LambdaProcess] = {}
    for logical_id, short in FUNCTIONS.items():
        properties = template["Resources"][logical_id]["Properties"]
        environment = evaluator.resolve(properties["Environment"]["Variables"])
        unresolved = {k: v for k, v in environment.items() if not isinstance(v, str) or "<" in v}
        assert not unresolved, f"{logical_id}: variables not resolved to a resource: {unresolved}"
        processes[short] = LambdaProcess(
            evaluator.resolve(properties["FunctionName"]), python=python, task=task, runtime=runtime,
            handler=properties["Handler"], memory_mb=properties["MemorySize"], region=REGION, account=ACCOUNT,
            scratch=scratch, environment={
                **environment,
                # the SDK's own endpoint settings: AWS is moto, except Lambda's Invoke
                "AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_LAMBDA": lambda_endpoint,
                "AWS_ACCESS_KEY_ID": "ASIATESTING", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
            })
    return processes


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    scratch = tmp_path_factory.mktemp("deployed")
    moto, endpoint = start_moto()  # it starts while the package is built
    recorder = InvokeRecorder()
    processes: dict[str, LambdaProcess] = {}
    try:
        template = build_package(scratch / "build")
        task = scratch / "task"
        with zipfile.ZipFile(scratch / "build" / "deployment.zip") as archive:
            archive.extractall(task)
        runtime = build_runtime_dir(scratch / "runtime")
        result = Night(task=task, runtime=runtime, stdlib=stdlib_dirs(template_python(template)),
                       files_before=files_under(task))
        processes = start_functions(template, task, runtime, scratch, endpoint, recorder.url)
        run_the_night(processes, recorder, result)
        for short, process in processes.items():
            result.exits[short] = process.stop()
        result.files_after = files_under(task)
        yield result
    finally:
        for process in processes.values():
            process.kill()
        recorder.close()
        moto.kill()
        moto.wait()


def run_the_night(fn: dict[str, LambdaProcess], recorder: InvokeRecorder, night: Night) -> None:
    answers = night.answers
    answers["legacy service_role key"] = fn["authorizer"].invoke(token_event(supabase_legacy_key()))
    answers["Supabase Auth admin"] = fn["authorizer"].invoke(token_event(supabase_auth_token()))
    answers["secret API key"] = fn["authorizer"].invoke(token_event(SECRET_KEY))
    answers["anon key"] = fn["authorizer"].invoke(token_event(supabase_legacy_key(role="anon")))
    answers["publishable key"] = fn["authorizer"].invoke(token_event(PUBLISHABLE_KEY))
    answers["forged"] = fn["authorizer"].invoke(token_event(supabase_legacy_key(secret="not-the-project-secret" * 2)))
    answers["another project's key"] = fn["authorizer"].invoke(token_event(supabase_legacy_key(ref="a" * 20)))
    allowed = answers["legacy service_role key"]
    assert allowed.kind == "response", allowed

    answers["register"] = fn["api"].invoke(proxy_event(
        "POST", f"{BASE}/jobs", f"{BASE}/jobs", allowed.body,
        {"jobName": JOB, "cronExpression": "* * * * *", "timezone": "UTC", "handler": "noop", "payload": {"n": 1}}))
    assert answers["register"].kind == "response" and answers["register"].body["statusCode"] == 201, answers["register"]
    night.slot = json.loads(answers["register"].body["body"])["nextRunAt"]
    answers["register edge-function"] = fn["api"].invoke(proxy_event(
        "POST", f"{BASE}/jobs", f"{BASE}/jobs", allowed.body, EDGE_JOB))
    answers["handlers"] = fn["api"].invoke(proxy_event("GET", f"{BASE}/handlers", f"{BASE}/handlers", allowed.body))

    answers["dispatch"] = fn["dispatcher"].invoke(eventbridge_event(night.slot), timeout_s=50)
    night.invokes = list(recorder.calls)
    assert len(night.invokes) == 1, (answers["dispatch"], night.invokes)
    answers["run"] = fn["worker"].invoke(night.invokes[0]["payload"], timeout_s=60)  # the bytes, as Lambda does

    resource = f"{BASE}/jobs/{{jobName}}/last-result"
    answers["last-result"] = fn["api"].invoke(proxy_event(
        "GET", resource, f"{BASE}/jobs/{JOB}/last-result", allowed.body, path_parameters={"jobName": JOB}))


# ---------------------------------------------------------------------- what the night shows


@pytest.mark.parametrize(("kind", "role"), [("legacy service_role key", "service_role"),
                                            ("Supabase Auth admin", "admin"), ("secret API key", "service_role")])
def test_the_authorizer_allows_each_credential_a_supabase_project_issues_to_its_operators(
        night: Night, kind: str, role: str) -> None:
    answer = night.answers[kind]
    assert answer.kind == "response", answer
    assert allowed_resources(answer) == [f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/api/*/*"], answer
    assert answer.body["context"]["role"] == role
    assert SECRET_KEY not in json.dumps(answer.body)


@pytest.mark.parametrize("kind", ["anon key", "publishable key"])
def test_the_authorizer_allows_a_projects_public_keys_nothing(night: Night, kind: str) -> None:
    """API Gateway answers 403 to a policy that allows no resource (Chalice's ``routes=[]``)."""
    answer = night.answers[kind]
    assert answer.kind == "response", answer
    assert (answer.body["principalId"], allowed_resources(answer)) == ("forbidden", [])


def allowed_resources(answer: Answer) -> list[str]:
    resources: list[str] = []
    for statement in answer.body["policyDocument"]["Statement"]:
        if statement["Effect"] == "Allow":
            given = statement["Resource"]
            resources.extend([given] if isinstance(given, str) else given)
    return resources


@pytest.mark.parametrize("kind", ["forged", "another project's key"])
def test_the_authorizer_refuses_a_forged_token_and_another_projects_key_with_unauthorized(
        night: Night, kind: str) -> None:
    answer = night.answers[kind]
    assert (answer.kind, answer.body["errorType"], answer.body["errorMessage"]) == ("error", "Exception", "Unauthorized")


def test_the_api_registers_a_job_in_the_tables_the_template_names(night: Night) -> None:
    answer = night.answers["register"]
    body = json.loads(answer.body["body"])
    assert (answer.body["statusCode"], body["jobName"], body["state"]) == (201, JOB, "active")
    assert answer.body["headers"]["Location"] == f"/api{BASE}/jobs/{JOB}"


def test_the_api_registers_an_edge_function_job_and_lists_both_supabase_job_types(night: Night) -> None:
    answer = night.answers["register edge-function"]
    assert answer.kind == "response" and answer.body["statusCode"] == 201, answer
    body = json.loads(answer.body["body"])
    assert (body["handler"], body["payload"]["function"], body["state"]) == ("edge-function", "send-reminders", "active")
    handlers = json.loads(night.answers["handlers"].body["body"])["handlers"]
    assert {"noop", "http-request", "database-function", "edge-function"} <= {h["name"] for h in handlers}


def test_the_dispatcher_at_the_slot_claims_it_and_invokes_the_worker_asynchronously_with_names_only(
        night: Night) -> None:
    dispatch = night.answers["dispatch"]
    assert dispatch.kind == "response", dispatch
    assert (dispatch.body["now"], dispatch.body["claimed"], dispatch.body["errors"]) == (
        night.slot.replace("Z", "+00:00"), 1, []), dispatch.body
    [call] = night.invokes
    assert (call["function"], call["invocationType"]) == ("nightly-scheduler-prod-run_execution", "Event")
    assert set(json.loads(call["payload"])) == {"jobName", "executionId"}
    assert json.loads(call["payload"])["jobName"] == JOB


def test_the_worker_runs_what_the_dispatcher_sent_and_the_api_reads_its_result(night: Night) -> None:
    run = night.answers["run"]
    sent = json.loads(night.invokes[0]["payload"])
    assert run.kind == "response", run
    assert run.body == {**sent, "status": "succeeded"}
    last = night.answers["last-result"]
    assert last.kind == "response" and last.body["statusCode"] == 200, last
    execution = json.loads(last.body["body"])
    assert (execution["executionId"], execution["status"]) == (sent["executionId"], "succeeded")
    assert execution["result"] == {"ok": True, "scheduledFor": night.slot, "attempt": 1, "payloadKeys": ["n"]}


def test_each_function_ran_under_the_runtime_interface_client_with_no_site_and_ended_cleanly(night: Night) -> None:
    for name, (code, report, output) in night.exits.items():
        assert code == 0, (name, output[-3000:])
        assert report["no_site"] == 1 and report["dont_write_bytecode"] is False, name
        assert report["path"][0] == str(night.task) and report["path"][-1] == str(night.runtime), report["path"]
        assert "awslambdaric.bootstrap" in report["modules"], name


def test_no_bytecode_is_written_the_packaged_pyc_files_are_used(night: Night) -> None:
    assert night.files_after - night.files_before == set()
    assert any(name.endswith(".cpython-311.pyc") for name in night.files_before)


def test_nothing_is_imported_from_outside_the_package_the_standard_library_and_the_runtime(night: Night) -> None:
    runtime_tops = {"awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py", "__main__"}
    for name, (_, report, _) in night.exits.items():
        outside = {}
        for module, path in report["modules"].items():
            if not path:
                continue  # built in, frozen, or a namespace package
            if path.startswith(str(night.task) + os.sep) or any(path.startswith(d + os.sep) for d in night.stdlib):
                continue
            if path.startswith(str(night.runtime) + os.sep) and module.split(".")[0] in runtime_tops:
                continue
            outside[module] = path
        assert outside == {}, name
        assert "app" in report["modules"] and "boto3" in report["modules"], name


def test_no_function_warns_that_it_had_no_metrics_to_publish(night: Night) -> None:
    for name, (_, _, output) in night.exits.items():
        assert EMPTY_FLUSH_WARNING not in output, name
