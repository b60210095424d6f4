"""The jobs' secret namespace: where a job's ``secretRef`` may point, and the resolver confined to it.

A job names its secrets relative to the namespace, so a definition carries no stage and
moves between stages unchanged. With the namespace ``nightly-scheduler/dev/jobs/``:

* ``slack/mentor-team`` reads the Secrets Manager secret ``nightly-scheduler/dev/jobs/slack/mentor-team``;
* ``ssm:edge/token`` reads the SSM parameter ``/nightly-scheduler/dev/jobs/edge/token``;
* an absolute id inside the namespace is read as it is: ``nightly-scheduler/dev/jobs/slack/mentor-team``,
  ``ssm:/nightly-scheduler/dev/jobs/edge/token``, or a Secrets Manager ARN whose name starts so,
  in the stack's own partition (``aws``), region and, when known, account (the region is
  always known, from ``AWS_REGION``; the account is not known offline, so an ARN of another
  account in the stack's region passes this check and is left to the worker's role);
* anything else is refused: the scheduler's own secrets (``nightly-scheduler/dev/jwt-secret``),
  another stage's, any other secret or parameter (``ssm:/aws/service/...``, another ARN).

Every job type that reads secrets takes a :class:`JobSecretResolver` (built once by
``chalicelib.bootstrap`` from ``Settings.job_secrets_prefix``, with its own reader and
cache) and never the scheduler's own resolver.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from chalicelib.core.errors import SecretUnavailable
from chalicelib.core.redaction import remember_secret

SSM_PREFIX = "ssm:"


DEFAULT_JOB_SECRETS_PREFIX = "nightly-scheduler/local/jobs/"


_SECRETS_MANAGER_SEGMENT = re.compile(r"[A-Za-z0-9_+=.@-]+")


_SSM_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")


_SECRET_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):secret:(?P<name>.+)")


PARTITION = "aws"
"""The stack's partition: its policies name ``arn:aws:`` resources only."""


_MAX_SECRETS_MANAGER_NAME = 512


_MAX_SSM_NAME = 2048


class SecretRefRefused(SecretUnavailable):
    """A ``secretRef`` outside the jobs' namespace, or not a secret name at all. Permanent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def _segments_ok(path: str, segment: re.Pattern[str]) -> bool:
    parts = path.split("/")
    return all(segment.fullmatch(p) and p not in (".", "..") for p in parts)


def prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot be the jobs' namespace (None when it can)."""
    if not prefix.endswith("/") or not _segments_ok(prefix[:-1], _SSM_SEGMENT):
        return ("must be a secret name prefix ending in '/', of letters, digits and _ . - between the slashes, "
                "e.g. nightly-scheduler/prod/jobs/")
    return None


@dataclass(frozen=True)
class JobSecretNamespace:
    """The prefix under which a stage's job secrets live (``nightly-scheduler/<stage>/jobs/``);
    ``region`` and ``account`` (None: not known) bound the ARNs a reference may give."""

    prefix: str = DEFAULT_JOB_SECRETS_PREFIX
    region: str | None = None
    account: str | None = None

    def __post_init__(self) -> None:
        problem = prefix_problem(self.prefix)
        if problem is not None:
            raise ValueError(f"job secrets prefix {self.prefix!r} {problem}")

    @property
    def ssm_prefix(self) -> str:
        return "/" + self.prefix

    def describe(self) -> str:
        return (f"a name relative to the jobs' namespace (slack/team reads {self.prefix}slack/team in Secrets "
                f"Manager, ssm:edge/token reads {self.ssm_prefix}edge/token in SSM), or an id inside it")

    def locate(self, ref: object) -> str:
        """The id to read for ``ref``: a Secrets Manager name or ARN, or ``ssm:/<parameter>``.

        Raises :class:`SecretRefRefused` for anything outside the namespace.
        """
        problem, located = self._locate(ref)
        if located is None:
            raise SecretRefRefused(f"secretRef {ref!r} is refused: {problem}")
        return located

    def problem(self, ref: object) -> str | None:
        """Why ``ref`` may not be a job's ``secretRef`` (None when it may)."""
        return self._locate(ref)[0]

    def _is_rooted(self, name: str) -> bool:
        """An absolute name elsewhere under the application's root: the scheduler's own secrets,
        another stage's. Refused rather than read as a (surprising) name inside the namespace."""
        return name.split("/", 1)[0] == self.prefix.split("/", 1)[0]

    def _locate(self, ref: object) -> tuple[str | None, str | None]:
        if not isinstance(ref, str) or not ref or len(ref) > _MAX_SSM_NAME or re.search(r"[\s\x00-\x1f\x7f]", ref):
            return f"must be {self.describe()}", None
        outside = (f"names a secret outside the jobs' namespace ({self.prefix}); jobs may read only "
                   f"their own secrets: give {self.describe()}")
        if ref.startswith(SSM_PREFIX):
            name = ref[len(SSM_PREFIX):]
            if name.startswith(self.ssm_prefix):
                name = name[len(self.ssm_prefix):]
            elif name.startswith("/") or self._is_rooted(name):
                return outside, None
            located = self.ssm_prefix + name
            if not name or not _segments_ok(name, _SSM_SEGMENT) or len(located) > _MAX_SSM_NAME:
                return f"must be {self.describe()}; SSM names use letters, digits and _ . -", None
            return None, SSM_PREFIX + located
        if ref.startswith("arn:"):
            match = _SECRET_ARN.fullmatch(ref)
            name = match.group("name") if match else ""
            if match is not None and (match["partition"] != PARTITION or match["region"] != (self.region or match["region"])
                                      or match["account"] != (self.account or match["account"])):
                return (f"is a Secrets Manager ARN outside this stack's partition ({PARTITION}), region "
                        f"({self.region or 'any'}) or account ({self.account or 'any'}); give {self.describe()}"), None
            if not name.startswith(self.prefix) or not _segments_ok(name[len(self.prefix):], _SECRETS_MANAGER_SEGMENT):
                return outside, None
            return None, ref
        if ref.startswith(self.prefix):
            name = ref[len(self.prefix):]
        elif ref.startswith("/") or self._is_rooted(ref):
            return outside, None
        else:
            name = ref
        located = self.prefix + name
        if not name or not _segments_ok(name, _SECRETS_MANAGER_SEGMENT) or len(located) > _MAX_SECRETS_MANAGER_NAME:
            return f"must be {self.describe()}; Secrets Manager names use letters, digits and _ + = . @ -", None
        return None, located


class JobSecretResolver:
    """Reads a job's secrets, inside :attr:`namespace` only: ``resolve(ref) -> value``.

    ``read`` reads a located id (``chalicelib.adapters.secrets.SecretResolver.get``); give
    it a reader of its own, not the one that holds the scheduler's own secrets. Each value
    returned is added to the run in progress (``remember_secret``), so the worker scrubs it
    from the run's result, error and log lines whichever job type asked for it. A refused
    reference raises :class:`SecretRefRefused` (permanent) before anything is read.
    """

    def __init__(self, namespace: JobSecretNamespace, read: Callable[[str], str]) -> None:
        self.namespace = namespace
        self._read = read

    def __call__(self, ref: str) -> str:
        value = self._read(self.namespace.locate(ref))
        remember_secret(value)
        return value
