"""Every setting the scheduler reads, in one frozen object read from the environment once.

The table in README.md ("Configuration") lists each with its default; ``.chalice/config.json``
sets them per stage and ``tests/infra/test_settings_per_stage.py`` checks that every
variable named here is set for each stage.
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field, replace
from typing import Mapping
from urllib.parse import urlsplit

from chalicelib.core.cron import CronSchedule
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.jobs.job_secrets import DEFAULT_JOB_SECRETS_PREFIX, prefix_problem


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


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    jobs_table: str = "scheduler-jobs"
    executions_table: str = "scheduler-executions"
    aws_region: str = "eu-north-1"
    aws_endpoint_url: str | None = None  # local stack / tests only: every AWS client goes there
    execution_retention_days: int = 90
    lease_margin_seconds: int = 60
    dispatch_batch: int = 200
    worker_timeout_seconds: int = 900  # the run_execution Lambda's timeout (.chalice/config.json)
    dispatch_concurrency: int = 16  # claims and hand-offs in flight at once in one tick
    due_shards: int = 8  # write shards of the due index (DynamoDB)
    due_shards_previous: int = 0  # while lowering due_shards: the old count, still read
    trigger_budget_per_minute: int = 30  # manual triggers one caller may make a minute; more are a 429

    alert_topic_arn: str = ""
    metrics_namespace: str = "NightlyScheduler"
    service_name: str = "nightly-scheduler"

    jwt_secret: str = field(default="", repr=False)  # local use; deployed: jwt_secret_id
    jwt_secret_id: str = ""  # Secrets Manager name/ARN or SSM parameter (prefix "ssm:")
    admin_roles: tuple[str, ...] = ("admin",)
    jwks_url: str = ""  # SCHEDULER_JWKS_URL, default {SUPABASE_URL}/auth/v1/.well-known/jwks.json

    worker_function_name: str = ""
    worker_mode: str = "lambda"  # lambda (AWS) | thread (local stack) | inline (tests)
    local_worker_concurrency: int = 32  # thread mode: runs at once; more wait their turn, as Lambda queues them
    local_mode: bool = False
    http_allowed_hosts: tuple[str, ...] = ()

    job_secrets_prefix: str = DEFAULT_JOB_SECRETS_PREFIX  # jobs' secretRefs resolve under it (nightly-scheduler/<stage>/jobs/)
    supabase_url: str = ""
    supabase_service_key: str = field(default="", repr=False)  # local use only
    supabase_service_key_id: str = ""  # Secrets Manager name/ARN or "ssm:/name"
    supabase_project_ref: str = ""  # SUPABASE_PROJECT_REF, default the <ref> of https://<ref>.supabase.co
    api_keys_secret_id: str = ""  # optional: more sb_secret_ keys the API accepts (JSON list or one per line)
    supabase_connect_timeout: float = 5.0
    supabase_read_timeout: float = 30.0

    cert_check_cron: str = "0 2 * * *"
    cert_check_timezone: str = "Europe/Oslo"
    cert_check_notice_days: tuple[int, ...] = (30, 7)
    cert_check_max_pause_share: float = 0.2
    cert_check_max_pause_count: int = 500

    problems: tuple[FieldError, ...] = ()
    """Settings that were malformed, each naming the variable and the accepted form. The
    default is used instead; a bad ``CERT_CHECK_*`` value keeps the certification job from
    being (re)registered (its stored definition, if any, keeps running). ``GET /health``
    reports them."""

    @property
    def max_timeout_seconds(self) -> int:
        """The largest ``timeoutSeconds`` a job may have: the worker Lambda's timeout less
        the lease margin, so a run past it is recorded ``timed_out`` before Lambda stops it."""
        return max(1, self.worker_timeout_seconds - self.lease_margin_seconds)

    @property
    def certification_problems(self) -> tuple[FieldError, ...]:
        return tuple(p for p in self.problems if p.field.startswith("CERT_CHECK_"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``SCHEDULER_*``, ``SUPABASE_*`` and ``CERT_CHECK_*`` variables.

        Never raises: a malformed value is replaced by its default and recorded in
        :attr:`problems`, naming the variable and the accepted form, so one bad setting
        degrades one feature instead of every route and tick.
        """
        env = os.environ if env is None else env
        errors: list[FieldError] = []

        def text(name: str, default: str) -> str:
            return env.get(name, default) or default

        def number(name: str, default: float, kind: type = int) -> float:
            raw = env.get(name)
            if raw is None or not raw.strip():
                return default
            try:
                if not raw.strip().isascii():  # int() reads other scripts' digits too
                    raise ValueError(raw)
                return kind(raw.strip())
            except ValueError:
                accepted = "a whole number" if kind is int else "a number"
                errors.append(FieldError(name, f"expected {accepted}, got {raw!r}; using the default {default}"))
                return default

        def in_range(name: str, value: float, low: float, high: float, default: float) -> float:
            if low <= value <= high:
                return value
            errors.append(FieldError(name, f"must be from {low} to {high}, got {value}; using the default {default}"))
            return default

        def flag(name: str) -> bool:
            return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")

        notice_days: tuple[int, ...] = cls.cert_check_notice_days
        if env.get("CERT_CHECK_NOTICE_DAYS"):
            try:
                notice_days = tuple(sorted({int(d) for d in _csv(env["CERT_CHECK_NOTICE_DAYS"])}, reverse=True))
                if not notice_days or not all(1 <= d <= 365 for d in notice_days):
                    raise ValueError(env["CERT_CHECK_NOTICE_DAYS"])
            except ValueError:
                notice_days = cls.cert_check_notice_days
                errors.append(FieldError("CERT_CHECK_NOTICE_DAYS",
                                         "expected comma-separated whole days from 1 to 365, e.g. 30,7"))
        cert_cron = text("CERT_CHECK_CRON", cls.cert_check_cron)
        cert_zone = text("CERT_CHECK_TIMEZONE", cls.cert_check_timezone)
        try:
            CronSchedule.parse(cert_cron, cert_zone)
        except ValidationFailed as exc:
            names = {"cronExpression": "CERT_CHECK_CRON", "timezone": "CERT_CHECK_TIMEZONE"}
            errors.extend(FieldError(names.get(e.field, e.field), e.message) for e in exc.errors)

        settings = cls(
            jobs_table=text("SCHEDULER_JOBS_TABLE", cls.jobs_table),
            executions_table=text("SCHEDULER_EXECUTIONS_TABLE", cls.executions_table),
            aws_region=text("AWS_REGION", text("AWS_DEFAULT_REGION", cls.aws_region)),
            aws_endpoint_url=env.get("SCHEDULER_AWS_ENDPOINT_URL") or None,
            execution_retention_days=int(number("SCHEDULER_EXECUTION_RETENTION_DAYS", cls.execution_retention_days)),
            lease_margin_seconds=int(number("SCHEDULER_LEASE_MARGIN_SECONDS", cls.lease_margin_seconds)),
            dispatch_batch=int(in_range("SCHEDULER_DISPATCH_BATCH", number("SCHEDULER_DISPATCH_BATCH", cls.dispatch_batch),
                                        1, 1000, cls.dispatch_batch)),
            dispatch_concurrency=int(in_range(
                "SCHEDULER_DISPATCH_CONCURRENCY",
                number("SCHEDULER_DISPATCH_CONCURRENCY", cls.dispatch_concurrency), 1, 64, cls.dispatch_concurrency)),
            due_shards=int(in_range("SCHEDULER_DUE_SHARDS", number("SCHEDULER_DUE_SHARDS", cls.due_shards),
                                    1, 64, cls.due_shards)),
            due_shards_previous=int(in_range(
                "SCHEDULER_DUE_SHARDS_PREVIOUS",
                number("SCHEDULER_DUE_SHARDS_PREVIOUS", cls.due_shards_previous), 0, 64, cls.due_shards_previous)),
            trigger_budget_per_minute=int(in_range(
                "SCHEDULER_TRIGGER_BUDGET_PER_MINUTE",
                number("SCHEDULER_TRIGGER_BUDGET_PER_MINUTE", cls.trigger_budget_per_minute), 1, 10_000,
                cls.trigger_budget_per_minute)),
            worker_timeout_seconds=int(in_range(
                "SCHEDULER_WORKER_TIMEOUT_SECONDS",
                number("SCHEDULER_WORKER_TIMEOUT_SECONDS", cls.worker_timeout_seconds), 60, 900, cls.worker_timeout_seconds)),
            alert_topic_arn=text("SCHEDULER_ALERT_TOPIC_ARN", ""),
            metrics_namespace=text("SCHEDULER_METRICS_NAMESPACE", cls.metrics_namespace),
            service_name=text("POWERTOOLS_SERVICE_NAME", cls.service_name),
            jwt_secret=env.get("SCHEDULER_JWT_SECRET", ""),
            jwt_secret_id=env.get("SCHEDULER_JWT_SECRET_ID", ""),
            admin_roles=_csv(env.get("SCHEDULER_ADMIN_ROLES", "")) or cls.admin_roles,
            jwks_url=env.get("SCHEDULER_JWKS_URL", "").strip(),
            worker_function_name=env.get("SCHEDULER_WORKER_FUNCTION", ""),
            worker_mode=text("SCHEDULER_WORKER_MODE", cls.worker_mode),
            local_worker_concurrency=int(in_range(
                "SCHEDULER_LOCAL_WORKER_CONCURRENCY",
                number("SCHEDULER_LOCAL_WORKER_CONCURRENCY", cls.local_worker_concurrency), 1, 256,
                cls.local_worker_concurrency)),
            local_mode=flag("SCHEDULER_LOCAL_MODE"),
            http_allowed_hosts=tuple(h.lower() for h in _csv(env.get("SCHEDULER_HTTP_ALLOWED_HOSTS", ""))),
            supabase_url=env.get("SUPABASE_URL", "").rstrip("/"),
            supabase_service_key=env.get("SUPABASE_SERVICE_KEY", ""),
            supabase_service_key_id=env.get("SUPABASE_SERVICE_KEY_ID", ""),
            supabase_project_ref=env.get("SUPABASE_PROJECT_REF", "").strip(),
            api_keys_secret_id=env.get("SCHEDULER_API_KEYS_SECRET_ID", "").strip(),
            job_secrets_prefix=text("SCHEDULER_JOB_SECRETS_PREFIX", cls.job_secrets_prefix).strip(),
            supabase_connect_timeout=float(number("SUPABASE_CONNECT_TIMEOUT", cls.supabase_connect_timeout, float)),
            supabase_read_timeout=float(number("SUPABASE_READ_TIMEOUT", cls.supabase_read_timeout, float)),
            cert_check_cron=cert_cron,
            cert_check_timezone=cert_zone,
            cert_check_notice_days=notice_days,
            cert_check_max_pause_share=in_range(
                "CERT_CHECK_MAX_PAUSE_SHARE", float(number("CERT_CHECK_MAX_PAUSE_SHARE", cls.cert_check_max_pause_share, float)),
                0.0, 1.0, cls.cert_check_max_pause_share),
            cert_check_max_pause_count=int(in_range(
                "CERT_CHECK_MAX_PAUSE_COUNT", number("CERT_CHECK_MAX_PAUSE_COUNT", cls.cert_check_max_pause_count),
                0, 1_000_000, cls.cert_check_max_pause_count)),
        )
        if settings.worker_mode not in ("lambda", "thread", "inline"):
            errors.append(FieldError("SCHEDULER_WORKER_MODE", "must be lambda, thread or inline; using lambda"))
            settings = replace(settings, worker_mode="lambda")
        if not settings.supabase_project_ref:
            settings = replace(settings, supabase_project_ref=project_ref_for(settings.supabase_url) or "")
        if prefix_problem(settings.job_secrets_prefix):
            errors.append(FieldError("SCHEDULER_JOB_SECRETS_PREFIX",
                                     f"{prefix_problem(settings.job_secrets_prefix)}; using {cls.job_secrets_prefix}"))
            settings = replace(settings, job_secrets_prefix=cls.job_secrets_prefix)
        elif not re.fullmatch(r"[a-z0-9]{1,63}", settings.supabase_project_ref):
            errors.append(FieldError("SUPABASE_PROJECT_REF", "must be a project ref (lower-case letters and digits)"
                                     "; legacy API keys are refused"))
            settings = replace(settings, supabase_project_ref="-")  # no key carries this ref
        if not settings.jwks_url and settings.supabase_url:
            derived = f"{settings.supabase_url}/auth/v1/.well-known/jwks.json"
            if jwks_url_problem(derived, local_mode=settings.local_mode) is None:  # else: no JWKS, silently
                settings = replace(settings, jwks_url=derived)
        elif settings.jwks_url:
            problem = jwks_url_problem(settings.jwks_url, local_mode=settings.local_mode)
            if problem:
                errors.append(FieldError("SCHEDULER_JWKS_URL", f"{problem}; asymmetric tokens are refused"))
                settings = replace(settings, jwks_url="")
        for name, value in (("SCHEDULER_EXECUTION_RETENTION_DAYS", settings.execution_retention_days),
                            ("SCHEDULER_LEASE_MARGIN_SECONDS", settings.lease_margin_seconds)):
            if value < 1:
                errors.append(FieldError(name, f"must be at least 1, got {value}"))
        return replace(settings, problems=tuple(errors))


# Every environment variable ``Settings.from_env`` reads. ``tests/infra`` checks that each
# deployed stage sets all of them except the local-only ones below and the region, which
# Lambda sets itself (and that this list and ``from_env`` agree).
SETTINGS_VARIABLES: tuple[str, ...] = (
    "SCHEDULER_JOBS_TABLE", "SCHEDULER_EXECUTIONS_TABLE", "AWS_REGION", "AWS_DEFAULT_REGION",
    "SCHEDULER_AWS_ENDPOINT_URL", "SCHEDULER_EXECUTION_RETENTION_DAYS", "SCHEDULER_LEASE_MARGIN_SECONDS",
    "SCHEDULER_DISPATCH_BATCH", "SCHEDULER_WORKER_TIMEOUT_SECONDS", "SCHEDULER_DISPATCH_CONCURRENCY",
    "SCHEDULER_DUE_SHARDS", "SCHEDULER_DUE_SHARDS_PREVIOUS", "SCHEDULER_TRIGGER_BUDGET_PER_MINUTE",
    "SCHEDULER_ALERT_TOPIC_ARN", "SCHEDULER_METRICS_NAMESPACE",
    "POWERTOOLS_SERVICE_NAME", "SCHEDULER_JWT_SECRET", "SCHEDULER_JWT_SECRET_ID", "SCHEDULER_ADMIN_ROLES", "SCHEDULER_JWKS_URL",
    "SCHEDULER_WORKER_FUNCTION", "SCHEDULER_WORKER_MODE", "SCHEDULER_LOCAL_WORKER_CONCURRENCY", "SCHEDULER_LOCAL_MODE",
    "SCHEDULER_HTTP_ALLOWED_HOSTS", "SCHEDULER_JOB_SECRETS_PREFIX", "SUPABASE_URL", "SUPABASE_SERVICE_KEY", "SUPABASE_SERVICE_KEY_ID",
    "SUPABASE_PROJECT_REF", "SCHEDULER_API_KEYS_SECRET_ID",
    "SUPABASE_CONNECT_TIMEOUT", "SUPABASE_READ_TIMEOUT", "CERT_CHECK_CRON", "CERT_CHECK_TIMEZONE",
    "CERT_CHECK_NOTICE_DAYS", "CERT_CHECK_MAX_PAUSE_SHARE", "CERT_CHECK_MAX_PAUSE_COUNT",
)
# Plain secret values, the emulator endpoint and the in-process worker pool: the local
# stack and tests only, never deployed (deployed, WorkerReservedConcurrency bounds the worker).
LOCAL_ONLY_VARIABLES: tuple[str, ...] = ("SCHEDULER_JWT_SECRET", "SUPABASE_SERVICE_KEY", "SCHEDULER_AWS_ENDPOINT_URL",
                                         "SCHEDULER_LOCAL_WORKER_CONCURRENCY")
