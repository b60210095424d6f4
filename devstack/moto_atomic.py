"""Make moto's DynamoDB apply each request atomically, as DynamoDB does, and cheaply.

Real DynamoDB serialises writes to an item and applies a transaction all at once;
moto does neither across threads (a failed transaction even restores a snapshot
taken before other threads' writes). The local stack (API, dispatcher and workers on
threads of one process) and the concurrency tests wrap moto's operations in one lock,
so what they exercise is the scheduler's conditions and not moto's races.

Under that lock a transaction can also roll back item by item. moto snapshots every
table a transaction touches with ``copy.deepcopy`` before it starts, so each
``TransactWriteItems`` costs time in proportion to the whole table: with 1,000 jobs and
a growing execution history the local stack spent most of a busy minute copying
tables. Here only the items the transaction names are saved and, if moto cancels the
transaction, put back; nobody else can write in between, so the outcome is the same.

For the same reason a Query on a table's own key reads only that key's items. moto
gathers and sorts every item of the table for each Query, so listing one job's runs
cost time in proportion to every run of every job (30 ms and growing with 1,000
every-minute jobs). Under the lock the table is narrowed to the one partition for the
call; moto then sorts, pages and filters exactly as before. Index queries are unchanged.
"""
from __future__ import annotations

import copy
import functools
import threading
from typing import Any, Callable

OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_write_items")
_LOCK = threading.RLock()

SetAttr = Callable[[Any, str, Any], None]


class _TablesKeptInPlace:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: a ``Table`` is
    "copied" as itself, so moto's whole-table snapshot costs nothing (and its "restore"
    assigns the same table back). Everything else is copied as usual."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _named_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    """``(table, hash, range)`` of each item a transaction names; entries moto would reject
    before writing anything are left out (moto raises for them itself)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    named = []
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            attrs = op["Item"] if "Item" in op else op["Key"]
            hash_value = DynamoType(attrs[table.hash_key_attr])
            range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, StopIteration, TypeError, AttributeError):
            continue
        named.append((table, hash_value, range_value))
    return named


def _with_item_rollback(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        saved = [(table, h, r, copy.deepcopy(table.get_item(h, r)))
                 for table, h, r in _named_items(self, transact_items)]
        try:
            return original(self, transact_items, *args, **kwargs)
        except BaseException:
            for table, h, r, item in reversed(saved):  # the earliest snapshot of an item wins
                if item is None:
                    table.delete_item(h, r)  # created by the cancelled transaction
                elif r is None:
                    table.items[h] = item
                else:
                    table.items[h][r] = item
            raise

    return transact_write_items


def _with_partition_lookup(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs["index_name"] if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        everything = self.items
        self.items = {hash_key: everything[hash_key]} if hash_key in everything else {}
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            self.items = everything

    return query


def serialise_dynamodb(setattr_: SetAttr = setattr) -> None:
    """Wrap moto's DynamoDB backend operations in one process-wide lock, let a
    transaction roll back item by item instead of copying whole tables, and let a
    Query on a table's own key read that key's partition only.

    ``setattr_`` lets a test pass ``monkeypatch.setattr`` so the patch is undone.
    Wrapping twice is harmless (the lock is re-entrant; a second item-level wrapper
    saves the same items again).
    """
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    setattr_(models, "copy", _TablesKeptInPlace(Table))
    setattr_(Table, "query", _with_partition_lookup(Table.query))  # called only under the lock below
    for name in OPERATIONS:
        original = getattr(DynamoDBBackend, name)
        if name == "transact_write_items":
            original = _with_item_rollback(original)

        @functools.wraps(original)  # type: ignore[arg-type]
        def serialised(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _LOCK:
                return __original(self, *args, **kwargs)

        setattr_(DynamoDBBackend, name, serialised)
