"""make run's local secrets: loaded where a secretRef of that name resolves, never deployed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.secrets import SecretResolver
from chalicelib.jobs.job_secrets import JobSecretNamespace, JobSecretResolver
from devstack.local_secrets import LocalSecretsRefused, load_local_secrets

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = JobSecretNamespace("nightly-scheduler/local/jobs/")


@pytest.fixture
def aws(monkeypatch):
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        import boto3

        yield boto3.client("secretsmanager", region_name="eu-north-1"), boto3.client("ssm", region_name="eu-north-1")


def test_local_secrets_resolve_as_a_secret_ref_names_them(aws, tmp_path) -> None:
    secretsmanager, ssm = aws
    file = tmp_path / "secrets.json"
    file.write_text(json.dumps({"slack/mentor-team": "https://hooks.slack.com/services/T/B/from-file",
                                "ssm:edge/token": "edge-token-1"}))
    env = {"SCHEDULER_LOCAL_SECRETS_FILE": str(file),
           "SCHEDULER_LOCAL_SECRETS": json.dumps({"webhooks/pager": "whsec-local",
                                                  "slack/mentor-team": "https://hooks.slack.com/services/T/B/env"})}
    written = load_local_secrets(env, NAMESPACE, secretsmanager=secretsmanager, ssm=ssm)
    assert written == ["nightly-scheduler/local/jobs/slack/mentor-team", "ssm:/nightly-scheduler/local/jobs/edge/token",
                       "nightly-scheduler/local/jobs/webhooks/pager"]
    resolve = JobSecretResolver(NAMESPACE, SecretResolver(secretsmanager=secretsmanager, ssm=ssm).get)
    assert resolve("slack/mentor-team") == "https://hooks.slack.com/services/T/B/env"  # the variable wins
    assert resolve("ssm:edge/token") == "edge-token-1"
    assert resolve("webhooks/pager") == "whsec-local"
    load_local_secrets({"SCHEDULER_LOCAL_SECRETS": '{"webhooks/pager": "rotated"}'}, NAMESPACE,
                       secretsmanager=secretsmanager, ssm=ssm)  # a second start overwrites
    assert SecretResolver(secretsmanager=secretsmanager).get("nightly-scheduler/local/jobs/webhooks/pager") == "rotated"


@pytest.mark.parametrize("env", [
    {"SCHEDULER_LOCAL_SECRETS": '{"nightly-scheduler/local/jwt-secret": "x"}'},
    {"SCHEDULER_LOCAL_SECRETS": '["slack/team"]'},
    {"SCHEDULER_LOCAL_SECRETS": '{"slack/team": ""}'},
    {"SCHEDULER_LOCAL_SECRETS": "not json"},
    {"SCHEDULER_LOCAL_SECRETS_FILE": "/nonexistent/secrets.json"},
])
def test_bad_local_secrets_are_refused_without_echoing_a_value(aws, env) -> None:
    secretsmanager, ssm = aws
    with pytest.raises(LocalSecretsRefused) as refused:
        load_local_secrets(env, NAMESPACE, secretsmanager=secretsmanager, ssm=ssm)
    assert "SCHEDULER_LOCAL_SECRETS" in str(refused.value)
    assert secretsmanager.list_secrets()["SecretList"] == []


def test_nothing_deployed_sets_the_local_secrets() -> None:
    for path in ("infra/template.json", ".chalice/config.json"):
        text = (ROOT / path).read_text()
        assert "SCHEDULER_LOCAL_SECRETS" not in text, path
