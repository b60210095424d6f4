"""One ``http-request`` attempt: secrets resolved, sent over the pinned connection
(:mod:`~chalicelib.jobs.http_request.wire`), the answer checked and kept scrubbed."""
from __future__ import annotations

import json
import socket
import ssl
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable, Mapping, Sequence

import httpx

from chalicelib.core import strict_json
from chalicelib.core.context import RunContext
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.model import iso
from chalicelib.jobs.http_request.destinations import (
    HostAllowList,
    HostResolver,
)
from chalicelib.jobs.http_request.errors import (
    HttpRequestError,
    HttpRequestFailed,
    HttpRequestTimeout,
)
from chalicelib.jobs.http_request.expect import expectation_failure, status_failure
from chalicelib.jobs.http_request.payload import (
    CONTROL_CHARS,
    USER_AGENT,
    check_payload,
)
from chalicelib.jobs.http_request.secrets import (
    HeaderValue,
    Scrubber,
    SecretResolver,
    resolve_body_secrets,
    resolve_ref,
)
from chalicelib.jobs.http_request.wire import MAX_REDIRECTS, Answer, PinnedConnection, follow_redirect

RESULT_BODY_LIMIT = 4000  # characters of response body kept in an execution's result


ERROR_BODY_LIMIT = 500  # characters of response body quoted in an error message


@dataclass(frozen=True)
class OwnCredentials:
    """Headers a job type adds from the scheduler's own secrets (the Supabase service key),
    never from a payload; ``secrets`` are scrubbed from whatever comes back, as resolved ones."""

    headers: Mapping[str, str]
    secrets: tuple[str, ...]


def scheduler_headers(ctx: RunContext) -> dict[str, str]:
    """``X-Scheduler-Job``, ``-Slot``, ``-Attempt`` and ``-Execution`` of the run."""
    return {
        "X-Scheduler-Job": ctx.job_name,
        "X-Scheduler-Slot": iso(ctx.scheduled_for),
        "X-Scheduler-Attempt": str(ctx.attempt),
        "X-Scheduler-Execution": ctx.execution_id,
    }


class HttpRequestHandler:
    """Runs one ``http-request`` attempt: ``handler(ctx) -> {"status", "body"}``.

    Resolves the payload's secrets, sends the request through a
    :class:`~chalicelib.jobs.http_request.wire.PinnedConnection` (the destination policy
    and the pinned address), follows same-origin redirects, checks ``expect`` and keeps a
    scrubbed result.
    """

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] | HostAllowList,
        local_mode: bool,
        resolve_secret: SecretResolver,
        resolve_host: HostResolver = socket.getaddrinfo,
        ssl_context: ssl.SSLContext | None = None,
        transport_factory: Callable[[ssl.SSLContext], httpx.BaseTransport] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        time_margin_seconds: float = 1.0,
        own_credentials: Callable[[], OwnCredentials] | None = None,
    ) -> None:
        self._wire = PinnedConnection(allowed_hosts=allowed_hosts, local_mode=local_mode, resolve_host=resolve_host,
                                      ssl_context=ssl_context, transport_factory=transport_factory, monotonic=monotonic)
        self._resolve_secret = resolve_secret
        self._monotonic = monotonic
        self._margin = time_margin_seconds
        self._own_credentials = own_credentials

    # -- the attempt

    def __call__(self, ctx: RunContext) -> dict[str, Any]:
        spec, errors = check_payload(ctx.payload, "payload")
        if spec is None:
            raise ValidationFailed(errors)
        key = ctx.idempotency_key
        if CONTROL_CHARS.search(key) or "\t" in key:
            raise HttpRequestError("the run's idempotency key contains control characters")
        headers, secrets = self._resolve_headers(spec.headers)
        body: bytes | None = None
        if spec.body is not None:
            value, body_secrets = resolve_body_secrets(spec.body.value, self._resolve_secret, "payload.body")
            body = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
            secrets += body_secrets
        if self._own_credentials is not None:
            own = self._own_credentials()
            taken = {name.lower() for name in own.headers}
            headers = {n: v for n, v in headers.items() if n.lower() not in taken} | dict(own.headers)
            secrets = [*secrets, *own.secrets]
        scrub = Scrubber(secrets)
        headers["Idempotency-Key"] = key
        headers.update(scheduler_headers(ctx))
        headers["User-Agent"] = USER_AGENT
        headers["Accept-Encoding"] = "identity"  # no decompression bombs; bodies are small
        names = {name.lower() for name in headers}
        if "accept" not in names:
            headers["Accept"] = "application/json, text/plain;q=0.9, */*;q=0.5"
        if spec.body is not None and "content-type" not in names:
            headers["Content-Type"] = "application/json"

        timeout = self._timeout(spec.timeout_seconds, ctx.remaining_time_ms())
        deadline = self._monotonic() + timeout
        method, target = spec.method, spec.target
        log = ctx.logger
        log.info("http-request %s %s (timeout %.1f s)", method, target.display, timeout)
        log.debug("http-request headers %s", ", ".join(sorted(headers)))  # names only: values may be secrets

        with self._wire.client(timeout) as client:
            for hop in range(MAX_REDIRECTS + 1):
                addresses = self._wire.checked_addresses(target)
                answer = self._wire.send(client, method, target, addresses, headers, body, deadline, timeout, scrub)
                log.info("http-request %s %s -> HTTP %d", method, target.display, answer.status)
                if self._is_success(answer.status, spec.expect_status):
                    if spec.expect is not None:
                        media = answer.content_type.split(";", 1)[0].strip().lower()
                        missed = expectation_failure(
                            spec.expect, method=method, url=target.display, status=answer.status,
                            media_type=media, text=_text(answer), truncated=answer.truncated,
                            scrub=partial(scrub, cut_end=answer.truncated))
                        if missed is not None:
                            raise missed
                    return _result(answer, scrub)
                if 300 <= answer.status < 400 and answer.status != 304:
                    target, method, body = follow_redirect(answer, method, target, body, hop, headers)
                    continue
                excerpt = _excerpt(answer, ERROR_BODY_LIMIT, scrub) or "(empty body)"
                if spec.expect is not None:
                    refused = status_failure(spec.expect, method=method, url=target.display,
                                             status=answer.status, excerpt=excerpt)
                    if refused is not None:
                        raise refused
                raise HttpRequestFailed(
                    f"{method} {target.display} returned HTTP {answer.status}: {excerpt}",
                    method=method,
                    url=target.display,
                    status=answer.status,
                    body_excerpt=excerpt,
                )
        raise AssertionError("unreachable: the redirect loop returns or raises")  # pragma: no cover

    @staticmethod
    def _is_success(status: int, expect: frozenset[int] | None) -> bool:
        return status in expect if expect is not None else 200 <= status < 300

    def _timeout(self, timeout_seconds: float, remaining_ms: int) -> float:
        if remaining_ms <= 0:  # unknown
            return timeout_seconds
        left = remaining_ms / 1000 - self._margin
        if left <= 0:
            raise HttpRequestTimeout(
                f"no time left in this run to make the request ({remaining_ms} ms remaining); "
                "raise the job's timeoutSeconds"
            )
        return min(timeout_seconds, left)

    # -- secrets

    def _resolve_headers(self, spec_headers: Sequence[tuple[str, HeaderValue]]) -> tuple[dict[str, str], list[str]]:
        headers: dict[str, str] = {}
        secrets: list[str] = []
        for name, value in spec_headers:
            if isinstance(value, str):
                headers[name] = value
                continue
            secret = resolve_ref(self._resolve_secret, value, f"header {name}")
            secrets.append(secret)
            headers[name] = value.render(secret)
        return headers, secrets


def _text(answer: Answer) -> str:
    try:
        text = answer.content.decode(answer.charset or "utf-8", errors="replace")
    except LookupError:
        text = answer.content.decode("utf-8", errors="replace")
    # A read cut inside a character: drop the mark, so a secret's first part ends the text.
    return text.rstrip("\ufffd") if answer.truncated else text


def _excerpt(answer: Answer, limit: int, scrub: Scrubber) -> str:
    # Scrubbed before whitespace is collapsed or the excerpt cut; a read cut mid-secret too.
    text = " ".join(scrub(_text(answer), cut_end=answer.truncated).split())
    return text if len(text) <= limit and not answer.truncated else text[:limit] + "…"


def _result(answer: Answer, scrub: Scrubber) -> dict[str, Any]:
    result: dict[str, Any] = {"status": answer.status, "body": None}
    if not answer.content:
        return result
    media = answer.content_type.split(";", 1)[0].strip().lower()
    if not answer.truncated and (media == "application/json" or media.endswith("+json")):
        try:  # strictly: NaN, Infinity and 1e999 are kept as {"$unrepresentable": text}, never as floats
            parsed = scrub.value(strict_json.sanitize(strict_json.loads(_text(answer))))
        except (ValueError, RecursionError):
            parsed = None
        else:
            if len(json.dumps(parsed, ensure_ascii=False)) <= RESULT_BODY_LIMIT:
                result["body"] = parsed
                return result
    text = scrub(_text(answer), cut_end=answer.truncated)
    if answer.truncated or len(text) > RESULT_BODY_LIMIT:
        result["body"] = text[:RESULT_BODY_LIMIT]
        result["bodyTruncated"] = True
    else:
        result["body"] = text
    return result
