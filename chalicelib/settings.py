"""Every setting the scheduler reads, in one frozen object read from the environment once.

Each field declares its variable once (:func:`~chalicelib.declared_settings.setting`): name,
type (its parser), default, accepted range or check, and where it is set. From that one
declaration :meth:`Settings.from_env` reads the values and the problems ``GET /health``
reports, and :data:`SETTINGS_VARIABLES` lists what ``tests/infra/test_settings_per_stage.py``
checks each deployed stage sets. The table in README.md ("Configuration") lists each with
its default. The certification job's ``CERT_CHECK_*`` live with that job
(:mod:`chalicelib.jobs.certification.settings`) and are read by the same loop.
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping
from urllib.parse import urlsplit

from chalicelib.core.definitions import timeout_cap
from chalicelib.core.errors import FieldError
from chalicelib.declared_settings import (
    Stage,
    Values,
    decimal,
    flag,
    group,
    read,
    setting,
    stripped,
    variable_names,
    variables,
    whole,
    words,
)
from chalicelib.jobs.certification.settings import CertificationSettings
from chalicelib.jobs.job_secrets import DEFAULT_JOB_SECRETS_PREFIX, prefix_problem

LOCAL = Stage.LOCAL_ONLY
RUNTIME = Stage.RUNTIME


def jwks_url_problem(url: str, *, local_mode: bool) -> str | None:
    """Why ``url`` may not be used (None when it may): https, or loopback http locally."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and local_mode and parts.hostname:
        host = parts.hostname
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return None
    return "must be an https URL (or, in local mode, http on a loopback address)"


_PROJECT_URL = re.compile(r"https://([a-z0-9]{20})\.supabase\.co/?", re.ASCII)


def project_ref_for(supabase_url: str) -> str | None:
    """The project ref in ``https://<ref>.supabase.co`` (None for a custom domain or a local URL)."""
    match = _PROJECT_URL.fullmatch(supabase_url or "")
    return match.group(1) if match else None


def _derived_jwks_url(values: Values) -> str:
    """``{SUPABASE_URL}/auth/v1/.well-known/jwks.json`` when usable; else none, silently."""
    derived = f"{values['supabase_url']}/auth/v1/.well-known/jwks.json" if values["supabase_url"] else ""
    return derived if derived and jwks_url_problem(derived, local_mode=values["local_mode"]) is None else ""


def _lower_words(raw: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in words(raw))


def _one_of(*choices: str) -> Callable[[str, Values], str | None]:
    def check(value: str, _values: Values) -> str | None:
        return None if value in choices else f"must be {', '.join(choices[:-1])} or {choices[-1]}"
    return check


@dataclass(frozen=True)
class Settings:
    # --- storage (DynamoDB) -----------------------------------------------------------------
    jobs_table: str = setting("SCHEDULER_JOBS_TABLE", "scheduler-jobs")
    executions_table: str = setting("SCHEDULER_EXECUTIONS_TABLE", "scheduler-executions")
    aws_region: str = setting("AWS_REGION", "eu-north-1", fallback=("AWS_DEFAULT_REGION",), stage=RUNTIME)
    # every AWS client goes there: the local stack and tests only
    aws_endpoint_url: str | None = setting("SCHEDULER_AWS_ENDPOINT_URL", None, stage=LOCAL)
    execution_retention_days: int = setting("SCHEDULER_EXECUTION_RETENTION_DAYS", 90, parse=whole, low=1)
    due_shards: int = setting("SCHEDULER_DUE_SHARDS", 8, parse=whole, low=1, high=64)  # write shards of the due index
    # while lowering due_shards: the old count, still read
    due_shards_previous: int = setting("SCHEDULER_DUE_SHARDS_PREVIOUS", 0, parse=whole, low=0, high=64)

    # --- dispatch and workers ---------------------------------------------------------------
    lease_margin_seconds: int = setting("SCHEDULER_LEASE_MARGIN_SECONDS", 60, parse=whole, low=1)
    dispatch_batch: int = setting("SCHEDULER_DISPATCH_BATCH", 200, parse=whole, low=1, high=1000)
    # the run_execution Lambda's timeout (.chalice/config.json)
    worker_timeout_seconds: int = setting("SCHEDULER_WORKER_TIMEOUT_SECONDS", 900, parse=whole, low=60, high=900)
    # claims and hand-offs in flight at once in one tick
    dispatch_concurrency: int = setting("SCHEDULER_DISPATCH_CONCURRENCY", 16, parse=whole, low=1, high=64)
    # manual triggers one caller may make a minute; more are a 429
    trigger_budget_per_minute: int = setting("SCHEDULER_TRIGGER_BUDGET_PER_MINUTE", 30, parse=whole, low=1,
                                             high=10_000)
    worker_function_name: str = setting("SCHEDULER_WORKER_FUNCTION", "")
    # lambda (AWS) | thread (local stack) | inline (tests)
    worker_mode: str = setting("SCHEDULER_WORKER_MODE", "lambda", check=_one_of("lambda", "thread", "inline"))
    # thread mode: runs at once; more wait their turn, as Lambda queues them
    local_worker_concurrency: int = setting("SCHEDULER_LOCAL_WORKER_CONCURRENCY", 32, parse=whole, low=1, high=256,
                                            stage=LOCAL)
    local_mode: bool = setting("SCHEDULER_LOCAL_MODE", False, parse=flag)

    # --- notices and metrics ----------------------------------------------------------------
    alert_topic_arn: str = setting("SCHEDULER_ALERT_TOPIC_ARN", "")
    # the console's address, linked from Slack notices
    console_url: str = setting("SCHEDULER_CONSOLE_URL", "", parse=stripped)
    metrics_namespace: str = setting("SCHEDULER_METRICS_NAMESPACE", "NightlyScheduler")
    service_name: str = setting("POWERTOOLS_SERVICE_NAME", "nightly-scheduler")

    # --- API authentication -----------------------------------------------------------------
    jwt_secret: str = setting("SCHEDULER_JWT_SECRET", "", stage=LOCAL, secret=True)  # deployed: jwt_secret_id
    # Secrets Manager name/ARN or SSM parameter (prefix "ssm:")
    jwt_secret_id: str = setting("SCHEDULER_JWT_SECRET_ID", "")
    admin_roles: tuple[str, ...] = setting("SCHEDULER_ADMIN_ROLES", ("admin",), parse=words)
    # optional: more sb_secret_ keys the API accepts (JSON list or one per line)
    api_keys_secret_id: str = setting("SCHEDULER_API_KEYS_SECRET_ID", "", parse=stripped)

    # --- jobs' outbound requests and secrets -------------------------------------------------
    http_allowed_hosts: tuple[str, ...] = setting("SCHEDULER_HTTP_ALLOWED_HOSTS", (), parse=_lower_words)
    # jobs' secretRefs resolve under it (nightly-scheduler/<stage>/jobs/)
    job_secrets_prefix: str = setting("SCHEDULER_JOB_SECRETS_PREFIX", DEFAULT_JOB_SECRETS_PREFIX, parse=stripped,
                                      check=lambda prefix, _: prefix_problem(prefix),
                                      instead=f"using {DEFAULT_JOB_SECRETS_PREFIX}")

    # --- Supabase ---------------------------------------------------------------------------
    supabase_url: str = setting("SUPABASE_URL", "", parse=lambda raw: raw.rstrip("/"))
    supabase_service_key: str = setting("SUPABASE_SERVICE_KEY", "", stage=LOCAL, secret=True)
    # Secrets Manager name/ARN or "ssm:/name"
    supabase_service_key_id: str = setting("SUPABASE_SERVICE_KEY_ID", "")
    # default the <ref> of https://<ref>.supabase.co; one that is no ref matches no key ("-")
    supabase_project_ref: str = setting(
        "SUPABASE_PROJECT_REF", "", parse=stripped, derive=lambda values: project_ref_for(values["supabase_url"]) or "",
        check=lambda ref, _: None if re.fullmatch(r"[a-z0-9]{1,63}", ref) else
        "must be a project ref (lower-case letters and digits)", refused="-", instead="legacy API keys are refused")
    # default {SUPABASE_URL}/auth/v1/.well-known/jwks.json
    jwks_url: str = setting("SCHEDULER_JWKS_URL", "", parse=stripped, derive=_derived_jwks_url,
                            check=lambda url, values: jwks_url_problem(url, local_mode=values["local_mode"]),
                            refused="", instead="asymmetric tokens are refused")
    supabase_connect_timeout: float = setting("SUPABASE_CONNECT_TIMEOUT", 5.0, parse=decimal)
    supabase_read_timeout: float = setting("SUPABASE_READ_TIMEOUT", 30.0, parse=decimal)

    # --- the certification job (CERT_CHECK_*) --------------------------------------------------
    certification: CertificationSettings = group(CertificationSettings)

    problems: tuple[FieldError, ...] = field(default=())
    """Settings that were malformed, each naming the variable and the accepted form. The
    default is used instead; a bad ``CERT_CHECK_*`` value keeps the certification job from
    being (re)registered (its stored definition, if any, keeps running). ``GET /health``
    reports them."""

    @property
    def max_timeout_seconds(self) -> int:
        """The largest ``timeoutSeconds`` a job may have (:func:`~chalicelib.core.definitions.timeout_cap`)."""
        return timeout_cap(self.worker_timeout_seconds, self.lease_margin_seconds)

    @property
    def certification_problems(self) -> tuple[FieldError, ...]:
        names = variable_names(CertificationSettings)
        return tuple(p for p in self.problems if p.field in names)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every declared variable (``SCHEDULER_*``, ``SUPABASE_*``, ``CERT_CHECK_*``, ...).

        Never raises: a malformed value is replaced as its declaration says (by its default
        unless told otherwise) and recorded in :attr:`problems`, naming the variable and the
        accepted form, so one bad setting degrades one feature instead of every route and tick.
        """
        problems: list[FieldError] = []
        settings = read(cls, os.environ if env is None else env, problems)
        return replace(settings, problems=tuple(problems))


# Every environment variable ``Settings.from_env`` reads, from the declaration. ``tests/infra``
# checks that each deployed stage sets all of them except the local-only ones below and the
# ones the Lambda runtime sets itself.
SETTINGS_VARIABLES: tuple[str, ...] = variable_names(Settings)
# Plain secret values, the emulator endpoint and the in-process worker pool: the local
# stack and tests only, never deployed (deployed, WorkerReservedConcurrency bounds the worker).
LOCAL_ONLY_VARIABLES: tuple[str, ...] = tuple(v.name for v in variables(Settings) if v.stage is LOCAL)
