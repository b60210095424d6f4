"""DynamoDB errors translated at the edge, in one place (:func:`translated`): throttling
or an outage that outlasted botocore's retries becomes ``StoreUnavailable``; a failed
condition (of one write, or of a transaction) becomes the domain error the caller names."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException, TransactWriteError

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


class ConditionFailed(Exception):
    """A conditional write's condition did not hold; :func:`translated` raises it when its
    caller names no domain error for that (one that answers ``False`` catches it)."""


@contextmanager
def translated(operation: str, *, lost: Callable[[], Exception] = ConditionFailed) -> Iterator[None]:
    """Storage errors as domain errors: a failed condition (``ConditionalCheckFailedException``,
    or a transaction cancelled for a failed condition or a conflict) becomes ``lost()``;
    throttling or an outage that outlasted botocore's retries becomes ``StoreUnavailable``;
    anything else (a bug, a missing table) propagates."""
    try:
        yield
    except TransactWriteError as exc:
        reasons = {reason.code for reason in exc.cancellation_reasons if reason is not None}
        if reasons & LOST_RACE_REASONS:
            raise lost() from exc
        if reasons & UNAVAILABLE_REASONS:
            raise StoreUnavailable(
                f"DynamoDB throttled {operation} ({', '.join(sorted(reasons))}); try again shortly.") from exc
        _raise_if_unavailable(exc, operation)
        raise
    except PynamoDBException as exc:
        if response_code(exc) == "ConditionalCheckFailedException":
            raise lost() from exc
        _raise_if_unavailable(exc, operation)
        raise
    except BotoCoreError as exc:  # no answer at all (connection refused, reset, read timeout)
        raise StoreUnavailable(f"DynamoDB {operation} got no answer ({type(exc).__name__}); try again shortly.") from exc


def _raise_if_unavailable(exc: PynamoDBException, operation: str) -> None:
    if is_unavailable(exc):
        raise StoreUnavailable(
            f"DynamoDB {operation} kept failing after retries "
            f"({response_code(exc) or type(exc.cause).__name__}); try again shortly."
        ) from exc


def answer(raw: object, operation: str) -> dict[str, Any]:
    """A low-level call's answer; an empty one (an overloaded endpoint) is an outage, not data."""
    if not isinstance(raw, dict):
        raise StoreUnavailable(f"DynamoDB {operation} returned no answer; try again shortly.")
    return raw
