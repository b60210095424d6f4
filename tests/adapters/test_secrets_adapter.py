"""Secrets by id from Secrets Manager or SSM (moto), cached, never logged."""
from __future__ import annotations

import logging

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.secrets import SecretResolver, SecretUnavailable

REGION = "eu-north-1"
VALUE = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2VjcmV0LXZhbHVl"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


class CountingClient:
    """Wraps a boto3 client and counts calls (to see the cache work)."""

    def __init__(self, client):
        self._client = client
        self.calls = 0

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def call(**kwargs):
            self.calls += 1
            return method(**kwargs)

        return call


def test_a_secrets_manager_secret_is_read_once_and_cached(aws, caplog):
    sm = boto3.client("secretsmanager", region_name=REGION)
    arn = sm.create_secret(Name="scheduler/supabase-service-key", SecretString=VALUE + "\n")["ARN"]
    counting = CountingClient(sm)
    resolver = SecretResolver(secretsmanager=counting)
    # Our loggers only: botocore's own DEBUG log prints response bodies (never enable it in production).
    caplog.set_level(logging.DEBUG, logger="chalicelib")

    assert resolver.get("scheduler/supabase-service-key") == VALUE
    assert resolver.get("scheduler/supabase-service-key") == VALUE
    assert resolver.get(arn) == VALUE

    assert counting.calls == 2  # the name once, the ARN once
    ours = [r for r in caplog.records if r.name.startswith("chalicelib")]
    assert ours and all(VALUE not in r.getMessage() and VALUE not in str(r.__dict__) for r in ours)


def test_an_ssm_parameter_is_read_decrypted(aws):
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/scheduler/supabase-service-key", Value=VALUE, Type="SecureString")

    assert SecretResolver(ssm=ssm).get("ssm:/scheduler/supabase-service-key") == VALUE


def test_clients_are_built_lazily_when_none_is_given(aws):
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/p", Value="v4lue-xyz", Type="SecureString")
    resolver = SecretResolver(region=REGION)

    assert resolver._ssm is None and resolver._secretsmanager is None
    assert resolver.get("ssm:/p") == "v4lue-xyz"
    assert resolver._ssm is not None and resolver._secretsmanager is None


def test_a_missing_secret_names_the_id_and_the_aws_error(aws):
    resolver = SecretResolver(region=REGION)

    with pytest.raises(SecretUnavailable, match="'nope'.*ResourceNotFoundException"):
        resolver.get("nope")
    with pytest.raises(SecretUnavailable, match="'/nope'.*ParameterNotFound"):
        resolver.get("ssm:/nope")


def test_an_empty_id_is_refused():
    with pytest.raises(SecretUnavailable, match="No secret id"):
        SecretResolver().get("")
