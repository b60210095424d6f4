"""DynamoDB errors translated at the edge: throttling or an outage that outlasted
botocore's retries becomes ``StoreUnavailable``; a lost condition is for the caller."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException

from chalicelib.core.errors import StoreUnavailable

UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


UNAVAILABLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})


LOST_RACE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


def response_code(exc: PynamoDBException) -> str | None:
    """DynamoDB's error code, if it answered at all.

    Not PynamoDB's ``cause_response_code``: botocore's read timeout carries
    ``response=None``, on which that property raises ``AttributeError``.
    """
    response = getattr(exc.cause, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def is_unavailable(exc: PynamoDBException) -> bool:
    if isinstance(exc.cause, BotoCoreError):  # no answer at all: connection failures, timeouts
        return True
    return response_code(exc) in UNAVAILABLE_CODES


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Throttling or an outage that outlasted botocore's retries becomes ``StoreUnavailable``."""
    try:
        yield
    except PynamoDBException as exc:
        if is_unavailable(exc):
            raise StoreUnavailable(
                f"DynamoDB {operation} kept failing after retries "
                f"({response_code(exc) or type(exc.cause).__name__}); try again shortly."
            ) from exc
        raise
    except BotoCoreError as exc:  # no answer at all (connection refused, reset, read timeout)
        raise StoreUnavailable(f"DynamoDB {operation} got no answer ({type(exc).__name__}); try again shortly.") from exc


def answer(raw: object, operation: str) -> dict[str, Any]:
    """A low-level call's answer; an empty one (an overloaded endpoint) is an outage, not data."""
    if not isinstance(raw, dict):
        raise StoreUnavailable(f"DynamoDB {operation} returned no answer; try again shortly.")
    return raw
