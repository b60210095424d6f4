"""`make deploy`'s AWS CLI commands, read with `make -n` (they cannot run here).

CloudFormation refuses a template over 51,200 bytes sent inline: `cloudformation deploy`
must then be given `--s3-bucket`, or no stack is ever created after the code was uploaded.
"""
from __future__ import annotations

import shlex
import subprocess

import pytest
import yaml

from .conftest import ROOT, STAGES, Packaged

pytestmark = pytest.mark.timeout(900)

INLINE_TEMPLATE_LIMIT = 51_200  # bytes: CloudFormation's TemplateBody limit


def deploy_commands(**variables: str) -> list[list[str]]:
    """The `aws` commands of `make deploy`, each as argv (the leading VAR=value words kept)."""
    args = ["make", "-n", "--no-print-directory", "deploy", "STAMP=", *(f"{k}={v}" for k, v in variables.items())]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    commands = [shlex.split(line) for line in result.stdout.replace("\\\n", " ").splitlines() if line.strip()]
    return [c for c in commands if "aws" in c]


def aws_call(commands: list[list[str]], service: str, verb: str) -> list[str]:
    matches = [c for c in commands if service in c and verb in c]
    assert len(matches) == 1, (service, verb, commands)
    return matches[0]


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


VARIABLES = {"STAGE": "prod", "DEPLOY_BUCKET": "artifacts-eu-west-1", "SUPABASE_URL": "https://abcd.supabase.co/",
             "AWS_REGION": "eu-west-1"}


@pytest.mark.parametrize("stage", STAGES)
def test_an_over_limit_template_is_never_sent_inline(packaged: dict[str, Packaged], stage: str) -> None:
    # `aws cloudformation package` writes YAML; measure the template in that form.
    size = len(yaml.safe_dump(packaged[stage].template, sort_keys=False).encode())
    deploy = aws_call(deploy_commands(**{**VARIABLES, "STAGE": stage}), "cloudformation", "deploy")
    if option(deploy, "--s3-bucket") is None:
        assert size <= INLINE_TEMPLATE_LIMIT, f"{stage}: a {size}-byte template would be sent inline"
    else:
        assert option(deploy, "--s3-bucket") == "artifacts-eu-west-1"
        assert option(deploy, "--s3-prefix") == "nightly-scheduler/" + stage


def test_every_aws_command_names_the_region() -> None:
    commands = deploy_commands(**VARIABLES)
    assert len(commands) == 3
    assert all(option(c, "--region") == "eu-west-1" for c in commands), commands


def test_the_supabase_url_loses_a_trailing_slash() -> None:
    deploy = aws_call(deploy_commands(**VARIABLES), "cloudformation", "deploy")
    assert "SupabaseUrl=https://abcd.supabase.co" in deploy


def test_the_final_describe_does_not_wait_for_a_pager() -> None:
    describe = aws_call(deploy_commands(**VARIABLES), "cloudformation", "describe-stacks")
    assert describe[0] == "AWS_PAGER="


@pytest.mark.parametrize("missing", ["DEPLOY_BUCKET", "SUPABASE_URL"])
def test_a_missing_required_variable_stops_before_any_aws_call(missing: str) -> None:
    variables = {k: v for k, v in VARIABLES.items() if k != missing}
    args = ["make", "--no-print-directory", "deploy", "STAMP=", *(f"{k}={v}" for k, v in variables.items())]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and f"{missing}=" in result.stderr
