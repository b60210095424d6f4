"""Reading the write-sharded due index: every shard queried concurrently, merged oldest first.

The page's cursor holds, per shard, where its query stopped (the key of the last entry
taken from it), or that it is exhausted; a shard is read again only from there, so ties
on ``dueAt`` (a busy 02:00) never lose or repeat an entry.
"""
from __future__ import annotations

import heapq
import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb_errors import answer, translated
from chalicelib.adapters.dynamodb_models import due_index_key, due_shard_key
from chalicelib.core.codec import readable_set_aside
from chalicelib.core.cursor import due_cursor, due_cursor_position
from chalicelib.core.errors import InvalidCursor
from chalicelib.core.model import SetAside, parse_iso


def read_due_page(connection: Any, model: Any, read_shards: int, now: datetime, limit: int,
                  cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Every shard queried concurrently (one Query each), merged oldest first.

    The cursor holds, per shard, where its query stopped (the last entry taken from
    it), or that it is exhausted; a shard is read again only from there.
    """
    positions = due_cursor_position(cursor) if cursor else {}
    if not all(v == "done" or isinstance(v, dict) for v in positions.values()):
        raise InvalidCursor()
    shards = [due_shard_key(n) for n in range(read_shards)]
    live = [s for s in shards if positions.get(s) != "done"]
    key = due_index_key(now)

    def query(shard: str) -> list[dict[str, Any]]:
        with translated("Query"):
            raw = connection.query(
                model.Meta.table_name, shard,
                range_key_condition=model.due_at <= key,
                index_name=model.due_index.Meta.index_name,
                exclusive_start_key=positions.get(shard), scan_index_forward=True, limit=limit,
            )
        items = answer(raw, "Query").get("Items", [])
        if "LastEvaluatedKey" not in raw and len(items) < limit:
            items.append({"__exhausted__": shard})
        return items

    if len(live) > 1:
        with ThreadPoolExecutor(max_workers=min(len(live), 8), thread_name_prefix="due-query") as pool:
            answers = dict(zip(live, pool.map(query, live), strict=True))
    else:
        answers = {shard: query(shard) for shard in live}
    exhausted = {s for s, items in answers.items() if items and "__exhausted__" in items[-1]} | \
        {s for s, items in answers.items() if not items}
    streams = [[(item["dueAt"]["S"], item["jobName"]["S"], shard, item) for item in items if "__exhausted__" not in item]
               for shard, items in answers.items()]
    taken = list(itertools.islice(heapq.merge(*streams, key=lambda entry: (entry[0], entry[1])), limit))
    next_positions = {s: v for s, v in positions.items() if v == "done"}
    for shard in live:
        mine = [entry for entry in taken if entry[2] == shard]
        returned = len([i for i in answers[shard] if "__exhausted__" not in i])
        if mine:
            last = mine[-1][3]
            next_positions[shard] = {"jobName": last["jobName"], "dueShard": last["dueShard"], "dueAt": last["dueAt"]}
        elif shard in positions:
            next_positions[shard] = positions[shard]
        if shard in exhausted and len(mine) == returned:
            next_positions[shard] = "done"
    more = any(next_positions.get(s) != "done" for s in shards) and len(taken) == limit
    next_cursor = due_cursor(next_positions) if more else None
    return [entry[3] for entry in taken], next_cursor


def due_at_of(raw: dict[str, Any]) -> datetime | None:
    try:
        return parse_iso(raw["dueAt"]["S"])
    except (KeyError, TypeError, ValueError):
        return None


def set_aside_of(raw: dict[str, Any]) -> SetAside | None:
    """The set-aside attribute of a raw item that PynamoDB could not load."""
    try:
        text = raw["setAside"]["S"]
    except (KeyError, TypeError):
        return None
    try:
        return readable_set_aside(json.loads(text))
    except ValueError:
        return None
