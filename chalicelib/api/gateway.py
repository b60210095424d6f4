"""The Chalice application object and what every entry point shares: logging, the
middleware and the authorizer.

``app.py`` imports ``app`` and ``jwt_authorizer`` from here (Chalice and Lambda look for
them there: Chalice names a function registered on the app ``app.<function name>``, so
the authorizer's handler is ``app.jwt_authorizer`` and the function must keep that name),
then the route modules of ``chalicelib.api.routes``, which register on this same object.
Importing this module builds nothing: the runtime is built on first use from the
environment (``chalicelib.bootstrap``).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, NoReturn

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from chalice import AuthResponse, Chalice, Response
from chalice.app import Request

from chalicelib import bootstrap
from chalicelib.adapters import run_logging
from chalicelib.api import auth, methods
from chalicelib.core import run_log

app = Chalice(app_name="nightly-scheduler", configure_logs=False)  # Powertools formats the logs
logger = Logger(service="nightly-scheduler")
copy_config_to_registered_loggers(source_logger=logger, include={"chalicelib"})
run_logging.install(logging.getLogger("chalicelib"))
run_log.install()  # each run's log lines are kept with its execution: every logger's records reach the root
run_log.install(logging.getLogger("chalicelib"))  # but Powertools stops chalicelib's from propagating
logging.getLogger("botocore").setLevel(logging.WARNING)  # botocore's DEBUG output would include secrets

BASE = "/api/v1/scheduler"
CONSOLE = f"{BASE}/console"
JSON_BODIES = ["application/json", "application/problem+json", "text/plain", "application/x-www-form-urlencoded"]


@app.middleware("http")
def media_type_problem(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice answers a Content-Type a route does not take with a body of its own: a problem instead."""
    return methods.media_type_problem(get_response(event), event.headers.get("content-type"))


@app.middleware("all")
def flush_metrics(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Powertools' decorators expect (event, context): Chalice flushes here instead."""
    try:
        return get_response(event)
    finally:
        runtime = bootstrap.current_runtime()
        if runtime is not None:
            runtime.metrics.flush()


@app.authorizer(ttl_seconds=0)
def jwt_authorizer(auth_request: Any) -> AuthResponse:
    """A credential a Supabase project issues (``chalicelib.api.auth``): its service_role
    API key, a Supabase Auth token of an admin, or a secret API key the scheduler holds."""
    try:
        runtime = bootstrap.get_runtime()
    except Exception:
        logger.exception("the runtime could not be built; every request is refused until it is fixed")
        _unauthorized()
    try:
        secret = bootstrap.jwt_secret(runtime.settings, runtime.resolve_secret)
    except Exception:
        logger.exception("the JWT secret could not be read; HS256 tokens are refused until it is fixed")
        secret = ""
    settings = runtime.settings
    try:
        token = auth.bearer_token(auth_request.token)
        principal = auth.verify(token, secret=secret, admin_roles=settings.admin_roles, keys=runtime.jwks_keys(),
                                issuer=auth.issuer_for(settings.supabase_url), project_ref=settings.supabase_project_ref,
                                local_mode=settings.local_mode,
                                secret_keys=lambda: bootstrap.api_secret_keys(settings, runtime.resolve_secret))
    except auth.InvalidToken as exc:
        logger.info("token refused", extra={"reason": str(exc)})
        _unauthorized()
    except auth.ForbiddenRole as exc:
        logger.info("credential without an allowed role", extra={"reason": str(exc)})
        return AuthResponse(routes=[], principal_id="forbidden")
    context = {"role": principal.role, "credential": principal.credential}
    if principal.key_fingerprint:
        context["keyFingerprint"] = principal.key_fingerprint
    return AuthResponse(routes=["*"], principal_id=principal.subject, context=context)


def _unauthorized() -> NoReturn:
    """401. API Gateway maps an authorizer raising 'Unauthorized' to 401; Chalice's local
    gateway (local stack and test client) needs its own exception for the same answer."""
    try:
        from chalice.local import NotAuthorizedError
    except ImportError:  # deployed: chalice.local is not packaged
        raise Exception("Unauthorized") from None  # the exact message API Gateway expects
    raise NotAuthorizedError({"x-amzn-ErrorType": "UnauthorizedException"}, b'{"message":"Unauthorized"}')
