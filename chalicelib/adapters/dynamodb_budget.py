"""The callers' manual-trigger budget in DynamoDB: one atomic counter per caller and minute.

The counts live in the executions table, beside the jobs' partitions (key layout on
:class:`~chalicelib.adapters.dynamodb_models.ExecutionItem`), and go with its TTL.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from pynamodb.connection import Connection

from chalicelib.adapters.dynamodb_errors import ConditionFailed, translated
from chalicelib.adapters.dynamodb_models import (
    TRIGGER_BUDGET_PARTITION,
    TRIGGER_BUDGET_PREFIX,
    ExecutionItem,
    epoch_seconds,
)
from chalicelib.core.codec import encode_time

MAX_CALLER_KEY_BYTES = 256
"""A longer caller id is keyed by its digest (a partition key holds at most 2,048 bytes)."""


def caller_key(caller: str) -> str:
    if len(caller.encode()) <= MAX_CALLER_KEY_BYTES:
        return caller
    return "sha256:" + hashlib.sha256(caller.encode()).hexdigest()


def take_trigger_budget(connection: Connection, model: type[ExecutionItem], caller: str, minute: datetime, *,
                        per_minute: int, expires_at: datetime) -> bool:
    """See :meth:`~chalicelib.core.ports.Store.take_trigger_budget`: one UpdateItem."""
    try:
        with translated("UpdateItem"):
            connection.update_item(
                model.Meta.table_name, TRIGGER_BUDGET_PARTITION + caller_key(caller),
                range_key=TRIGGER_BUDGET_PREFIX + encode_time(minute),
                actions=[model.spent.add(1), model.expires_at.set(epoch_seconds(expires_at))],
                # Counted only while under the budget: the minute's first trigger, or fewer than allowed.
                condition=model.spent.does_not_exist() | (model.spent < per_minute),
            )
    except ConditionFailed:
        return False
    return True
