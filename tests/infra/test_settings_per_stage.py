"""Every variable the code reads is set for each deployed stage, and none of the local-only ones is."""
from __future__ import annotations

import pytest

from chalicelib import settings as settings_module
from chalicelib.settings import Settings

from .cfn import Evaluator
from .conftest import FUNCTIONS, STAGES, Packaged

# The first test to need the packaged templates pays for `chalice package` (wheels from PyPI on a cold cache).
pytestmark = pytest.mark.timeout(900)

PARAMETERS = {"SupabaseUrl": "https://abcd.supabase.co"}
# Plain secret values and the emulator endpoint: local stack and tests only.
LOCAL_ONLY = {"SCHEDULER_JWT_SECRET", "SUPABASE_SERVICE_KEY", "SCHEDULER_AWS_ENDPOINT_URL",
              "SCHEDULER_DYNAMODB_ENDPOINT"} | set(getattr(settings_module, "LOCAL_ONLY_VARIABLES", ()))
# Set by the Lambda runtime itself.
LAMBDA_RUNTIME = {"AWS_REGION", "AWS_DEFAULT_REGION"}
# Read by Powertools rather than by Settings.
POWERTOOLS = {"POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}
# Values that name a resource of the stack, so the merged template sets them with Ref/Fn::Sub.
FROM_THE_STACK = {"SCHEDULER_JOBS_TABLE", "SCHEDULER_EXECUTIONS_TABLE", "SCHEDULER_ALERT_TOPIC_ARN",
                  "SCHEDULER_JWT_SECRET_ID", "SUPABASE_SERVICE_KEY_ID", "SUPABASE_URL",
                  "SCHEDULER_WORKER_FUNCTION", "SCHEDULER_METRICS_NAMESPACE", "POWERTOOLS_METRICS_NAMESPACE"}


class _Recording(dict):
    """An empty environment that remembers every variable asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key, default=None):  # type: ignore[no-untyped-def, override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:  # type: ignore[no-untyped-def, override]
        self.asked.add(key)
        return super().__contains__(key)


def variables_read_by_settings() -> set[str]:
    """The environment variable names the settings declaration lists (``SETTINGS_VARIABLES``,
    derived from each field's ``setting(...)``); ``Settings.from_env`` reads exactly these."""
    names = set(settings_module.SETTINGS_VARIABLES)
    env = _Recording()
    Settings.from_env(env)
    assert env.asked == names, "Settings.from_env reads variables its declaration does not list"
    return names
def required_when_deployed() -> set[str]:
    return (variables_read_by_settings() - LOCAL_ONLY - LAMBDA_RUNTIME) | POWERTOOLS


def test_the_list_of_variables_is_found() -> None:
    names = variables_read_by_settings()
    assert {"SCHEDULER_JOBS_TABLE", "SUPABASE_SERVICE_KEY_ID", "CERT_CHECK_CRON", "SCHEDULER_JWT_SECRET"} <= names


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_of_the_stage_gets_every_setting(packaged: dict[str, Packaged], stage: str) -> None:
    p = packaged[stage]
    ev = Evaluator(p.template, {"Stage": stage, **PARAMETERS},
                   resources={"RunExecution": f"nightly-scheduler-{stage}-run_execution"})
    for logical_id in FUNCTIONS:
        env = ev.resolve(p.resource(logical_id)["Properties"]["Environment"]["Variables"])
        missing = required_when_deployed() - set(env)
        assert not missing, f"{stage} {logical_id} lacks {sorted(missing)}"
        assert not LOCAL_ONLY & set(env), f"{stage} {logical_id} sets local-only {sorted(LOCAL_ONLY & set(env))}"
        settings = Settings.from_env({**env, "AWS_REGION": "eu-north-1"})
        assert settings.problems == ()  # every deployed value is well formed
        assert settings.local_mode is False
        assert settings.worker_mode == "lambda"
        assert settings.worker_function_name == f"nightly-scheduler-{stage}-run_execution"
        assert settings.metrics_namespace == env["POWERTOOLS_METRICS_NAMESPACE"] == f"NightlyScheduler/{stage}"


@pytest.mark.parametrize("stage", STAGES)
def test_config_json_sets_every_setting_the_stack_does_not(chalice_config: dict, stage: str) -> None:
    env = chalice_config["stages"][stage]["environment_variables"]
    missing = required_when_deployed() - FROM_THE_STACK - set(env)
    assert not missing, f"{stage}: config.json lacks {sorted(missing)}"
    assert not LOCAL_ONLY & set(env)
    assert env["SCHEDULER_LOCAL_MODE"] == "false"
    assert all(isinstance(v, str) for v in env.values()), "Lambda environment values are strings"


@pytest.mark.parametrize("stage", STAGES)
def test_config_json_names_what_the_stack_creates(chalice_config: dict, packaged: dict[str, Packaged], stage: str) -> None:
    """For `chalice deploy` (which cannot read the stack) the literal names in config.json must be
    the ones the template gives its resources for the same stage."""
    env = chalice_config["stages"][stage]["environment_variables"]
    p = packaged[stage]
    ev = Evaluator(p.template, {"Stage": stage, **PARAMETERS})
    resolved = {
        "SCHEDULER_JOBS_TABLE": ev.resolve(p.resource("JobsTable")["Properties"]["TableName"]),
        "SCHEDULER_EXECUTIONS_TABLE": ev.resolve(p.resource("ExecutionsTable")["Properties"]["TableName"]),
        "SCHEDULER_JWT_SECRET_ID": ev.resolve(p.resource("JwtSecret")["Properties"]["Name"]),
        "SUPABASE_SERVICE_KEY_ID": ev.resolve(p.resource("SupabaseServiceKeySecret")["Properties"]["Name"]),
        "SCHEDULER_WORKER_FUNCTION": ev.resolve(p.resource("RunExecution")["Properties"]["FunctionName"]),
        "SCHEDULER_METRICS_NAMESPACE": ev.resolve(
            p.resource("Dispatch")["Properties"]["Environment"]["Variables"]["SCHEDULER_METRICS_NAMESPACE"]),
    }
    assert {k: env[k] for k in resolved} == resolved
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == env["SCHEDULER_METRICS_NAMESPACE"]


def test_function_settings_per_stage(chalice_config: dict, packaged: dict[str, Packaged]) -> None:
    for stage in STAGES:
        functions = chalice_config["stages"][stage]["lambda_functions"]
        assert set(functions) == {"api_handler", "dispatch", "run_execution", "jwt_authorizer"}
        resources = packaged[stage].template["Resources"]
        timeouts = {k: resources[k]["Properties"]["Timeout"] for k in FUNCTIONS}
        # The dispatcher finishes before the next minute's tick; the worker may run a 900 s job.
        assert timeouts["Dispatch"] < 60 and timeouts["RunExecution"] == 900
        assert timeouts["APIHandler"] <= 29  # API Gateway's integration limit
        assert timeouts["JwtAuthorizer"] <= 10


def test_the_worker_timeout_setting_is_the_worker_lambdas_timeout(chalice_config: dict) -> None:
    """timeoutSeconds is capped from it: a run must be recorded timed_out before Lambda stops it."""
    for stage in STAGES:
        config = chalice_config["stages"][stage]
        assert int(config["environment_variables"]["SCHEDULER_WORKER_TIMEOUT_SECONDS"]) == \
            config["lambda_functions"]["run_execution"]["lambda_timeout"]
