"""Secrets by id: AWS Secrets Manager, or SSM Parameter Store with an ``ssm:`` prefix.

    secrets = SecretResolver(region="eu-north-1")
    secrets.get("prod/supabase-service-key")          # Secrets Manager name or ARN
    secrets.get("ssm:/scheduler/supabase-service-key") # SSM SecureString (decrypted)

Values are cached for the life of the resolver (build one per process). A value is
never logged or put in an error message. The boto3 clients are injected; when none is
given, one is built on first use.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from chalicelib.core.errors import SecretUnavailable

log = logging.getLogger(__name__)

SSM_PREFIX = "ssm:"
TRANSIENT_CODES = frozenset({"ThrottlingException", "InternalServiceError", "InternalServerError",
                             "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequestsException"})
"""Error codes a later attempt may get past; any other failure to read a secret is permanent."""


class SecretResolver:
    """Reads secrets by id. Give clients (``secretsmanager=``, ``ssm=``) or factories
    (``secretsmanager_factory=``, ``ssm_factory=``, called on first use); with neither,
    a default boto3 client is built on first use (``region``, ``endpoint_url``)."""

    def __init__(self, *, secretsmanager: Any = None, ssm: Any = None,
                 secretsmanager_factory: Callable[[], Any] | None = None, ssm_factory: Callable[[], Any] | None = None,
                 region: str | None = None, endpoint_url: str | None = None) -> None:
        self._secretsmanager = secretsmanager
        self._ssm = ssm
        self._factories: dict[str, Callable[[], Any] | None] = {
            "secretsmanager": secretsmanager_factory, "ssm": ssm_factory}
        self._region = region
        self._endpoint_url = endpoint_url
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, secret_id: str) -> str:
        """The secret's value; ``ssm:/name`` reads an SSM parameter, anything else Secrets Manager."""
        if not secret_id:
            raise SecretUnavailable("No secret id given (expected a Secrets Manager name/ARN or ssm:/parameter)")
        with self._lock:
            cached = self._cache.get(secret_id)
        if cached is not None:
            return cached
        value = self._read_ssm(secret_id[len(SSM_PREFIX):]) if secret_id.startswith(SSM_PREFIX) else self._read_secret(secret_id)
        if not value:
            raise SecretUnavailable(f"Secret {secret_id!r} is empty")
        with self._lock:
            self._cache[secret_id] = value
        log.info("secret loaded", extra={"secret_id": secret_id})
        return value

    def clear(self) -> None:
        """Forget cached values (e.g. after a rotation)."""
        with self._lock:
            self._cache.clear()

    def _read_secret(self, secret_id: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._secretsmanager or self._build("secretsmanager")
        self._secretsmanager = client
        try:
            answer = client.get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise SecretUnavailable(f"Could not read secret {secret_id!r} from Secrets Manager: {code}",
                                    retryable=code in TRANSIENT_CODES) from exc
        except BotoCoreError as exc:
            raise SecretUnavailable(
                f"Could not read secret {secret_id!r} from Secrets Manager: {type(exc).__name__}", retryable=True) from exc
        if answer.get("SecretString") is not None:
            return answer["SecretString"].strip()
        binary = answer.get("SecretBinary")
        return binary.decode().strip() if isinstance(binary, (bytes, bytearray)) else ""

    def _read_ssm(self, name: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._ssm or self._build("ssm")
        self._ssm = client
        try:
            answer = client.get_parameter(Name=name, WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise SecretUnavailable(f"Could not read SSM parameter {name!r}: {code}",
                                    retryable=code in TRANSIENT_CODES) from exc
        except BotoCoreError as exc:
            raise SecretUnavailable(f"Could not read SSM parameter {name!r}: {type(exc).__name__}",
                                    retryable=True) from exc
        return str(answer["Parameter"]["Value"]).strip()

    def _build(self, service: str) -> Any:
        factory = self._factories.get(service)
        if factory is not None:
            return factory()
        import boto3

        return boto3.client(service, region_name=self._region, endpoint_url=self._endpoint_url)
