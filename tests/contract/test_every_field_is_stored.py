"""Every field of every stored model survives both stores, so a field the codec forgets fails.

The models are built by walking ``dataclasses.fields()``: each field, nested values' too,
gets a value other than its default (a field added later gets one without anyone editing
this test), then the value goes through the store and must come back equal.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import enum
import importlib
import itertools
import types
import typing
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.model import UTC, Execution, Job
from chalicelib.core.ports import OrphanedRun, ReplayUpdate
from chalicelib.core.replays import Replay

from .builders import T0

_counter = itertools.count(1)


def _value(hint: Any, name: str, default: Any = None) -> Any:
    """A value of type ``hint`` that no default equals (each call a new one)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _value(next(a for a in args if a is not type(None)), name, default)
    if origin is tuple:
        return (_value(args[0], name),)
    if origin in (dict, collections.abc.Mapping):
        return {"key": f"{name}-{next(_counter)}"}
    if hint is Any:
        return {"summary": name, "count": next(_counter)}
    if dataclasses.is_dataclass(hint):
        return build(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(member for member in reversed(list(hint)) if member != default)
    if hint is bool:
        return default is not True
    if hint is int:
        return 1000 + next(_counter)
    if hint is float:
        return 0.5 + next(_counter)
    if hint is datetime:
        return T0 + timedelta(minutes=next(_counter), milliseconds=7)
    if hint is str:
        return f"{name.replace('_', '-')}-{next(_counter)}"
    raise AssertionError(f"no value for {name}: {hint!r}")


def build(cls: type, **given: Any) -> Any:
    """``cls`` with every field set to a non-default value (``given`` ones as given)."""
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    defaults = {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                for f in fields}
    return cls(**{f.name: given[f.name] if f.name in given else _value(hints[f.name], f.name, defaults[f.name])
                  for f in fields})


def no_field_at_its_default(instance: Any, where: str = "") -> list[str]:
    """The fields of ``instance`` (nested dataclasses' too) that hold their default."""
    found = []
    for f in dataclasses.fields(instance):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        value = getattr(instance, f.name)
        path = f"{where or type(instance).__name__}.{f.name}"
        if value == default:
            found.append(path)
        for item in (value if isinstance(value, tuple) else (value,)):
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                found.extend(no_field_at_its_default(item, path))
    return found


def _job(name: str = "every-field") -> Job:
    last = build(Execution, job_name=name)
    job = build(Job, last_execution=last, version=0)  # the store sets the version
    return dataclasses.replace(job, definition=dataclasses.replace(job.definition, job_name=name,
                                                                   cron_expression="0 2 * * *",
                                                                   timezone="Europe/Oslo"))


def test_a_job_with_every_field_set_comes_back_equal(store):
    job = _job()
    store.create_job(job)
    stored = store.commit(job, expected_version=0)
    assert stored == dataclasses.replace(job, version=1)
    assert store.get_job(job.name) == stored
    assert no_field_at_its_default(stored) == []


def test_an_execution_with_every_field_set_comes_back_equal(store):
    job = _job()
    store.create_job(job)
    execution = build(Execution, job_name=job.name)
    store.commit(job, expected_version=0, new_executions=[execution])
    assert store.get_execution(job.name, execution.execution_id) == execution
    assert no_field_at_its_default(execution) == []


def test_a_replay_with_every_field_set_comes_back_equal(store):
    job = _job()
    store.create_job(job)
    replay = build(Replay, job_name=job.name, version=0)
    store.commit(job, expected_version=0, replay=ReplayUpdate(replay, expected_version=None))
    stored = store.get_replay(job.name, replay.replay_id)
    assert stored == dataclasses.replace(replay, version=1)
    assert no_field_at_its_default(stored) == []


def test_an_orphaned_run_with_every_field_set_comes_back_equal(store):
    job = _job()
    store.create_job(job)
    orphan = build(OrphanedRun, job_name=job.name)
    store.delete_job(job.name, expected=job, orphan=orphan)
    assert store.orphaned_runs(datetime(2100, 1, 1, tzinfo=UTC), limit=10) == [orphan]
    assert no_field_at_its_default(orphan) == []


def test_a_maintenance_window_with_every_field_set_comes_back_equal(store):
    window = build(MaintenanceWindow)
    store.save_maintenance_windows([window], expected_version=0)
    assert store.maintenance_windows().windows == (window,)
    assert no_field_at_its_default(window) == []


def test_a_notification_channel_with_every_field_set_comes_back_equal(store):
    try:  # notification channels are newer than the other models
        channels = importlib.import_module("chalicelib.core.channels")
    except ModuleNotFoundError:
        return
    channel = build(channels.Channel)
    store.put_channel(channel)
    assert store.get_channel(channel.name) == channel
    assert no_field_at_its_default(channel) == []
