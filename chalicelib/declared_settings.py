"""Settings declared once: each field names its variable, default, accepted form and stages.

A settings class is a frozen dataclass whose fields are made with :func:`setting` (one
environment variable each) or :func:`group` (a nested class declared the same way, such as
the certification job's). :func:`read` is the one loop that turns an environment into the
values and the problems ``GET /health`` reports; :func:`variables` lists the declared
variables for the configuration test and the deployed stages.

A problem never raises: the value falls back (to the default unless declared otherwise)
and the problem names the variable, the accepted form and what is used instead.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping, TypeVar

from chalicelib.core.errors import FieldError

T = TypeVar("T")

Values = Mapping[str, Any]
"""The fields of the same class read so far (declaration order), for checks and derivations."""


class Stage(Enum):
    """Where a variable is set."""

    DEPLOYED = "deployed"  # every deployed stage sets it (.chalice/config.json or the stack)
    LOCAL_ONLY = "local-only"  # the local stack and tests only; never deployed
    RUNTIME = "runtime"  # the Lambda runtime sets it


AS_DEFAULT: Any = object()
"""``Variable.refused`` when a refused value falls back to the default."""


class Unset(Exception):
    """Raised by a parser for a value that means "not set" (blank): the default is used."""


@dataclass(frozen=True)
class Variable:
    """One environment variable: how it is parsed, checked and where it is set.

    ``parse`` turns the raw text (never empty) into a value or raises ``ValueError`` whose
    message is the accepted form. ``low``/``high`` bound a number. ``check`` says why a parsed
    value is refused (None: accepted), ``derive`` gives the value when the variable is unset,
    and ``refused`` is used instead of a refused value, described by ``instead``.
    """

    name: str
    parse: Callable[[str], Any]
    stage: Stage = Stage.DEPLOYED
    fallback: tuple[str, ...] = ()  # read, in order, when ``name`` is unset
    low: float | None = None
    high: float | None = None
    check: Callable[[Any, Values], str | None] | None = None
    derive: Callable[[Values], Any] | None = None
    refused: Any = AS_DEFAULT
    instead: str | None = None  # None: "using the default <default>"; "": nothing is said


def setting(name: str, default: T, *, parse: Callable[[str], Any] = str, stage: Stage = Stage.DEPLOYED,
            fallback: tuple[str, ...] = (), low: float | None = None, high: float | None = None,
            check: Callable[[Any, Values], str | None] | None = None, derive: Callable[[Values], Any] | None = None,
            refused: Any = AS_DEFAULT, instead: str | None = None, secret: bool = False) -> T:
    """A dataclass field read from the variable ``name`` (``secret``: left out of ``repr``)."""
    variable = Variable(name, parse, stage, fallback, low, high, check, derive, refused, instead)
    return dataclasses.field(default=default, repr=not secret, metadata={"variable": variable})


def group(cls: type[T]) -> T:
    """A dataclass field holding a nested settings class, read by the same loop."""
    return dataclasses.field(default_factory=cls, metadata={"group": cls})


def variables(cls: type) -> list[Variable]:
    """Every variable ``cls`` declares, nested groups included, in declaration order."""
    found: list[Variable] = []
    for f in dataclasses.fields(cls):
        if "group" in f.metadata:
            found.extend(variables(f.metadata["group"]))
        elif "variable" in f.metadata:
            found.append(f.metadata["variable"])
    return found


def variable_names(cls: type) -> tuple[str, ...]:
    """The names of every variable ``cls`` reads, its fallbacks included."""
    return tuple(name for v in variables(cls) for name in (v.name, *v.fallback))


def read(cls: type[T], env: Mapping[str, str], problems: list[FieldError]) -> T:
    """The one loop: an instance of ``cls`` from ``env``; each refused value is appended to
    ``problems`` and replaced as its declaration says."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if "group" in f.metadata:
            values[f.name] = read(f.metadata["group"], env, problems)
        elif "variable" in f.metadata:
            values[f.name] = _value(f.metadata["variable"], f.default, env, values, problems)
    return cls(**values)


def _value(v: Variable, default: Any, env: Mapping[str, str], values: Values, problems: list[FieldError]) -> Any:
    raw = next((env.get(name) for name in (v.name, *v.fallback) if env.get(name)), None)

    def refuse(reason: str) -> Any:
        instead = f"using the default {default}" if v.instead is None else v.instead
        problems.append(FieldError(v.name, f"{reason}; {instead}" if instead else reason))
        return default if v.refused is AS_DEFAULT else v.refused

    if raw is None:
        return v.derive(values) if v.derive is not None else default
    try:
        value = v.parse(raw)
    except Unset:
        return v.derive(values) if v.derive is not None else default
    except ValueError as exc:
        return refuse(f"expected {exc}, got {raw!r}")
    if v.low is not None and v.high is not None and not v.low <= value <= v.high:
        return refuse(f"must be from {v.low} to {v.high}, got {value}")
    if v.low is not None and v.high is None and value < v.low:
        return refuse(f"must be at least {v.low}, got {value}")
    reason = v.check(value, values) if v.check is not None else None
    return refuse(reason) if reason is not None else value


# --- parsers: each raises ValueError naming the accepted form --------------------------------


def whole(raw: str) -> int:
    """A whole number in ASCII digits (``int()`` would read other scripts' digits too)."""
    text = raw.strip()
    if not text:
        raise Unset
    if not text.isascii():
        raise ValueError("a whole number")
    try:
        return int(text)
    except ValueError:
        raise ValueError("a whole number") from None


def decimal(raw: str) -> float:
    text = raw.strip()
    if not text:
        raise Unset
    if not text.isascii():
        raise ValueError("a number")
    try:
        return float(text)
    except ValueError:
        raise ValueError("a number") from None


def flag(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


def stripped(raw: str) -> str:
    """Surrounding spaces removed; only spaces is unset."""
    if not raw.strip():
        raise Unset
    return raw.strip()


def words(raw: str) -> tuple[str, ...]:
    """Comma-separated words; none at all is unset."""
    found = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not found:
        raise Unset
    return found
