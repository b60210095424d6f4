"""What people read: aligned tables, times in the reader's zone and in UTC, colour only
where the terminal shows it (Rich decides, and honours ``NO_COLOR``). Scripts use
``--json`` instead, which prints the API's own JSON."""
from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from scheduler_cli.client import Problem

STATUS_STYLES = {"succeeded": "green", "failed": "bold red", "timed_out": "bold red", "missed": "red",
                 "skipped": "dim", "running": "yellow", "queued": "yellow", "pending": "yellow",
                 "active": "green", "paused": "yellow", "alerting": "bold red", "ok": "green"}
PIPE_WIDTH = 160  # a pipe or a file has no width; tables are not folded at Rich's 80 columns


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def parse_instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: str | None) -> str:
    """``2026-11-29 02:00 CET (01:00Z)``: the reader's local time, then UTC."""
    moment = parse_instant(value)
    if moment is None:
        return value or "-"
    local, utc = moment.astimezone(), moment.astimezone(UTC)
    utc_text = utc.strftime("%H:%MZ") if utc.date() == local.date() else utc.strftime("%Y-%m-%d %H:%MZ")
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({utc_text})"


def styled(value: Any) -> Text:
    text = "-" if value is None else str(value)
    return Text(text, style=STATUS_STYLES.get(text, ""))


def duration(ms: Any) -> str:
    if not isinstance(ms, int | float):
        return "-"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def table(*columns: str) -> Table:
    grid = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    for name in columns:
        grid.add_column(name, no_wrap=True)
    return grid


def problem(out: Console, found: Problem) -> None:
    """Title, detail and field errors, as the server wrote them."""
    status = f"{found.status} " if found.status else ""
    out.print(Text(f"{status}{found.title}", style="bold red"))
    if found.detail and not (found.errors and all(message in found.detail for _, message in found.errors)):
        out.print(f"  {found.detail}", markup=False)  # unless it only repeats the field errors below
    for name, message in found.errors:
        out.print(f"  - {name}: {message}", markup=False)
    for name, value in found.extra.items():
        out.print(f"  {name}: {json.dumps(value, ensure_ascii=False)}", markup=False)


def fields(out: Console, rows: Iterable[tuple[str, Any]]) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for name, value in rows:
        grid.add_row(name, value if isinstance(value, Text) else Text("-" if value is None else str(value)))
    out.print(grid)


def jobs(out: Console, items: list[dict[str, Any]]) -> None:
    grid = table("JOB", "STATE", "SCHEDULE", "NEXT RUN (local / UTC)", "LAST RUN", "ALERT", "FAILURES", "OWNER")
    for job in items:
        last = job.get("lastExecution") or {}
        state = job.get("state") if job.get("dispatchable", True) else "set aside"
        schedule = f"{job.get('cronExpression', '?')} {job.get('timezone', '')}".strip()
        grid.add_row(job["jobName"], styled(state), schedule, when(job.get("nextRunAt")),
                     styled(last.get("status")), styled(job.get("alertState")), str(job.get("consecutiveFailures", "-")),
                     job.get("owner") or "-")
    out.print(grid if items else "No jobs.")


def runs(out: Console, items: list[dict[str, Any]]) -> None:
    grid = table("EXECUTION", "TRIGGER", "SLOT (local / UTC)", "ATTEMPT", "STATUS", "DURATION", "ERROR")
    for run in items:
        error = run.get("error") or {}
        message = f"{error.get('type')}: {error.get('message')}" if error else ""
        grid.add_row(run["executionId"], run.get("trigger", "-"), when(run.get("scheduledFor")), str(run.get("attempt", "-")),
                     styled(run.get("status")), duration(run.get("durationMs")), Text(message[:100]))
    out.print(grid if items else "No runs yet.")


def slots(out: Console, items: list[dict[str, Any]], zone: str) -> None:
    grid = table("UTC", f"IN {zone}", "YOUR TIME", "DST")
    for slot in items:
        moment = parse_instant(slot.get("at"))
        mine = moment.astimezone().strftime("%Y-%m-%d %H:%M %Z") if moment else "-"
        grid.add_row(slot.get("at", "-"), str(slot.get("localTime", "-")).replace("T", " "), mine,
                     Text(slot.get("dstNote") or "", style="yellow"))
    out.print(grid if items else "No upcoming slots.")


def job(out: Console, body: dict[str, Any]) -> None:
    retry = body.get("retry") or {}
    rows: list[tuple[str, Any]] = [
        ("Job", body.get("jobName")),
        ("State", styled(body.get("state"))),
        ("Schedule", f"{body.get('cronExpression')} in {body.get('timezone')}"),
        ("Handler", body.get("handler")),
        ("Payload", json.dumps(body.get("payload"), ensure_ascii=False)),
        ("Retry", f"{retry.get('maxAttempts')} attempts, {retry.get('initialDelaySeconds')} s first delay, "
                  f"at most {retry.get('maxDelaySeconds')} s" if retry else None),
        ("Timeout", f"{body.get('timeoutSeconds')} s"),
        ("Alert after", f"{body.get('alertAfterFailures')} failures"),
        ("Alert state", styled(body.get("alertState"))),
        ("Failures", body.get("consecutiveFailures")),
        ("Next run", when(body.get("nextRunAt"))),
        ("Last success", when(body.get("lastSuccessAt"))),
    ]
    for name, key in (("Owner", "owner"), ("Notify", "notify"), ("Pause reason", "pauseReason"),
                      ("Paused until", "pausedUntil"), ("Retry due", "pendingRetryAt")):
        if body.get(key):
            value = body[key]
            rows.append((name, when(value) if key in ("pausedUntil", "pendingRetryAt") else
                         ", ".join(value) if isinstance(value, list) else value))
    if body.get("setAside"):
        rows.append(("Set aside", Text(str(body["setAside"].get("reason")), style="bold red")))
    fields(out, rows)


def execution(out: Console, body: dict[str, Any]) -> None:
    error = body.get("error") or {}
    rows: list[tuple[str, Any]] = [
        ("Execution", body.get("executionId")), ("Job", body.get("jobName")),
        ("Status", styled(body.get("status"))), ("Trigger", body.get("trigger")),
        ("Slot", when(body.get("scheduledFor"))), ("Attempt", body.get("attempt")),
        ("Started", when(body.get("startedAt"))), ("Finished", when(body.get("finishedAt"))),
        ("Duration", duration(body.get("durationMs"))),
    ]
    if error:
        rows.append(("Error", Text(f"{error.get('type')}: {error.get('message')}", style="red")))
        if error.get("retryable") is False:
            rows.append(("", "(no retry can fix this failure)"))
    if body.get("result") is not None:
        rows.append(("Result", json.dumps(body["result"], ensure_ascii=False)))
    fields(out, rows)


def logs(out: Console, lines: list[dict[str, Any]], truncated: bool) -> None:
    if truncated:
        out.print(Text("(older lines were dropped)", style="dim"))
    grid = table("AT (local / UTC)", "LEVEL", "MESSAGE")
    for line in lines:
        level = str(line.get("level", ""))
        grid.add_row(when(line.get("at")), Text(level, style="red" if level in ("ERROR", "CRITICAL") else ""),
                     Text(str(line.get("message", ""))))
    out.print(grid if lines else "No log lines.")


def status(out: Console, body: dict[str, Any]) -> None:
    counts = body.get("jobs") or {}
    by_state = ", ".join(f"{k} {v}" for k, v in (counts.get("byState") or {}).items()) or "none"
    by_alert = ", ".join(f"{k} {v}" for k, v in (counts.get("byAlertState") or {}).items()) or "none"
    tick = when(body.get("lastTickAt")) if body.get("lastTickAt") else "never"
    fields(out, [
        ("Jobs", by_state), ("Alerts", by_alert), ("Set aside", ", ".join(counts.get("setAside") or []) or "none"),
        ("Overdue", Text(", ".join(body.get("overdue") or []) or "none", style="red" if body.get("overdue") else "")),
        ("Last tick", Text(tick + ("  (stale)" if body.get("tickStale") else ""),
                           style="bold red" if body.get("tickStale") else "")),
        ("At", when(body.get("at"))),
    ])


def replay(out: Console, body: dict[str, Any]) -> None:
    """A replay (or a dry run's plan): its range, status, each slot's progress, and what it leaves out."""
    status_line = Text.assemble(styled(body.get("status")), f"  {body.get('statusDetail') or ''}".rstrip())
    fields(out, [("Replay", body.get("replayId") or "(dry run: nothing stored)"), ("Job", body.get("jobName")),
                 ("Status", status_line), ("Range", f"{when(body.get('from'))} to {when(body.get('to'))}"),
                 ("Only", body.get("only")), ("At most", body.get("maxRuns"))])
    planned = body.get("slots") or []
    grid = table("SLOT (local / UTC)", "JOB'S TIME", "STATE", "OUTCOME", "EXECUTION", "DST")
    for slot in planned:
        grid.add_row(when(slot.get("at")), str(slot.get("localTime", "-")).replace("T", " "), styled(slot.get("state")),
                     styled(slot.get("outcome")), slot.get("executionId") or "-", Text(slot.get("dstNote") or "", style="yellow"))
    out.print(grid if planned else "No slots to run.")
    left_out = body.get("leftOut") or []
    if left_out:
        out.print(Text("Left out:", style="bold"))
        rest = table("SLOT (local / UTC)", "WHY")
        for slot in left_out:
            rest.add_row(when(slot.get("at")), Text(slot.get("detail") or str(slot.get("reason", ""))))
        out.print(rest)


def replays(out: Console, items: list[dict[str, Any]]) -> None:
    grid = table("REPLAY", "STATUS", "FROM (local / UTC)", "TO (local / UTC)", "ONLY", "DONE")
    for item in items:
        slots = item.get("slots") or []
        done = sum(1 for s in slots if s.get("state") == "done")
        grid.add_row(str(item.get("replayId")), styled(item.get("status")), when(item.get("from")), when(item.get("to")),
                     str(item.get("only", "-")), f"{done}/{len(slots)}")
    out.print(grid if items else "No replays.")
