"""Validation of job definitions: one parser for the REST body and the Python API.

Field names in errors are the API's camelCase names (``retry.maxAttempts``), so a
caller of either interface is told exactly what to fix. Every problem is reported at
once, not only the first.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping

from chalicelib.core import strict_json
from chalicelib.core.channels import parse_notify, parse_owner
from chalicelib.core.cron import validate_cron, validate_timezone
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.core.model import JobDefinition, RetryPolicy

JOB_NAME_PATTERN = re.compile(r"[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?")
"""Matched with ``fullmatch``: ``$`` would let a trailing newline through."""
MAX_PAYLOAD_BYTES = 16 * 1024
MAX_DESCRIPTION = 500

KNOWN_FIELDS = {
    "jobName", "cronExpression", "handler", "timezone", "payload", "retry", "timeoutSeconds",
    "alertAfterFailures", "misfireGraceSeconds", "pauseAfterFailures", "description", "owner", "notify",
}
RETRY_FIELDS = {"maxAttempts", "initialDelaySeconds", "maxDelaySeconds"}

PayloadCheck = Callable[[str, Mapping[str, Any]], list[FieldError]]
"""``(handler_name, payload) -> errors``: the handler registry's payload validators."""


def _int_in(value: Any, field: str, low: int, high: int, errors: list[FieldError]) -> int | None:
    # bool is an int in Python; JSON true is not a number. 30.0 is 30, as JSON means it
    # (Python's and other clients' encoders write whole floats so); 30.5 is not whole.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(FieldError(field, f"must be a whole number from {low} to {high}"))
        return None
    if not low <= value <= high:
        errors.append(FieldError(field, f"must be from {low} to {high}, got {value}"))
        return None
    return int(value)


def validate_job_name(name: Any, field: str = "jobName") -> str:
    if not isinstance(name, str) or not JOB_NAME_PATTERN.fullmatch(name):
        raise ValidationFailed([FieldError(
            field,
            "must be 1-64 lowercase letters, digits or hyphens, starting and ending with a "
            "letter or digit (pattern ^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$)",
        )])
    return name


def validate_payload_object(payload: Any, field: str = "payload") -> dict[str, Any]:
    """A JSON object of at most 16 KiB (serialised) and 32 levels: the one check of every
    payload, a definition's and a trigger's, from the REST API and the Python API alike.
    No NaN or Infinity, no lone surrogate (:mod:`chalicelib.core.strict_json`)."""
    if not isinstance(payload, dict):
        raise ValidationFailed([FieldError(field, "must be a JSON object")])
    errors = strict_json.problems(payload, field, max_depth=strict_json.MAX_DEPTH)
    if errors:
        raise ValidationFailed(errors)
    size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise ValidationFailed([FieldError(field, f"is {size} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes (16 KiB)")])
    return payload


def timeout_cap(worker_timeout_seconds: int, lease_margin_seconds: int) -> int:
    """The largest ``timeoutSeconds`` a job may have: the worker Lambda's timeout less the
    lease margin, so a run past it is recorded ``timed_out`` before Lambda stops it."""
    return max(1, worker_timeout_seconds - lease_margin_seconds)


MAX_TIMEOUT_SECONDS = timeout_cap(900, 60)
"""The default cap on ``timeoutSeconds``: a 900 s worker Lambda less the 60 s lease margin."""


def parse_definition(body: Any, *, known_handler: Callable[[str], bool], check_payload: PayloadCheck,
                     max_timeout_seconds: int = MAX_TIMEOUT_SECONDS) -> JobDefinition:
    """Turn a ``POST /jobs`` body into a :class:`JobDefinition` or raise ``ValidationFailed``.

    ``max_timeout_seconds`` is the worker Lambda's timeout less the lease margin: a run
    past its ``timeoutSeconds`` must be recorded ``timed_out`` before Lambda stops it.
    """
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object")])
    errors: list[FieldError] = []
    for unknown in sorted(set(body) - KNOWN_FIELDS):
        errors.append(FieldError(unknown, "is not a field of a job; known fields: " + ", ".join(sorted(KNOWN_FIELDS))))

    def attempt(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            return None

    for required in ("jobName", "cronExpression", "handler"):
        if required not in body or body[required] in (None, ""):
            errors.append(FieldError(required, "is required"))
    name = attempt(lambda: validate_job_name(body["jobName"])) if body.get("jobName") not in (None, "") else None
    cron = None
    if body.get("cronExpression") not in (None, ""):
        if not isinstance(body["cronExpression"], str):
            errors.append(FieldError("cronExpression", "must be a string"))
        else:
            cron = attempt(lambda: validate_cron(body["cronExpression"]))
    tz: str | None = "UTC"
    if "timezone" in body:
        tz = attempt(lambda: validate_timezone(body["timezone"])) if isinstance(body["timezone"], str) else None
        if not isinstance(body["timezone"], str):
            errors.append(FieldError("timezone", "must be an IANA time zone name such as 'Europe/Oslo'"))
    handler = body.get("handler")
    if handler not in (None, ""):
        if not isinstance(handler, str):
            errors.append(FieldError("handler", "must be the name of a registered handler (see GET /handlers)"))
            handler = None
        elif not known_handler(handler):
            errors.append(FieldError("handler", f"'{handler}' is not a registered handler (see GET /handlers)"))
            handler = None
    payload: dict[str, Any] = {}
    if "payload" in body:
        payload = attempt(lambda: validate_payload_object(body["payload"])) or {}
    if handler and isinstance(body.get("payload", {}), dict):
        errors.extend(check_payload(handler, payload))

    retry = RetryPolicy()
    raw_retry = body.get("retry")
    if raw_retry is not None:
        if not isinstance(raw_retry, dict):
            errors.append(FieldError("retry", "must be an object with maxAttempts, initialDelaySeconds, maxDelaySeconds"))
        else:
            for unknown in sorted(set(raw_retry) - RETRY_FIELDS):
                errors.append(FieldError(f"retry.{unknown}", "is not a retry field; known: " + ", ".join(sorted(RETRY_FIELDS))))
            max_attempts = _int_in(raw_retry.get("maxAttempts", retry.max_attempts), "retry.maxAttempts", 1, 10, errors)
            initial = _int_in(raw_retry.get("initialDelaySeconds", retry.initial_delay_seconds), "retry.initialDelaySeconds", 1, 21600, errors)
            maximum = _int_in(raw_retry.get("maxDelaySeconds", retry.max_delay_seconds), "retry.maxDelaySeconds", 1, 21600, errors)
            if initial is not None and maximum is not None and initial > maximum:
                errors.append(FieldError("retry.maxDelaySeconds", "must be at least initialDelaySeconds"))
            if None not in (max_attempts, initial, maximum):
                retry = RetryPolicy(max_attempts, initial, maximum)  # type: ignore[arg-type]

    defaults = JobDefinition(job_name="x", cron_expression="* * * * *", handler="x")
    timeout = _int_in(body.get("timeoutSeconds", min(defaults.timeout_seconds, max_timeout_seconds)), "timeoutSeconds",
                      1, max_timeout_seconds, errors)
    if timeout is None and errors and errors[-1].field == "timeoutSeconds":
        errors[-1] = FieldError("timeoutSeconds", (
            f"{errors[-1].message}: at most {max_timeout_seconds} s, the worker Lambda's timeout less the lease "
            "margin, so that a run past it is recorded as timed_out before Lambda stops the worker"))
    alert_after = _int_in(body.get("alertAfterFailures", defaults.alert_after_failures), "alertAfterFailures", 1, 100, errors)
    grace = _int_in(body.get("misfireGraceSeconds", defaults.misfire_grace_seconds), "misfireGraceSeconds", 0, 86400, errors)
    pause_after = None
    if body.get("pauseAfterFailures") is not None:
        pause_after = _int_in(body["pauseAfterFailures"], "pauseAfterFailures", 1, 1000, errors)
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        errors.append(FieldError("description", f"must be a string of at most {MAX_DESCRIPTION} characters"))
        description = ""
    owner = parse_owner(body.get("owner"), errors)
    notify = parse_notify(body.get("notify"), errors)

    if errors:
        raise ValidationFailed(errors)
    # Every value left None above added an error, so none is None here.
    assert name and cron and handler and tz and timeout is not None and alert_after is not None and grace is not None
    return JobDefinition(
        job_name=name,
        cron_expression=cron,
        handler=handler,
        timezone=tz,
        payload=payload,
        retry=retry,
        timeout_seconds=timeout,
        alert_after_failures=alert_after,
        misfire_grace_seconds=grace,
        pause_after_failures=pause_after,
        description=description,
        owner=owner,
        notify=notify,
    )


def definition_to_body(definition: JobDefinition) -> dict[str, Any]:
    """The camelCase form of a definition (inverse of :func:`parse_definition`)."""
    body: dict[str, Any] = {
        "jobName": definition.job_name,
        "cronExpression": definition.cron_expression,
        "handler": definition.handler,
        "timezone": definition.timezone,
        "payload": dict(definition.payload),
        "retry": {
            "maxAttempts": definition.retry.max_attempts,
            "initialDelaySeconds": definition.retry.initial_delay_seconds,
            "maxDelaySeconds": definition.retry.max_delay_seconds,
        },
        "timeoutSeconds": definition.timeout_seconds,
        "alertAfterFailures": definition.alert_after_failures,
        "misfireGraceSeconds": definition.misfire_grace_seconds,
        "pauseAfterFailures": definition.pause_after_failures,
        "description": definition.description,
        "owner": definition.owner,
        "notify": list(definition.notify),
    }
    return body


SNAKE_TO_CAMEL = {
    "timezone": "timezone",
    "payload": "payload",
    "retry": "retry",
    "timeout_seconds": "timeoutSeconds",
    "alert_after_failures": "alertAfterFailures",
    "misfire_grace_seconds": "misfireGraceSeconds",
    "pause_after_failures": "pauseAfterFailures",
    "description": "description",
    "owner": "owner",
    "notify": "notify",
}


def options_to_body(job_name: str, cron_expression: str, handler: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Python keyword options (snake_case; ``retry`` a RetryPolicy or dict) as a REST body."""
    body: dict[str, Any] = {"jobName": job_name, "cronExpression": cron_expression, "handler": handler}
    for key, value in options.items():
        if key not in SNAKE_TO_CAMEL:
            raise ValidationFailed([FieldError(key, "is not an option of register_job; known: " + ", ".join(SNAKE_TO_CAMEL))])
        if key == "retry" and isinstance(value, RetryPolicy):
            value = {
                "maxAttempts": value.max_attempts,
                "initialDelaySeconds": value.initial_delay_seconds,
                "maxDelaySeconds": value.max_delay_seconds,
            }
        if key == "notify" and isinstance(value, tuple):
            value = list(value)
        body[SNAKE_TO_CAMEL[key]] = value
    return body
