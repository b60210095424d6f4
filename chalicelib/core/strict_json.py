"""Strict JSON: what the scheduler reads, stores and answers is JSON and nothing else.

JSON (RFC 8259) has no ``NaN`` or ``Infinity``, and its text is Unicode, in which a lone
UTF-16 surrogate (``"\\ud800"``) is not a character. Python's ``json`` accepts both and
writes them back (``NaN``; an unpaired surrogate a UTF-8 encoder refuses), so the fault
surfaces far from its cause: a browser's ``JSON.parse`` fails on a whole listing, a store
write fails with a 500. Here:

* :func:`loads` parses strictly: ``NaN``, ``Infinity``, ``-Infinity`` and numbers beyond
  a double's range (``1e999``) become :class:`Unrepresentable` values, so that the caller
  decides what they mean; an object naming a member twice is refused
  (:class:`DuplicateMember`), where Python would silently keep the last. A request refuses them (:func:`problems` names the field); a
  job's result keeps them as a marker (:func:`sanitize`).
* :func:`problems` lists what a request may not carry, each as the field it is in:
  unrepresentable numbers, lone surrogates in keys or strings, nesting deeper than a
  limit, values that are not JSON at all. The walk is iterative: no input makes it raise.
* :func:`sanitize` makes any value storable and answerable: an unrepresentable number
  becomes ``{"$unrepresentable": "<its JSON text>"}``, a lone surrogate U+FFFD, and a
  level past :data:`MAX_DEPTH` ``{"$truncated": "..."}``.
* :func:`dumps` never writes anything but JSON (``allow_nan=False``, then
  :func:`sanitize` as the fallback).
"""
from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from typing import Any, Iterator

from chalicelib.core.errors import FieldError

MAX_DEPTH = 32
"""Levels of nesting a payload may have (``{}`` is one). Far below what the stores and
Python's own recursion hold once a payload sits inside a job's document (the DynamoDB
store failed near 960); the same limit cuts a stored result."""

UNREPRESENTABLE = "$unrepresentable"
TRUNCATED = "$truncated"

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_INT_DIGITS = 309  # beyond this many digits an integer is out of a double's range too


@dataclass(frozen=True)
class Unrepresentable:
    """A JSON number with no IEEE-754 double value (``NaN``, ``Infinity``, ``1e999``),
    kept as the text it was written as."""

    text: str


class DuplicateMember(ValueError):
    """A JSON object names the same member twice; ``field`` is where (``payload.a``)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is given more than once")
        self.field = field


class _Duplicated(dict):  # type: ignore[type-arg]
    """An object that named ``duplicate`` twice: made and found only inside :func:`loads`."""

    duplicate: str


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    duplicate = None
    for name, value in pairs:
        if duplicate is None and name in members:
            duplicate = name
        members[name] = value
    if duplicate is None:
        return members
    marked = _Duplicated(members)
    marked.duplicate = duplicate
    return marked


def _parse_float(text: str) -> float | Unrepresentable:
    value = float(text)
    return value if math.isfinite(value) else Unrepresentable(text)


def _parse_int(text: str) -> int | Unrepresentable:
    # int() refuses more than 4300 digits with a ValueError that is not a JSONDecodeError.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        return Unrepresentable(text)
    value = int(text)
    return value if abs(value) <= sys.float_info.max else Unrepresentable(text)


def loads(text: str | bytes) -> Any:
    """Parse JSON text; non-finite and out-of-range numbers become :class:`Unrepresentable`.

    Raises ``ValueError`` (``json.JSONDecodeError``, ``UnicodeDecodeError``) for text that
    is not JSON, :class:`DuplicateMember` (a ``ValueError``) for an object naming a member
    twice, and ``RecursionError`` for nesting Python's parser cannot follow.
    """
    duplicated: list[bool] = []

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        made = _members(pairs)
        if isinstance(made, _Duplicated):
            duplicated.append(True)
        return made

    value = json.loads(text, parse_constant=Unrepresentable, parse_float=_parse_float, parse_int=_parse_int,
                       object_pairs_hook=members)
    if duplicated:  # where: the first marked object, walking from the top
        for node, here, _ in _walk(value, "", 1):
            if isinstance(node, _Duplicated):
                raise DuplicateMember(_child(here, node.duplicate))
    return value


def _escape(text: str) -> str:
    """A key as a field name may show it: lone surrogates written as ``\\udXXX``."""
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _child(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    name = _escape(str(key))
    return f"{path}.{name}" if path else name


def _walk(value: Any, path: str, depth: int) -> Iterator[tuple[Any, str, int]]:
    """Every (value, field, depth) below ``value`` (itself first), depth first, iteratively."""
    stack = [(value, path, depth)]
    while stack:
        item = stack.pop()
        yield item
        node, here, level = item
        if isinstance(node, dict):
            stack.extend((v, _child(here, k), level + 1) for k, v in reversed(list(node.items())))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, _child(here, i), level + 1) for i, v in reversed(list(enumerate(node))))


def problems(value: Any, field: str = "", *, max_depth: int | None = None) -> list[FieldError]:
    """What a request may not carry in ``value`` (found at ``field``), one error per field.

    ``max_depth`` counts ``value`` itself as level 1 when it is an object or array; a
    structure deeper than that is one error on ``field`` and is not searched further.
    """
    errors: list[FieldError] = []
    for node, here, level in _walk(value, field, 1):
        name = here or "body"
        if isinstance(node, (dict, list, tuple)):
            if max_depth is not None and level > max_depth:
                return [FieldError(field or "body", f"is nested more than {max_depth} levels deep")]
            if isinstance(node, dict):
                for key in node:
                    if not isinstance(key, str):
                        errors.append(FieldError(name, f"has a key that is not a string ({type(key).__name__})"))
                    elif _LONE_SURROGATE.search(key):
                        errors.append(FieldError(_child(here, key), "is a key with a lone UTF-16 surrogate, which "
                                                                    "is not Unicode text; send the whole character"))
        elif isinstance(node, Unrepresentable) or (isinstance(node, float) and not math.isfinite(node)):
            text = node.text if isinstance(node, Unrepresentable) else repr(node)
            errors.append(FieldError(name, f"is {text}, a number JSON cannot carry (NaN, Infinity or out of "
                                           "range of a double)"))
        elif isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                errors.append(FieldError(name, "has a lone UTF-16 surrogate, which is not Unicode text; "
                                               "send the whole character"))
        elif node is not None and not isinstance(node, (bool, int, float)):
            errors.append(FieldError(name, f"is a {type(node).__name__}, which is not a JSON value"))
    return errors


def _clean_text(text: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", text)


def sanitize(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` made JSON that any parser and UTF-8 encoder takes.

    Unrepresentable numbers become ``{"$unrepresentable": text}``, lone surrogates
    U+FFFD, an object or array past ``max_depth`` ``{"$truncated": ...}``; other types
    are left as they are (the caller's ``dumps`` decides about them).
    """
    return _sanitize(value, 1, max_depth)


def _sanitize(value: Any, level: int, max_depth: int) -> Any:
    if isinstance(value, (dict, list, tuple)) and level > max_depth:
        return {TRUNCATED: f"nested more than {max_depth} levels deep"}
    if isinstance(value, dict):
        return {(_clean_text(k) if isinstance(k, str) else k): _sanitize(v, level + 1, max_depth)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v, level + 1, max_depth) for v in value]
    if isinstance(value, Unrepresentable):
        return {UNREPRESENTABLE: value.text}
    if isinstance(value, float) and not math.isfinite(value):
        return {UNREPRESENTABLE: "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, str):
        return _clean_text(value)
    return value


def dumps(value: Any, **options: Any) -> str:
    """JSON text, never ``NaN``/``Infinity``: a value that needs it is :func:`sanitize`\\ d
    first. ``TypeError`` for values that are not JSON at all, as ``json.dumps``."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except (ValueError, RecursionError):  # NaN, a cycle or a depth json cannot follow
        return json.dumps(sanitize(value), allow_nan=False, **options)
