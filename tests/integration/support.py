"""Helpers for the integration tests: arranging data by SQL, building run contexts."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
import psycopg.rows

from chalicelib.core.context import RunContext
from chalicelib.core.model import Trigger, idempotency_key_for

# Looks like a JWT (three base64url parts), so the client also sends it as a bearer.
SERVICE_KEY = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.dGVzdC1vbmx5LXNpZ25hdHVyZQ"
JOB = "certification-expiry-check"
TABLES = ("certification_expiry_notices", "peer_mentor_status_events", "peer_mentor_certifications", "peer_mentors")


@dataclass
class Db:
    """Direct SQL on the test database (as the superuser), for arranging and asserting."""

    conn: psycopg.Connection

    def add_mentor(self, *expires: str | date, status: str = "active", name: str | None = None,
                   pause_reason: str | None = None) -> str:
        mentor_id = str(uuid.uuid4())
        self.conn.execute(
            "INSERT INTO peer_mentors (id, display_name, status, pause_reason, paused_at) "
            "VALUES (%s, %s, %s, %s, CASE WHEN %s = 'paused' THEN now() - interval '3 days' END)",
            [mentor_id, name or f"mentor {mentor_id[:8]}", status, pause_reason, status],
        )
        for expires_on in expires:
            self.add_certification(mentor_id, expires_on)
        return mentor_id

    def add_certification(self, mentor_id: str, expires_on: str | date, cert_type: str = "peer_mentor") -> str:
        cert_id = str(uuid.uuid4())
        self.conn.execute(
            "INSERT INTO peer_mentor_certifications (id, peer_mentor_id, certification_type, expires_on) "
            "VALUES (%s, %s, %s, %s)",
            [cert_id, mentor_id, cert_type, str(expires_on)],
        )
        return cert_id

    def mentor(self, mentor_id: str) -> dict[str, Any]:
        with self.conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            row = cur.execute("SELECT * FROM peer_mentors WHERE id = %s", [mentor_id]).fetchone()
        assert row is not None
        return row

    def status(self, mentor_id: str) -> str:
        return self.mentor(mentor_id)["status"]

    def notices(self) -> set[tuple[str, str, int]]:
        """(mentor id, certification id, threshold) of every notice."""
        rows = self.conn.execute(
            "SELECT peer_mentor_id::text, certification_id::text, threshold_days FROM certification_expiry_notices"
        ).fetchall()
        return {(m, c, t) for m, c, t in rows}

    def notice_thresholds(self, mentor_id: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT threshold_days FROM certification_expiry_notices WHERE peer_mentor_id = %s ORDER BY 1 DESC",
            [mentor_id],
        ).fetchall()
        return [r[0] for r in rows]

    def events(self) -> list[tuple[str, str, str, str, str]]:
        """(mentor id, from, to, reason, idempotency key) of every status event."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT peer_mentor_id::text, from_status, to_status, reason, idempotency_key "
            "FROM peer_mentor_status_events ORDER BY id"
        ).fetchall()]

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def snapshot(self) -> tuple[Any, ...]:
        """Everything the check may change, for "nothing changed" assertions."""
        return tuple(
            self.conn.execute(query).fetchall()
            for query in (
                "SELECT id, status, pause_reason, paused_at, updated_at FROM peer_mentors ORDER BY id",
                "SELECT certification_id, threshold_days FROM certification_expiry_notices ORDER BY 1, 2",
                "SELECT peer_mentor_id, to_status FROM peer_mentor_status_events ORDER BY 1",
            )
        )


def run_context(scheduled_for: datetime, *, payload: dict[str, Any] | None = None, attempt: int = 1,
                idempotency_key: str | None = None, timezone: str = "Europe/Oslo",
                trigger: Trigger = Trigger.SCHEDULE, triggered_by: str | None = None) -> RunContext:
    return RunContext(
        job_name=JOB,
        execution_id=f"test-a{attempt:02d}",
        scheduled_for=scheduled_for,
        attempt=attempt,
        trigger=trigger,
        idempotency_key=idempotency_key or idempotency_key_for(JOB, scheduled_for),
        payload=payload or {},
        timezone=timezone,
        logger=logging.getLogger("tests.certification"),
        triggered_by=triggered_by,
    )

