"""The replays, maintenance windows and notification channels of the DynamoDB store.

Key layout: a replay is an :class:`~chalicelib.adapters.dynamodb_models.ExecutionItem`
under its job's partition, SK ``"R#" + replay id``, with its own ``version``; the
maintenance windows are one :class:`~chalicelib.adapters.dynamodb_models.JobItem`,
``jobName`` ``"#maintenance-windows"``; a channel is a ``JobItem`` with ``jobName``
``"#channel#" + name``. No job name starts with '#', so neither is ever read as a job.
"""
from __future__ import annotations

from typing import Sequence

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.dynamodb_errors import answer, translated
from chalicelib.adapters.dynamodb_models import (
    CHANNEL_PREFIX,
    REPLAY_PREFIX,
    WINDOWS_KEY,
    BoundTables,
    ExecutionItem,
    epoch_seconds,
)
from chalicelib.adapters.store_support import check_limit, replays_cursor, replays_cursor_position
from chalicelib.core.channels import Channel, ChannelNotFound
from chalicelib.core.errors import ConcurrentUpdate
from chalicelib.core.maintenance import MaintenanceWindow
from chalicelib.core.ports import Page, WindowSet
from chalicelib.core.replay_codec import ReplayRecord, replay_from_record, replay_to_record
from chalicelib.core.replays import Replay
from chalicelib.core.stack_codec import (
    channel_from_document,
    channel_to_document,
    window_from_document,
    window_to_document,
)


class ReplayRecords(BoundTables):
    """The :class:`~chalicelib.core.ports.Store` operations on replays (a part of ``DynamoDBStore``)."""

    def get_replay(self, job_name: str, replay_id: str) -> Replay | None:
        with translated("GetItem"):
            try:
                item = self._Execution.get(job_name, REPLAY_PREFIX + replay_id, consistent_read=True)
            except DoesNotExist:
                return None
        return replay_from_record(ReplayRecord(item.doc, int(item.version or 0)))

    def list_replays(self, job_name: str, *, limit: int, cursor: str | None) -> Page[Replay]:
        check_limit(limit)
        start = None
        if cursor:
            before = replays_cursor_position(cursor, job_name)
            start = {"jobName": {"S": job_name}, "sk": {"S": REPLAY_PREFIX + before}}
        with translated("Query"):
            results = self._Execution.query(job_name, range_key_condition=self._Execution.sk.startswith(REPLAY_PREFIX),
                                            scan_index_forward=False, limit=limit, last_evaluated_key=start)
            replays = [replay_from_record(ReplayRecord(item.doc, int(item.version or 0))) for item in results]
            last_key = results.last_evaluated_key
        next_cursor = replays_cursor(job_name, last_key["sk"]["S"][len(REPLAY_PREFIX):]) if last_key else None
        return Page(items=replays, next_cursor=next_cursor)

    def _replay_item(self, replay: Replay) -> ExecutionItem:
        record = replay_to_record(replay)
        return self._Execution(
            replay.job_name,
            REPLAY_PREFIX + replay.replay_id,
            version=record.version,
            expires_at=epoch_seconds(replay.expires_at) if replay.expires_at is not None else None,
            doc=record.doc,
        )


class StackSettingsRecords(BoundTables):
    """The :class:`~chalicelib.core.ports.Store` operations on the maintenance windows and the
    notification channels (a part of ``DynamoDBStore``)."""

    def maintenance_windows(self) -> WindowSet:
        with translated("GetItem"):
            raw = self._connection.get_item(self._Job.Meta.table_name, WINDOWS_KEY, consistent_read=True)
        item = answer(raw, "GetItem").get("Item")
        if item is None:
            return WindowSet()
        record = self._Job.from_raw_data(item)
        return WindowSet(tuple(window_from_document(doc) for doc in record.doc["windows"]), int(record.version))

    def save_maintenance_windows(self, windows: Sequence[MaintenanceWindow], *, expected_version: int) -> WindowSet:
        Job_ = self._Job
        # Still as the caller read it: at its version, or absent when it read none.
        condition = Job_.job_name.does_not_exist() if expected_version == 0 else Job_.version == expected_version
        item = Job_(WINDOWS_KEY, version=expected_version + 1, doc={"windows": [window_to_document(w) for w in windows]})
        lost = f"Maintenance windows are no longer at version {expected_version}."
        with translated("PutItem", lost=lambda: ConcurrentUpdate(lost)):
            item.save(condition=condition)
        return WindowSet(tuple(windows), expected_version + 1)

    def put_channel(self, channel: Channel) -> None:
        with translated("PutItem"):
            self._Job(CHANNEL_PREFIX + channel.name, version=0, doc=channel_to_document(channel)).save()

    def get_channel(self, name: str) -> Channel | None:
        with translated("GetItem"):
            raw = self._connection.get_item(self._Job.Meta.table_name, CHANNEL_PREFIX + name, consistent_read=True)
        item = answer(raw, "GetItem").get("Item")
        return None if item is None else channel_from_document(self._Job.from_raw_data(item).doc)

    def list_channels(self) -> list[Channel]:
        """A filtered Scan of the jobs table (an admin listing, as ``list_jobs`` is)."""
        with translated("Scan"):
            items = list(self._Job.scan(self._Job.job_name.startswith(CHANNEL_PREFIX)))
        return sorted((channel_from_document(item.doc) for item in items), key=lambda c: c.name)

    def delete_channel(self, name: str) -> None:
        with translated("DeleteItem", lost=lambda: ChannelNotFound(name)):
            # Only an existing channel can be deleted (ChannelNotFound otherwise).
            self._Job(CHANNEL_PREFIX + name).delete(condition=self._Job.job_name.exists())
