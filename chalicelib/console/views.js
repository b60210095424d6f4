// The pages: sign-in, the overview of every job, a job, a run.

import { allJobs, api, setToken } from "./api.js";
import {
  badge, badRow, beginView, duration, el, guardedRow, isInstant, isObject, isText, jobFaults, jobLink, listOf, message,
  pausedState, recentRunFaults, relative, runFaults, runHref, runLink, show, stillShown, when, windowsFor, windowsPanel,
} from "./dom.js";
import { act, deleteForm, pauseForm, replayForm, runNow } from "./forms.js";

export const CERT = "certification-expiry-check";

export function signIn(note, signedIn) {
  beginView();
  document.getElementById("sign-out").hidden = true;
  const input = el("input", { id: "token", type: "password", autocomplete: "off", required: true,
    "aria-describedby": "token-hint" });
  const form = el("form", { id: "sign-in", onsubmit: (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    location.hash = "#/";
    signedIn();
  } },
    el("h1", {}, "Sign in"),
    note ? message(note, "error") : null,
    el("label", { for: "token" }, "API token"),
    input,
    el("p", { id: "token-hint", class: "hint" },
      "The API's bearer token (a Supabase JWT with role service_role or an admin role). It stays in this tab only."),
    el("button", { type: "submit", class: "primary" }, "Sign in"));
  show(form);
  input.focus();
}

export async function showTick() {
  const box = document.getElementById("tick");
  try {
    const status = await api("GET", "/status");
    box.textContent = status.lastTickAt ? `Last tick ${relative(status.lastTickAt)}` : "No tick recorded yet";
    box.className = "tick" + (status.tickStale ? " problem" : "");
    if (status.tickStale) box.textContent += " — the dispatcher is not ticking";
    return status;
  } catch (error) { return null; }
}

function lastResultLine(execution) {
  if (!execution) return "never ran";
  const result = execution.result || {};
  if (execution.status === "succeeded" && result.asOf) {
    return `as of ${result.asOf}: ${result.paused ? result.paused.count : 0} paused, ` +
      `${result.noticesCreated || 0} notices created${result.dryRun ? " (dry run)" : ""}` +
      (result.forcedBy ? `, forced by ${result.forcedBy}` : "");
  }
  if (execution.error) return `${execution.status}: ${execution.error.type} — ${execution.error.message}`;
  return execution.status;
}

// ------------------------------------------------------------------ the overview

const nameOf = (job) => (isObject(job) && isText(job.jobName) ? job.jobName : "");

// The overview costs GET /status, GET /maintenance-windows and one GET /jobs per page of jobs:
// each job carries its schedule in words and its last runs. The table is drawn once, when the
// last page has come: drawing the first page while the next ones load held up asking for them (a
// page's address needs the one before), so the last job showed later. Search and filters work on
// the jobs fetched, as you type; they are kept in the address (#/?q=…&state=…&alert=…).
export async function overview(params) {
  const view = beginView();
  const owner = params.get("owner");
  const loading = el("p", { class: "muted", id: "loading" }, "Loading…");
  show(el("h1", {}, "Jobs"), loading);
  const context = Promise.all([showTick(), api("GET", "/maintenance-windows").catch(() => ({ windows: [] }))]);
  const jobs = [];
  await allJobs(owner ? "&owner=" + encodeURIComponent(owner) : "", (page) => {
    jobs.push(...page);
    loading.textContent = `Loading… ${jobs.length} jobs so far`;
    return stillShown(view);  // false: the operator went elsewhere (or signed out) meanwhile
  });
  const [status, maintenance] = await context;
  if (!stillShown(view)) return;
  const board = overviewBoard(params, status, maintenance);
  board.add(jobs, true);
  if (!board.count()) {
    show(el("h1", {}, "Jobs"), el("div", { class: "panel" },
      owner ? `No job has owner ${owner}. ` : "No job is registered yet. ", el("a", { href: "#/new" }, "Register a job"),
      " (or POST /jobs with a definition)."));
  }
}

const byName = new Intl.Collator().compare;

function overviewBoard(params, status, maintenance) {
  const owner = params.get("owner");
  const overdue = new Set((status && status.overdue) || []);
  const rows = [];
  const owners = new Set();
  const body = el("tbody");
  const certLine = el("p", { id: "cert-line", class: "panel", hidden: true });
  const ownerLine = el("p", { id: "owner-filter" });
  const filters = filterForm(params, rows);
  show(
    el("h1", {}, "Jobs"), ownerLine,
    windowsPanel(windowsFor(listOf(maintenance && maintenance.windows, "list of windows"), null), "Maintenance windows"),
    certLine, filters.form,
    el("table", { class: "jobs" },
      el("thead", {}, el("tr", {}, ["Job", "Schedule", "Next run", "State", "Alerts", "Last run", "Last 10 runs"]
        .map((h) => el("th", { scope: "col" }, h)))),
      body),
    filters.none);
  const add = (jobs, last) => {
    for (const job of jobs) {
      const name = nameOf(job);
      const row = guardedRow(jobFaults(job), () => jobRow(job, overdue.has(job.jobName)),
        (faults) => badRow(name ? jobLink(name) : el("span", { class: "muted" }, "(no name)"), faults, 7, { "data-job": name || null }));
      rows.push({ job, row, name, rank: rank(job, overdue) });
      if (name === CERT) {
        certLine.replaceChildren(el("strong", {}, "Certification check: "), lastResultLine(job.lastExecution));
        certLine.hidden = false;
      }
      if (isObject(job) && isText(job.owner)) owners.add(job.owner);
    }
    rows.sort((a, b) => a.rank - b.rank || byName(a.name, b.name));
    body.append(...rows.map((r) => r.row));  // moves the rows already shown into their places
    const listed = [...owners].sort();
    ownerLine.replaceChildren("Owner: ", ...(owner
      ? [el("strong", {}, owner), " (", el("a", { href: "#/" }, "all jobs"), ")"]
      : listed.length ? listed.flatMap((o, i) => [i ? ", " : "", el("a", { href: "#/?owner=" + encodeURIComponent(o) }, o)])
        : [el("span", { class: "muted" }, "no job has one")]));
    filters.apply(last);
  };
  return { add, count: () => rows.length };
}

function filterForm(params, rows) {
  const search = el("input", { id: "job-search", type: "search", placeholder: "Search by name", autocomplete: "off",
    value: params.get("q") || "", "aria-label": "Search jobs by name" });
  const choice = (id, label, values, current) => el("select", { id, "aria-label": label },
    values.map(([value, text]) => el("option", { value, selected: value === current || undefined }, text)));
  const state = choice("job-state", "State", [["", "Any state"], ["active", "active"], ["paused", "paused"]], params.get("state") || "");
  const alert = choice("job-alert", "Alert state", [["", "Any alert state"], ["alerting", "alerting"], ["ok", "ok"]],
    params.get("alert") || "");
  const count = el("span", { id: "job-count", class: "muted", "aria-live": "polite" });
  const none = el("p", { id: "no-match", class: "panel", hidden: true }, "No job matches the search and filters.");
  let complete = false;
  const apply = (done) => {
    if (done === true) complete = true;
    const text = search.value.trim().toLowerCase();
    let shown = 0;
    for (const { job, row } of rows) {
      const match = nameOf(job).toLowerCase().includes(text) && (!state.value || (isObject(job) && job.state === state.value))
        && (!alert.value || (isObject(job) && job.alertState === alert.value));
      row.hidden = !match;
      if (match) shown += 1;
    }
    count.textContent = (shown === rows.length ? `${rows.length} jobs` : `${shown} of ${rows.length} jobs`)
      + (complete ? "" : " so far, loading more…");
    none.hidden = shown > 0 || !complete;
    const query = new URLSearchParams();
    for (const [key, value] of [["owner", params.get("owner")], ["q", search.value.trim()], ["state", state.value], ["alert", alert.value]]) {
      if (value) query.set(key, value);
    }
    const address = "#/" + (query.toString() ? "?" + query : "");
    if (location.hash !== address) history.replaceState(null, "", location.pathname + location.search + address);
  };
  search.addEventListener("input", apply);
  state.addEventListener("change", apply);
  alert.addEventListener("change", apply);
  const form = el("form", { id: "job-filters", class: "filters", role: "search", onsubmit: (event) => event.preventDefault() },
    search, state, alert, count);
  return { form, none, apply };
}

function rank(job, overdue) {
  if (jobFaults(job).length || job.alertState === "alerting" || job.dispatchable === false) return 0;
  if (overdue.has(job.jobName)) return 1;
  return 2;
}

function jobRow(job, isOverdue) {
  if (job.unreadable) {
    return el("tr", { "data-job": job.jobName }, el("td", {}, jobLink(job.jobName)),
      el("td", { colspan: 6 }, badge("cannot be dispatched", "problem"), " ", job.setAside ? job.setAside.reason : job.unreadable));
  }
  const last = job.lastExecution;
  const state = [badge(job.state)];
  if (isInstant(job.pausedUntil)) state.push(" ", el("span", { class: "paused-until" }, pausedState(job)));
  if (job.state === "paused" && job.pauseReason) state.push(" ", el("span", { class: "muted" }, job.pauseReason));
  if (job.dispatchable === false) state.push(" ", badge("set aside", "problem"));
  if (isOverdue) state.push(" ", badge("overdue", "problem"));
  const channels = Array.isArray(job.notify) ? job.notify.filter(isText).join(", ") : "";
  const routing = [job.owner, channels].filter(isText).filter(Boolean).join(" · ");
  return el("tr", { "data-job": job.jobName },
    el("td", {}, jobLink(job.jobName), routing ? el("div", { class: "muted owner" }, routing) : null),
    el("td", {}, el("span", { class: "describe", title: job.cronExpression }, job.scheduleDescription || job.cronExpression),
      el("div", { class: "muted" }, job.scheduleDescription ? `${job.cronExpression} · ${job.timezone}` : job.timezone)),
    el("td", {}, job.nextRunAt ? [when(job.nextRunAt), el("div", { class: "muted" }, relative(job.nextRunAt))] : "—"),
    el("td", { class: "state" }, state),
    el("td", { class: "alerts" }, badge(job.alertState), " ", `${job.consecutiveFailures} failed in a row`),
    el("td", {}, last ? [badge(last.status), " ", duration(last.durationMs)] : "never ran"),
    el("td", {}, strip(job.jobName, job.recentRuns || [])));
}

function strip(name, recent) {  // the job's last runs, oldest first, each a link to its run
  return el("div", { class: "strip", "aria-label": "last 10 runs" }, recent.slice().reverse().map((r) => recentRunFaults(r).length
    ? el("span", { class: "bad", title: `a run the API sent that this console cannot read (${recentRunFaults(r).join(", ")})` })
    : el("a", { class: r.status, title: `${r.status} — ${when(r.scheduledFor)}`, href: runHref(name, r.executionId) })));
}

// ------------------------------------------------------------------ a job, a run

export async function jobPage(name, cursor) {
  show(el("p", { class: "muted" }, "Loading…"));
  const job = await api("GET", `/jobs/${encodeURIComponent(name)}`);
  const [upcoming, history, maintenance] = job.unreadable ? [{ slots: [] }, { executions: [] }, { windows: [] }] : await Promise.all([
    api("GET", `/jobs/${encodeURIComponent(name)}/upcoming?count=10`),
    api("GET", `/jobs/${encodeURIComponent(name)}/executions?limit=20` + (cursor ? "&nextToken=" + encodeURIComponent(cursor) : "")),
    api("GET", "/maintenance-windows").catch(() => ({ windows: [] })),
  ]);
  const runs = listOf(history.executions, "list of runs");
  const outcome = el("div", { id: "outcome", "aria-live": "polite" });
  const reload = () => jobPage(name);
  const actions = el("div", { class: "actions" },
    el("button", { type: "button", class: "primary", onclick: () => runNow(name, outcome, {}) }, "Run now"),
    name === CERT ? el("button", { type: "button", onclick: () => runNow(name, outcome, { dryRun: true }) }, "Dry run") : null,
    job.state === "paused"
      ? el("button", { type: "button", onclick: () => act(name, outcome, "resume", undefined, reload) }, "Resume")
      : el("button", { type: "button", onclick: () => pauseForm(name, outcome, reload) }, "Pause"),
    el("button", { type: "button", onclick: () => replayForm(name, outcome) }, "Replay…"),
    el("button", { type: "button", class: "danger", onclick: () => deleteForm(name, outcome) }, "Delete"));
  const definition = el("dl", { class: "definition" },
    [["Schedule", job.cronExpression], ["Time zone", job.timezone], ["Handler", job.handler],
      ["State", pausedState(job) + (job.pauseReason ? ` — ${job.pauseReason}` : "")],
      ["Alert state", `${job.alertState}, ${job.consecutiveFailures} failed in a row`],
      ["Owner", job.owner || "—"],
      ["Notices go to", Array.isArray(job.notify) && job.notify.length ? job.notify.join(", ") : "the stack's topic"],
      ["Timeout", `${job.timeoutSeconds} s`], ["Retries", job.retry ? `${job.retry.maxAttempts} attempts` : "—"],
      ["Created by", job.createdBy ? `${job.createdBy.subject} (${job.createdBy.role})` : "—"],
      ["Paused by", job.pausedBy ? `${job.pausedBy.subject} (${job.pausedBy.role})` : "—"],
      ["Dispatchable", job.dispatchable === false ? `no — ${job.setAside.reason}` : "yes"]]
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v === undefined ? "—" : v)]));
  show(
    el("p", {}, el("a", { href: "#/" }, "← All jobs")),
    el("h1", {}, name),
    name === CERT ? el("p", { id: "cert-line", class: "panel" }, el("strong", {}, "Last result: "), lastResultLine(job.lastExecution)) : null,
    actions, outcome,
    windowsPanel(windowsFor(listOf(maintenance.windows, "list of windows"), job), "Maintenance windows covering this job"),
    el("h2", {}, "Definition"), definition,
    job.payload && Object.keys(job.payload).length ? el("pre", {}, JSON.stringify(job.payload, null, 2)) : null,
    el("h2", {}, "Next runs"),
    el("table", {}, el("thead", {}, el("tr", {}, ["Your time", `${job.timezone || "Job"} time`, "Note"].map((h) => el("th", {}, h)))),
      el("tbody", {}, upcoming.slots.map((s) => el("tr", {}, el("td", {}, when(s.at)), el("td", {}, s.localTime), el("td", {}, s.dstNote || ""))))),
    el("h2", {}, "Runs"),
    runs.length ? el("table", { id: "runs" },
      el("thead", {}, el("tr", {}, ["Status", "Trigger", "Attempt", "Scheduled for", "Started", "Duration", "Error"].map((h) => el("th", {}, h)))),
      el("tbody", {}, runs.map((e) => guardedRow(runFaults(e), () => runRow(name, e),
        (faults) => badRow(badge("unreadable", "problem"), faults, 7))))) : el("p", { class: "muted" }, "No runs yet."),
    history.nextToken ? el("p", {}, el("a", { href: `#/jobs/${encodeURIComponent(name)}?page=${encodeURIComponent(history.nextToken)}` }, "Older runs →")) : null);
}

function runRow(name, e) {
  return el("tr", { "data-run": e.executionId },
    el("td", {}, runLink(name, e.executionId, e.status)), el("td", {}, e.trigger), el("td", {}, e.attempt),
    el("td", {}, when(e.scheduledFor)), el("td", {}, when(e.startedAt)), el("td", {}, duration(e.durationMs)),
    el("td", {}, e.error ? `${e.error.type}: ${e.error.message}` : isText(e.skipReason) ? e.skipReason : ""));
}

export async function runPage(name, id) {
  const run = await api("GET", `/jobs/${encodeURIComponent(name)}/executions/${encodeURIComponent(id)}`);
  show(
    el("p", {}, el("a", { href: "#/jobs/" + encodeURIComponent(name) }, `← ${name}`)),
    el("h1", {}, `Run ${id}`),
    el("dl", { class: "definition" }, [["Status", badge(run.status)], ["Trigger", run.trigger + (run.triggeredBy ? ` by ${run.triggeredBy.subject}` : "")],
      ["Attempt", run.attempt], ["Scheduled for", when(run.scheduledFor)], ["Started", when(run.startedAt)],
      ["Finished", when(run.finishedAt)], ["Duration", duration(run.durationMs)]]
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    run.error ? [el("h2", {}, "Error"), message(`${run.error.type}: ${run.error.message}` +
      (run.error.retryable === false ? " (not retryable)" : ""), "error")] : null,
    el("h2", {}, "Result"), el("pre", { id: "result" }, JSON.stringify(run.result, null, 2)),
    el("h2", {}, "Log"),
    run.logsTruncated ? el("p", { class: "muted" }, "Older lines were dropped; these are the last ones.") : null,
    run.logs.length ? el("table", { class: "logs", id: "logs" }, el("tbody", {}, run.logs.map((line) =>
      el("tr", {}, el("td", {}, new Date(line.at).toLocaleTimeString()), el("td", {}, line.level), el("td", {}, line.message)))))
      : el("p", { class: "muted" }, "This run wrote no log lines."));
}
