"""The ``scheduler`` commands: each is one or a few REST calls and one way to print them.

Exit codes: 0 done; 2 refused (a 4xx answer, a usage error, a missing setting); 1 a run
that failed (``trigger --wait``), a server error or no answer.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Callable, TextIO

import click
from rich.console import Console
from rich.text import Text

from scheduler_cli import render
from scheduler_cli.client import ApiClient, Refused, segment
from scheduler_cli.inputs import instant, json_object
from scheduler_cli.session import EXAMPLE_URL, SchedulerGroup, Session
from scheduler_cli.wait import wait_for_slot

json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (for scripts) instead of a table.")


@click.group(cls=SchedulerGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--url", envvar="SCHEDULER_URL", metavar="URL", show_envvar=True,
              help=f"The API's base, e.g. {EXAMPLE_URL}.")
@click.option("--token", envvar="SCHEDULER_TOKEN", metavar="TOKEN", show_envvar=True,
              help="A bearer token: a service_role key, an admin's token, or the one make run prints.")
@click.pass_context
def cli(ctx: click.Context, url: str | None, token: str | None) -> None:
    """Operate the nightly scheduler over its REST API (the deployed stack or make run).

    Times are shown in your local zone and in UTC. Exit codes: 0 done, 1 a run failed
    (or the server failed), 2 the request was refused.
    """
    session = Session(url, token)
    ctx.obj = session
    ctx.call_on_close(session.close)


def api(ctx: click.Context) -> ApiClient:
    session: Session = ctx.find_object(Session)  # type: ignore[assignment]
    return session.client


def job_path(name: str, *rest: str) -> str:
    return "/".join([f"/jobs/{segment(name)}", *(segment(part) for part in rest)])


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------- reading


@cli.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Jobs by state and alert, overdue jobs, the dispatcher's last tick."""
    body = api(ctx).call("GET", "/status")
    render.print_json(body) if as_json else render.status(render.console(), body)


@cli.command()
@click.option("--owner", help="Only jobs with this owner label.")
@click.option("--state", type=click.Choice(["active", "paused"]), help="Only jobs in this state.")
@click.option("--page-size", type=click.IntRange(1, 100), default=100, show_default=True, help="Jobs per request.")
@json_option
@click.pass_context
def jobs(ctx: click.Context, owner: str | None, state: str | None, page_size: int, as_json: bool) -> None:
    """Every job (all pages), with its next run, last run and alert state."""
    listed = api(ctx).pages("/jobs", "jobs", {"limit": page_size, "owner": owner, "state": state})
    # the server may not filter by these yet: filter here too
    found = [j for j in listed if (owner is None or j.get("owner") == owner) and (state is None or j.get("state") == state)]
    render.print_json({"jobs": found, "nextToken": None}) if as_json else render.jobs(render.console(), found)


@cli.command()
@click.argument("name")
@click.option("--runs", "run_count", type=click.IntRange(1, 100), default=5, show_default=True, help="Last runs to show.")
@json_option
@click.pass_context
def show(ctx: click.Context, name: str, run_count: int, as_json: bool) -> None:
    """A job's definition, its next 5 slots with DST notes, and its last runs."""
    client = api(ctx)
    job = client.call("GET", job_path(name))
    upcoming = client.call("GET", job_path(name, "upcoming"), params={"count": 5})
    executions = client.call("GET", job_path(name, "executions"), params={"limit": run_count})
    if as_json:
        render.print_json({"job": job, "upcoming": upcoming, "executions": executions})
        return
    out = render.console()
    render.job(out, job)
    out.print("\n[bold]Next slots[/bold]")
    render.slots(out, upcoming.get("slots") or [], upcoming.get("timezone") or job.get("timezone", "UTC"))
    out.print("\n[bold]Last runs[/bold]")
    render.runs(out, executions.get("executions") or [])


@cli.command()
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many runs, newest first.")
@json_option
@click.pass_context
def runs(ctx: click.Context, name: str, limit: int, as_json: bool) -> None:
    """A job's runs, newest first."""
    found: list[dict[str, Any]] = []
    for run in api(ctx).pages(job_path(name, "executions"), "executions", {"limit": min(limit, 100)}):
        found.append(run)
        if len(found) == limit:
            break
    render.print_json({"executions": found}) if as_json else render.runs(render.console(), found)


@cli.command()
@click.argument("name")
@click.argument("execution_id")
@json_option
@click.pass_context
def logs(ctx: click.Context, name: str, execution_id: str, as_json: bool) -> None:
    """One run: its outcome, result, error and log lines."""
    body = api(ctx).call("GET", job_path(name, "executions", execution_id))
    if as_json:
        render.print_json(body)
        return
    out = render.console()
    render.execution(out, body)
    out.print()
    render.logs(out, body.get("logs") or [], bool(body.get("logsTruncated")))


@cli.command()
@click.argument("cron")
@click.option("--tz", "timezone", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/Oslo.")
@click.option("--count", type=click.IntRange(1, 50), default=10, show_default=True)
@json_option
@click.pass_context
def preview(ctx: click.Context, cron: str, timezone: str, count: int, as_json: bool) -> None:
    """The next slots of a cron expression, in words and with DST notes; nothing is stored."""
    body = api(ctx).call("POST", "/schedules/preview", json={"cronExpression": cron, "timezone": timezone, "count": count})
    if as_json:
        render.print_json(body)
        return
    out = render.console()
    out.print(f"{body.get('description')} ({body.get('timezone', timezone)})", markup=False)
    render.slots(out, body.get("slots") or [], body.get("timezone", timezone))


# ---------------------------------------------------------------------- changing


def _definition(file: TextIO | None, name: str | None, cron: str | None, handler: str | None) -> dict[str, Any]:
    if file is not None:
        if name or cron or handler:
            raise click.UsageError("Give either --file or NAME CRON HANDLER, not both.")
        try:
            body = json.load(file)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"is not JSON ({exc.msg}, line {exc.lineno})", param_hint="--file") from None
        if not isinstance(body, dict):
            raise click.BadParameter("must hold a JSON object (a job definition)", param_hint="--file")
        return body
    if not (name and cron and handler):
        raise click.UsageError('Give NAME CRON HANDLER (e.g. register nightly-report "30 3 * * *" noop) or --file job.json.')
    return {"jobName": name, "cronExpression": cron, "handler": handler}


@cli.command()
@click.argument("name", required=False)
@click.argument("cron", required=False)
@click.argument("handler", required=False)
@click.option("--file", "-f", "file", type=click.File("r"), help="A job definition as JSON (- reads stdin).")
@click.option("--tz", "timezone", help="IANA time zone of the schedule (default UTC).")
@click.option("--payload", callback=json_object, help="The job's payload, a JSON object.")
@click.option("--retries", type=int, help="Retries after a failed first attempt (retry.maxAttempts = RETRIES + 1).")
@click.option("--retry-delay", type=int, help="Seconds before the first retry (doubles per attempt).")
@click.option("--timeout", type=int, help="Seconds a run may take.")
@click.option("--alert-after", type=int, help="Failed attempts in a row before an alert.")
@click.option("--owner", help="An owner label.")
@click.option("--notify", multiple=True, help="A notification channel (repeatable).")
@json_option
@click.pass_context
def register(ctx: click.Context, name: str | None, cron: str | None, handler: str | None, file: TextIO | None,
             timezone: str | None, payload: dict[str, Any] | None, retries: int | None, retry_delay: int | None,
             timeout: int | None, alert_after: int | None, owner: str | None, notify: tuple[str, ...], as_json: bool) -> None:
    """Register a job: register NAME CRON HANDLER [options], or register --file job.json.

    Options given with --file replace the file's fields.
    """
    body = _definition(file, name, cron, handler)
    retry = dict(body.get("retry") or {})
    if retries is not None:
        retry["maxAttempts"] = retries + 1
    if retry_delay is not None:
        retry["initialDelaySeconds"] = retry_delay
    options = {"timezone": timezone, "payload": payload, "retry": retry or None, "timeoutSeconds": timeout,
               "alertAfterFailures": alert_after, "owner": owner, "notify": list(notify) or None}
    body.update({k: v for k, v in options.items() if v is not None})
    code, job = api(ctx).exchange("POST", "/jobs", json=body)
    if as_json:
        render.print_json(job)
        return
    out = render.console()
    out.print(f"Registered {job['jobName']}." if code == 201 else f"{job['jobName']} was already registered with this definition.",
              markup=False)
    render.job(out, job)


@cli.command()
@click.argument("name")
@click.option("--payload", callback=json_object, help="Merged over the job's payload for this run only (JSON object).")
@click.option("--idempotency-key", help="The same key within 24 h returns the same run instead of a second one.")
@click.option("--wait", is_flag=True, help="Wait for the outcome (retries included); exit 1 if it failed.")
@click.option("--wait-timeout", type=float, default=3600, show_default=True, help="Seconds to wait at most.")
@click.option("--every", type=click.FloatRange(0.01), default=2.0, show_default=True, help="Seconds between polls.")
@json_option
@click.pass_context
def trigger(ctx: click.Context, name: str, payload: dict[str, Any] | None, idempotency_key: str | None, wait: bool,
            wait_timeout: float, every: float, as_json: bool) -> None:
    """Run a job now."""
    client = api(ctx)
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    queued = client.call("POST", job_path(name, "trigger"), json={"payload": payload} if payload is not None else None,
                         headers=headers)
    out = render.console()
    if not wait:
        render.print_json(queued) if as_json else out.print(
            f"Queued {name}: execution {queued['executionId']} ({queued['status']}). "
            f"Follow it with: scheduler logs {name} {queued['executionId']}", markup=False)
        return
    if not as_json:
        out.print(f"Triggered {name}: execution {queued['executionId']}; waiting for its outcome…", markup=False)
    report: Callable[[dict[str, Any]], None] = (lambda _run: None) if as_json else (lambda run: _attempt_line(out, run))
    outcome = wait_for_slot(client, name, queued, every=every, timeout=wait_timeout, report=report)
    if as_json:
        render.print_json(outcome.execution)
    elif not outcome.finished:
        out.print(f"Still {outcome.execution.get('status')} after {wait_timeout:g} s. Follow it with: "
                  f"scheduler logs {name} {outcome.execution['executionId']}", markup=False)
    if not outcome.succeeded:
        ctx.exit(1)


def _attempt_line(out: Console, run: dict[str, Any]) -> None:
    error = run.get("error") or {}
    why = f": {error.get('type')}: {error.get('message')}" if error else ""
    line = Text(f"attempt {run.get('attempt')} ")
    line.append_text(render.styled(run.get("status")))
    line.append(f" in {render.duration(run.get('durationMs'))}{why} (execution {run.get('executionId')})")
    out.print(line)


@cli.command()
@click.argument("name")
@click.option("--reason", required=True, help="Why: shown with the job and in the audit.")
@click.option("--until", help="Resume by itself then: an ISO-8601 time or a duration from now (2h, 3d).")
@json_option
@click.pass_context
def pause(ctx: click.Context, name: str, reason: str, until: str | None, as_json: bool) -> None:
    """Stop a job's schedule (a manual trigger still runs)."""
    body: dict[str, Any] = {"reason": reason}
    if until:
        body["until"] = instant(until, now=now(), past=False)
    job = api(ctx).call("POST", job_path(name, "pause"), json=body)
    render.print_json(job) if as_json else render.job(render.console(), job)


@cli.command()
@click.argument("name")
@json_option
@click.pass_context
def resume(ctx: click.Context, name: str, as_json: bool) -> None:
    """Put a paused job back on its schedule, from now (missed slots are not replayed)."""
    job = api(ctx).call("POST", job_path(name, "resume"))
    render.print_json(job) if as_json else render.job(render.console(), job)


@cli.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Cancel a job: it never runs again; its history stays until it expires."""
    client = api(ctx)
    if not yes:
        click.confirm(f"Delete job {name}? It never runs again.", abort=True, err=True)
    client.call("DELETE", job_path(name))
    render.console().print(f"Deleted {name}.", markup=False)


# ---------------------------------------------------------------------- replays


def _replays_missing(client: ApiClient, name: str, exc: Refused) -> None:
    """A 404 from a server without replays reads like an unknown job: say which it is."""
    if exc.problem.status != 404:
        return
    try:
        client.call("GET", job_path(name))
    except Refused:
        return  # the job itself is unknown: the server's problem says so
    err = render.console(stderr=True)
    render.problem(err, exc.problem)
    err.print(f"The job {name} exists: this API ({client.base_url}) does not serve replays yet.", markup=False)
    raise click.exceptions.Exit(2)


@cli.command()
@click.argument("name")
@click.option("--from", "start", required=True, help="First instant: ISO-8601, or a duration ago (3d).")
@click.option("--to", "end", required=True, help="Last instant (not in the future): ISO-8601, or a duration ago.")
@click.option("--only", type=click.Choice(["failed", "missed", "all"]), default="failed", show_default=True,
              help="Which slots: failed (failed, timed out or missed), missed, or all.")
@click.option("--max-runs", type=int, help="Run at most this many slots.")
@click.option("--dry-run", is_flag=True, help="Show the plan only: nothing is stored or run.")
@click.option("--idempotency-key", help="The same key returns the same replay instead of a second one.")
@json_option
@click.pass_context
def replay(ctx: click.Context, name: str, start: str, end: str, only: str, max_runs: int | None, dry_run: bool,
           idempotency_key: str | None, as_json: bool) -> None:
    """Run again, once each and oldest first, the past slots of a range [--from, --to)."""
    client, moment = api(ctx), now()
    body: dict[str, Any] = {"from": instant(start, now=moment, past=True), "to": instant(end, now=moment, past=True),
                            "only": only}
    if max_runs is not None:
        body["maxRuns"] = max_runs
    if dry_run:
        body["dryRun"] = True
    try:
        planned = client.call("POST", job_path(name, "replays"), json=body,
                              headers={"Idempotency-Key": idempotency_key} if idempotency_key else None)
    except Refused as exc:
        _replays_missing(client, name, exc)
        raise
    render.print_json(planned) if as_json else render.replay(render.console(), planned)


@cli.command()
@click.argument("name")
@click.argument("replay_id", required=False)
@json_option
@click.pass_context
def replays(ctx: click.Context, name: str, replay_id: str | None, as_json: bool) -> None:
    """A job's replays, or one replay's progress slot by slot (REPLAY_ID)."""
    client = api(ctx)
    try:
        if replay_id:
            one = client.call("GET", job_path(name, "replays", replay_id))
        else:
            found = list(client.pages(job_path(name, "replays"), "replays"))
    except Refused as exc:
        _replays_missing(client, name, exc)
        raise
    if replay_id:
        render.print_json(one) if as_json else render.replay(render.console(), one)
    else:
        render.print_json({"replays": found}) if as_json else render.replays(render.console(), found)


def main() -> None:
    """The console script."""
    cli(prog_name="scheduler")
