"""Every setting the scheduler reads, in one frozen object read from the environment once.

The table in README.md ("Configuration") lists each with its default; ``.chalice/config.json``
sets them per stage and ``tests/infra/test_settings_per_stage.py`` checks that every
variable named here is set for each stage.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from chalicelib.core.errors import FieldError, ValidationFailed


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

    alert_topic_arn: str = ""
    metrics_namespace: str = "NightlyScheduler"
    service_name: str = "nightly-scheduler"

    jwt_secret: str = field(default="", repr=False)  # local use; deployed: jwt_secret_id
    jwt_secret_id: str = ""  # Secrets Manager name/ARN or SSM parameter (prefix "ssm:")
    admin_roles: tuple[str, ...] = ("admin",)

    worker_function_name: str = ""
    worker_mode: str = "lambda"  # lambda (AWS) | thread (local stack) | inline (tests)
    local_mode: bool = False
    http_allowed_hosts: tuple[str, ...] = ()

    supabase_url: str = ""
    supabase_service_key: str = field(default="", repr=False)  # local use only
    supabase_service_key_id: str = ""  # Secrets Manager name/ARN or "ssm:/name"
    supabase_connect_timeout: float = 5.0
    supabase_read_timeout: float = 30.0

    cert_check_cron: str = "0 2 * * *"
    cert_check_timezone: str = "Europe/Oslo"
    cert_check_notice_days: tuple[int, ...] = (30, 7)
    cert_check_max_pause_share: float = 0.2
    cert_check_max_pause_count: int = 500

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``SCHEDULER_*``, ``SUPABASE_*`` and ``CERT_CHECK_*`` variables.

        Raises ``ValidationFailed`` naming the variable when one is malformed.
        """
        env = os.environ if env is None else env
        errors: list[FieldError] = []

        def text(name: str, default: str) -> str:
            return env.get(name, default) or default

        def number(name: str, default: float, kind: type = int) -> float:
            raw = env.get(name)
            if raw in (None, ""):
                return default
            try:
                return kind(raw)
            except ValueError:
                errors.append(FieldError(name, f"expected a number, got {raw!r}"))
                return default

        def flag(name: str) -> bool:
            return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")

        notice_days: tuple[int, ...] = cls.cert_check_notice_days
        if env.get("CERT_CHECK_NOTICE_DAYS"):
            try:
                notice_days = tuple(sorted({int(d) for d in _csv(env["CERT_CHECK_NOTICE_DAYS"])}, reverse=True))
            except ValueError:
                errors.append(FieldError("CERT_CHECK_NOTICE_DAYS", "expected comma-separated whole days, e.g. 30,7"))

        settings = cls(
            jobs_table=text("SCHEDULER_JOBS_TABLE", cls.jobs_table),
            executions_table=text("SCHEDULER_EXECUTIONS_TABLE", cls.executions_table),
            aws_region=text("AWS_REGION", text("AWS_DEFAULT_REGION", cls.aws_region)),
            aws_endpoint_url=env.get("SCHEDULER_AWS_ENDPOINT_URL") or None,
            execution_retention_days=int(number("SCHEDULER_EXECUTION_RETENTION_DAYS", cls.execution_retention_days)),
            lease_margin_seconds=int(number("SCHEDULER_LEASE_MARGIN_SECONDS", cls.lease_margin_seconds)),
            dispatch_batch=int(number("SCHEDULER_DISPATCH_BATCH", cls.dispatch_batch)),
            alert_topic_arn=text("SCHEDULER_ALERT_TOPIC_ARN", ""),
            metrics_namespace=text("SCHEDULER_METRICS_NAMESPACE", cls.metrics_namespace),
            service_name=text("POWERTOOLS_SERVICE_NAME", cls.service_name),
            jwt_secret=env.get("SCHEDULER_JWT_SECRET", ""),
            jwt_secret_id=env.get("SCHEDULER_JWT_SECRET_ID", ""),
            admin_roles=_csv(env.get("SCHEDULER_ADMIN_ROLES", "")) or cls.admin_roles,
            worker_function_name=env.get("SCHEDULER_WORKER_FUNCTION", ""),
            worker_mode=text("SCHEDULER_WORKER_MODE", cls.worker_mode),
            local_mode=flag("SCHEDULER_LOCAL_MODE"),
            http_allowed_hosts=tuple(h.lower() for h in _csv(env.get("SCHEDULER_HTTP_ALLOWED_HOSTS", ""))),
            supabase_url=env.get("SUPABASE_URL", "").rstrip("/"),
            supabase_service_key=env.get("SUPABASE_SERVICE_KEY", ""),
            supabase_service_key_id=env.get("SUPABASE_SERVICE_KEY_ID", ""),
            supabase_connect_timeout=float(number("SUPABASE_CONNECT_TIMEOUT", cls.supabase_connect_timeout, float)),
            supabase_read_timeout=float(number("SUPABASE_READ_TIMEOUT", cls.supabase_read_timeout, float)),
            cert_check_cron=text("CERT_CHECK_CRON", cls.cert_check_cron),
            cert_check_timezone=text("CERT_CHECK_TIMEZONE", cls.cert_check_timezone),
            cert_check_notice_days=notice_days,
            cert_check_max_pause_share=float(number("CERT_CHECK_MAX_PAUSE_SHARE", cls.cert_check_max_pause_share, float)),
            cert_check_max_pause_count=int(number("CERT_CHECK_MAX_PAUSE_COUNT", cls.cert_check_max_pause_count)),
        )
        if settings.worker_mode not in ("lambda", "thread", "inline"):
            errors.append(FieldError("SCHEDULER_WORKER_MODE", "must be lambda, thread or inline"))
        if errors:
            raise ValidationFailed(errors)
        return settings


# Every environment variable ``Settings.from_env`` reads. ``tests/infra`` checks that each
# deployed stage sets all of them except the local-only ones below and the region, which
# Lambda sets itself (and that this list and ``from_env`` agree).
SETTINGS_VARIABLES: tuple[str, ...] = (
    "SCHEDULER_JOBS_TABLE", "SCHEDULER_EXECUTIONS_TABLE", "AWS_REGION", "AWS_DEFAULT_REGION",
    "SCHEDULER_AWS_ENDPOINT_URL", "SCHEDULER_EXECUTION_RETENTION_DAYS", "SCHEDULER_LEASE_MARGIN_SECONDS",
    "SCHEDULER_DISPATCH_BATCH", "SCHEDULER_ALERT_TOPIC_ARN", "SCHEDULER_METRICS_NAMESPACE",
    "POWERTOOLS_SERVICE_NAME", "SCHEDULER_JWT_SECRET", "SCHEDULER_JWT_SECRET_ID", "SCHEDULER_ADMIN_ROLES",
    "SCHEDULER_WORKER_FUNCTION", "SCHEDULER_WORKER_MODE", "SCHEDULER_LOCAL_MODE",
    "SCHEDULER_HTTP_ALLOWED_HOSTS", "SUPABASE_URL", "SUPABASE_SERVICE_KEY", "SUPABASE_SERVICE_KEY_ID",
    "SUPABASE_CONNECT_TIMEOUT", "SUPABASE_READ_TIMEOUT", "CERT_CHECK_CRON", "CERT_CHECK_TIMEZONE",
    "CERT_CHECK_NOTICE_DAYS", "CERT_CHECK_MAX_PAUSE_SHARE", "CERT_CHECK_MAX_PAUSE_COUNT",
)
# Plain secret values and the emulator endpoint: the local stack and tests only, never deployed.
LOCAL_ONLY_VARIABLES: tuple[str, ...] = ("SCHEDULER_JWT_SECRET", "SUPABASE_SERVICE_KEY", "SCHEDULER_AWS_ENDPOINT_URL")
