"""A job reads only its own secrets: the jobs' namespace, the confined resolver, and the
scrubbing of whatever it resolved from the run's result, error and log lines."""
from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.run_logging import RunFieldsFilter
from chalicelib.bootstrap import build_job_secret_resolver, install_handlers
from chalicelib.core.errors import SecretUnavailable
from chalicelib.core.model import ExecutionStatus
from chalicelib.jobs.http_request import HttpRequestHandler, make_http_request_validator
from chalicelib.jobs.job_secrets import JobSecretNamespace, JobSecretResolver, SecretRefRefused
from chalicelib.jobs.registry import JobRegistry
from chalicelib.settings import Settings
from tests.fakes import Harness, utc
from tests.unit.test_http_request import json_reply, start_server

REGION = "eu-north-1"
DEV = "nightly-scheduler/dev/jobs/"
JOB_SECRET = "job-secret-Value-71c3"
OWN_SECRET = "scheduler-own-jwt-secret-2b9a"
ACCOUNT_ARN = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)
        arn = sm.create_secret(Name=f"{DEV}slack/mentor-team", SecretString=JOB_SECRET)["ARN"]
        ssm.put_parameter(Name=f"/{DEV}edge/token", Value=JOB_SECRET, Type="SecureString")
        for own in ("nightly-scheduler/dev/jwt-secret", "nightly-scheduler/dev/supabase-service-key",
                    "nightly-scheduler/prod/jobs/slack/mentor-team", "slack/mentor-team"):
            sm.create_secret(Name=own, SecretString=OWN_SECRET)
        ssm.put_parameter(Name="/nightly-scheduler/dev/jwt-secret", Value=OWN_SECRET, Type="SecureString")
        yield arn


def dev_settings() -> Settings:
    return Settings.from_env({"SCHEDULER_JOB_SECRETS_PREFIX": DEV, "AWS_REGION": REGION})


# --------------------------------------------------------------------------- item 1: the namespace


def test_the_stage_settings_name_the_jobs_namespace() -> None:
    assert dev_settings().job_secrets_prefix == DEV
    assert Settings.from_env({}).job_secrets_prefix == "nightly-scheduler/local/jobs/"
    assert [p.field for p in Settings.from_env({"SCHEDULER_JOB_SECRETS_PREFIX": "no-slash"}).problems] == [
        "SCHEDULER_JOB_SECRETS_PREFIX"]


def test_relative_names_resolve_inside_the_jobs_namespace_and_absolute_ones_inside_it_as_they_are(aws) -> None:
    resolve = build_job_secret_resolver(dev_settings())
    for ref in ("slack/mentor-team", "ssm:edge/token", f"{DEV}slack/mentor-team", f"ssm:/{DEV}edge/token", aws):
        assert resolve(ref) == JOB_SECRET, ref


@pytest.mark.parametrize("ref", [
    "nightly-scheduler/dev/jwt-secret",
    "nightly-scheduler/dev/supabase-service-key",
    "nightly-scheduler/prod/jobs/slack/mentor-team",  # another stage's
    "ssm:/aws/service/global-infrastructure/regions/eu-north-1/longName",
    "ssm:/nightly-scheduler/dev/jwt-secret",
    f"{ACCOUNT_ARN}nightly-scheduler/dev/jwt-secret-AbCdEf",
    f"{DEV}../jwt-secret",
    "/slack/mentor-team",
    "ssm:nightly-scheduler/dev/jwt-secret",
])
def test_the_job_resolver_refuses_anything_outside_the_namespace_before_reading_it(aws, ref: str) -> None:
    read: list[str] = []

    def reader(secret_id: str) -> str:
        read.append(secret_id)
        return OWN_SECRET

    for resolve in (build_job_secret_resolver(dev_settings()), JobSecretResolver(JobSecretNamespace(DEV), reader)):
        with pytest.raises(SecretRefRefused) as refused:
            resolve(ref)
        assert refused.value.retryable is False and DEV in str(refused.value)
        assert OWN_SECRET not in str(refused.value)
    assert read == []


def test_a_relative_name_is_never_read_outside_the_namespace(aws) -> None:
    # "slack/mentor-team" exists at the root too: the job gets the one in its namespace.
    read: list[str] = []
    resolve = JobSecretResolver(JobSecretNamespace(DEV), lambda secret_id: read.append(secret_id) or JOB_SECRET)
    resolve("slack/mentor-team")
    resolve("ssm:edge/token")
    assert read == [f"{DEV}slack/mentor-team", f"ssm:/{DEV}edge/token"]


def test_registration_refuses_a_secret_ref_outside_the_namespace_naming_the_field() -> None:
    registry = JobRegistry()
    install_handlers(registry, dev_settings(), resolve_secret=lambda _id: "")
    validate = registry.get("http-request").validate_payload
    base = {"url": "http://127.0.0.1:9/hook"}
    ok = {**base, "headers": {"Authorization": {"secretRef": "edge/key", "format": "Bearer {secret}"},
                              "apikey": {"secretRef": "ssm:edge/token"}}}
    assert [e.field for e in validate(ok) if "secretRef" in e.field] == []
    for ref in ("nightly-scheduler/dev/supabase-service-key", "nightly-scheduler/prod/jwt-secret",
                "ssm:/aws/service/global-infrastructure/regions"):
        errors = validate({**base, "headers": {"Authorization": {"secretRef": ref}}})
        assert [(e.field, DEV in e.message) for e in errors if "secretRef" in e.field] == [
            ("payload.headers.Authorization.secretRef", True)], ref
        body_errors = validate({**base, "body": {"auth": {"client_secret": {"secretRef": ref}}}})
        assert [e.field for e in body_errors if "secretRef" in e.field] == ["payload.body.auth.client_secret.secretRef"]


def test_a_job_stored_before_the_fix_fails_permanently_at_run_time_without_calling_out() -> None:
    srv = start_server({"/hook": json_reply(200, {"ok": True})})
    try:
        h = Harness(utc(2026, 11, 28, 20, 0))
        read: list[str] = []
        handler = HttpRequestHandler(allowed_hosts=(), local_mode=True, resolve_secret=JobSecretResolver(
            JobSecretNamespace(DEV), lambda secret_id: read.append(secret_id) or OWN_SECRET))
        # The validator of before the fix: no namespace, so the definition was stored.
        h.registry.add("http-request", handler, validate_payload=make_http_request_validator((), True))
        h.service.register_job("old-job", "0 2 * * *", "http-request", payload={
            "url": srv.url("/hook"), "headers": {"apikey": {"secretRef": "nightly-scheduler/dev/supabase-service-key"}}})
        h.service.trigger_job("old-job")
    finally:
        srv.stop()
    [execution] = h.executions("old-job")
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error.retryable is False
    assert "outside the jobs' namespace" in execution.error.message and DEV in execution.error.message
    assert read == [] and srv.requests == []


def test_the_job_resolver_is_not_the_schedulers_own() -> None:
    """The code that runs a job's request holds only the confined resolver."""
    registry = JobRegistry()
    own: list[str] = []
    install_handlers(registry, dev_settings(), resolve_secret=lambda secret_id: own.append(secret_id) or OWN_SECRET)
    handler = registry.get("http-request").fn
    resolver = handler._resolve_secret
    assert isinstance(resolver, JobSecretResolver) and resolver.namespace == JobSecretNamespace(DEV, region=REGION)
    with pytest.raises(SecretUnavailable):
        resolver("nightly-scheduler/dev/jwt-secret")
    assert own == []


# --------------------------------------------------------------------------- item 2: scrubbed on the way out


def encodings(secret: str) -> dict[str, str]:
    return {
        "exact": secret,
        "json-escaped": json.dumps(secret)[1:-1],
        "upper": secret.upper(),
        "lower": secret.lower(),
        "percent": quote(secret, safe=""),
        "percent-lower": quote(secret, safe="").lower(),
        "base64": base64.b64encode(secret.encode()).decode(),
        "base64url": base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
        "basic-auth": base64.b64encode(f"user:{secret}".encode()).decode(),
        "reversed": secret[::-1],
    }


LEAKY_SECRET = 'pa$$ w/rd+"9f8e7d'


def leaky_job(resolve: JobSecretResolver):
    """A job type that resolves a secret and lets it out in every way (as a careless one might)."""

    def run(ctx):
        secret = resolve("edge/key")
        forms = encodings(secret)
        for name, form in forms.items():
            ctx.logger.info("leaking %s: %s", name, form)
        if ctx.payload.get("fail"):
            raise RuntimeError(" ".join(forms.values()))
        return {"forms": forms, **{form: name for name, form in forms.items()}}

    return run


def run_leaky(fail: bool) -> tuple[Harness, object]:
    from chalicelib.core import run_log

    run_log.install()
    h = Harness(utc(2026, 11, 28, 20, 0))
    h.registry.add("leaky", leaky_job(JobSecretResolver(JobSecretNamespace(DEV), lambda secret_id: LEAKY_SECRET)))
    h.service.register_job("leaky", "0 2 * * *", "leaky", payload={"fail": fail})
    h.service.trigger_job("leaky")
    [execution] = h.executions("leaky")
    assert execution.status is (ExecutionStatus.FAILED if fail else ExecutionStatus.SUCCEEDED)
    return h, execution


@pytest.mark.parametrize("fail", [False, True])
def test_the_worker_scrubs_every_resolved_secret_from_result_error_and_log_lines(caplog, fail: bool) -> None:
    caplog.set_level(logging.INFO)
    _, execution = run_leaky(fail)
    stored = json.dumps({"result": execution.result, "error": execution.error and execution.error.message,
                         "logs": [line.message for line in execution.logs]}, ensure_ascii=False)
    assert len(execution.logs) >= len(encodings(LEAKY_SECRET))
    for name, form in encodings(LEAKY_SECRET).items():
        assert form.lower() not in stored.lower(), name


def test_log_lines_written_during_a_run_are_scrubbed_before_they_reach_cloudwatch(caplog) -> None:
    caplog.set_level(logging.INFO)
    written: list[str] = []

    class CloudWatch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            written.append(self.format(record))

    handler = CloudWatch(level=logging.INFO)
    handler.addFilter(RunFieldsFilter())  # as chalicelib.api.gateway installs it on the handlers of the "chalicelib" logger
    logging.getLogger("chalicelib").addHandler(handler)
    try:
        run_leaky(fail=True)
    finally:
        logging.getLogger("chalicelib").removeHandler(handler)
    text = "\n".join(written)
    assert "leaking base64" in text
    for name, form in encodings(LEAKY_SECRET).items():
        assert form.lower() not in text.lower(), name


@pytest.mark.parametrize("ref", [
    f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{DEV}slack/mentor-team-AbCdEf",  # another region
    f"arn:aws-cn:secretsmanager:{REGION}:123456789012:secret:{DEV}slack/mentor-team-AbCdEf",  # another partition
    f"arn:aws-us-gov:secretsmanager:{REGION}:123456789012:secret:{DEV}x-AbCdEf",
])
def test_an_arn_outside_the_stacks_partition_or_region_is_refused_at_registration_and_run(aws, ref: str) -> None:
    resolve = build_job_secret_resolver(dev_settings())
    assert "partition" in (resolve.namespace.problem(ref) or "")
    with pytest.raises(SecretRefRefused):
        resolve(ref)
    registry = JobRegistry()
    install_handlers(registry, dev_settings(), resolve_secret=lambda _id: "")
    errors = registry.get("http-request").validate_payload(
        {"url": "http://127.0.0.1:9/hook", "headers": {"X-Api-Key": {"secretRef": ref}}})
    assert [e.field for e in errors] == ["payload.headers.X-Api-Key.secretRef"]


def test_an_arn_of_another_account_is_refused_when_the_account_is_known() -> None:
    namespace = JobSecretNamespace(DEV, region=REGION, account="123456789012")
    assert namespace.problem(f"{ACCOUNT_ARN}{DEV}x-AbCdEf") is None
    assert "account" in (namespace.problem(f"arn:aws:secretsmanager:{REGION}:999999999999:secret:{DEV}x-AbCdEf") or "")
