"""Make moto's DynamoDB apply each request atomically, as DynamoDB does.

Real DynamoDB serialises writes to an item and applies a transaction all at once;
moto does neither across threads (a failed transaction even restores a snapshot
taken before other threads' writes). The local stack's threaded moto server and the
concurrency tests wrap moto's operations in one lock, so what they exercise is the
scheduler's conditions and not moto's races.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable

OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_write_items")
_LOCK = threading.RLock()

SetAttr = Callable[[Any, str, Any], None]


def serialise_dynamodb(setattr_: SetAttr = setattr) -> None:
    """Wrap moto's DynamoDB backend operations in one process-wide lock.

    ``setattr_`` lets a test pass ``monkeypatch.setattr`` so the patch is undone.
    Wrapping twice is harmless (the lock is re-entrant).
    """
    from moto.dynamodb.models import DynamoDBBackend

    for name in OPERATIONS:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)  # type: ignore[arg-type]
        def serialised(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _LOCK:
                return __original(self, *args, **kwargs)

        setattr_(DynamoDBBackend, name, serialised)
