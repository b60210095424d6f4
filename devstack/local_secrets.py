"""``make run``'s job secrets: loaded into the in-process Secrets Manager and SSM at start.

``SCHEDULER_LOCAL_SECRETS`` is a JSON object of name → value, the names as jobs and
channels write them in ``secretRef`` (relative to the jobs' namespace: ``slack/team``,
``ssm:edge/token``); ``SCHEDULER_LOCAL_SECRETS_FILE`` is the path of a file holding such an
object. Both may be set (the variable wins for a name in both). Local only: the deployed
stack never reads either (``tests/infra`` checks that nothing deployed sets them).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from chalicelib.jobs.job_secrets import SSM_PREFIX, JobSecretNamespace

VARIABLE = "SCHEDULER_LOCAL_SECRETS"
FILE_VARIABLE = "SCHEDULER_LOCAL_SECRETS_FILE"


class LocalSecretsRefused(ValueError):
    """The local secrets cannot be loaded; the message says which variable and why (never a value)."""


def read_local_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """The name → value pairs of the file and the variable (none when neither is set)."""
    found: dict[str, str] = {}
    path = env.get(FILE_VARIABLE, "").strip()
    if path:
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise LocalSecretsRefused(f"{FILE_VARIABLE}: cannot read {path}: {exc.strerror}") from None
        found.update(_parse(text, f"{FILE_VARIABLE} ({path})"))
    if env.get(VARIABLE, "").strip():
        found.update(_parse(env[VARIABLE], VARIABLE))
    return found


def _parse(text: str, where: str) -> dict[str, str]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LocalSecretsRefused(f"{where} is not JSON ({exc.msg} at line {exc.lineno}); expected an object "
                                  'of name → value, e.g. {"slack/mentor-team": "https://hooks.slack.com/..."}') from None
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise LocalSecretsRefused(f"{where} must be a JSON object of name → non-empty string value")
    return dict(data)


def load_local_secrets(env: Mapping[str, str], namespace: JobSecretNamespace, *, secretsmanager: Any,
                       ssm: Any) -> list[str]:
    """Put each secret where a ``secretRef`` of that name resolves; returns the ids written.

    A name outside the jobs' namespace is refused, as a job's ``secretRef`` would be.
    """
    written: list[str] = []
    for name, value in sorted(read_local_secrets(env).items()):
        problem = namespace.problem(name)
        located = namespace.locate(name) if problem is None else ""
        if problem is not None or located.startswith("arn:"):
            raise LocalSecretsRefused(f"{VARIABLE}: name {name!r} {problem or 'must be a name, not an ARN'}")
        if located.startswith(SSM_PREFIX):
            ssm.put_parameter(Name=located[len(SSM_PREFIX):], Value=value, Type="SecureString", Overwrite=True)
        else:
            try:
                secretsmanager.create_secret(Name=located, SecretString=value)
            except secretsmanager.exceptions.ResourceExistsException:
                secretsmanager.put_secret_value(SecretId=located, SecretString=value)
        written.append(located)
    return written
