// The operator console: plain DOM, no build step, nothing from another origin.
// Every value from the API is written with textContent, never as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "scheduler.token";
  const API = location.pathname.replace(/\/console\/?$/, "");
  const main = document.getElementById("main");
  const CERT = "certification-expiry-check";
  const FINAL = ["succeeded", "failed", "timed_out", "skipped", "missed"];

  // ------------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(...nodes) {
    main.replaceChildren(...nodes.flat(2).filter((n) => n !== null && n !== undefined && n !== false));
  }

  function badge(text, kind) { return el("span", { class: "badge " + (kind || text) }, text); }

  function toast(text) {
    const box = document.getElementById("toast");
    box.textContent = text;
    setTimeout(() => { if (box.textContent === text) box.textContent = ""; }, 4000);
  }

  function when(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function relative(iso) {
    if (!iso) return "";
    const seconds = Math.round((new Date(iso) - Date.now()) / 1000);
    const abs = Math.abs(seconds);
    const [value, unit] = abs < 90 ? [abs, "s"] : abs < 5400 ? [Math.round(abs / 60), "min"]
      : abs < 172800 ? [Math.round(abs / 3600), "h"] : [Math.round(abs / 86400), "d"];
    return seconds >= 0 ? `in ${value} ${unit}` : `${value} ${unit} ago`;
  }

  function pausedState(job) {  // "paused until … (in 3 h)" for a pause with an end
    return job.state === "paused" && isInstant(job.pausedUntil)
      ? `paused until ${when(job.pausedUntil)} (${relative(job.pausedUntil)})` : job.state;
  }

  function windowsFor(windows, job) {  // current and upcoming maintenance windows that cover the job
    return windows.filter((w) => isObject(w) && w.status !== "ended" && (w.all === true
      || (Array.isArray(w.jobs) && (!job || w.jobs.includes(job.jobName))) || (isText(w.owner) && (!job || w.owner === job.owner))));
  }

  function windowsPanel(windows, title) {
    if (!windows.length) return null;
    return el("div", { id: "maintenance-windows", class: "panel" }, el("strong", {}, title),
      el("ul", {}, windows.map((w) => el("li", { "data-window": w.id },
        badge(w.status === "active" ? "in maintenance" : "upcoming", w.status === "active" ? "problem" : "paused"), " ",
        `${when(w.from)} – ${when(w.to)} (${relative(w.status === "active" ? w.to : w.from)}): ${w.reason} — `,
        w.all === true ? "all jobs" : isText(w.owner) ? `owner ${w.owner}` : (w.jobs || []).join(", "),
        w.runMissed ? "; the last skipped slot runs afterwards" : ""))));
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "—";
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  function jobLink(name) { return el("a", { href: "#/jobs/" + encodeURIComponent(name) }, name); }

  function runLink(job, id, text) {
    return el("a", { href: `#/jobs/${encodeURIComponent(job)}/runs/${encodeURIComponent(id)}` }, text || id);
  }

  function message(text, kind) { return el("div", { class: "message " + (kind || ""), role: "alert" }, text); }

  function decoded(text) {
    try { return decodeURIComponent(text); } catch (error) { return null; }  // URIError: a broken % escape
  }

  // ------------------------------------------------------------------ rows as the API sent them
  // A job or run whose fields are missing or of another type is marked where it would
  // be shown; the rest of the page is shown as usual. One bad row never takes the page.

  const isText = (v) => typeof v === "string";
  const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
  const isInstant = (v) => isText(v) && !Number.isNaN(Date.parse(v));
  const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
  const optional = (check) => (v) => v === null || v === undefined || check(v);
  const JOB_FIELDS = {
    jobName: isText, cronExpression: isText, timezone: isText, state: isText, alertState: isText,
    consecutiveFailures: isNumber, nextRunAt: optional(isInstant), pauseReason: optional(isText),
    lastExecution: optional((v) => isObject(v) && isText(v.status) && optional(isNumber)(v.durationMs)),
  };
  const UNREADABLE_JOB_FIELDS = { jobName: isText };  // a record the API itself cannot decode
  const RUN_FIELDS = {
    executionId: isText, status: isText, trigger: isText, attempt: isNumber, scheduledFor: isInstant,
    startedAt: optional(isInstant), durationMs: optional(isNumber),
    error: optional((v) => isObject(v) && isText(v.type) && isText(v.message)),
  };

  function faultsOf(row, fields) {
    if (!isObject(row)) return ["the row is not a JSON object"];
    return Object.keys(fields).filter((name) => !fields[name](row[name]));
  }

  function jobFaults(job) { return faultsOf(job, isObject(job) && job.unreadable ? UNREADABLE_JOB_FIELDS : JOB_FIELDS); }

  function runFaults(run) { return faultsOf(run, RUN_FIELDS); }

  function listOf(value, what) {
    if (!Array.isArray(value)) throw new Error(`the API's ${what} is not a list`);
    return value;
  }

  function badRow(first, faults, columns, attrs) {
    return el("tr", Object.assign({ class: "bad-row" }, attrs || {}), el("td", {}, first),
      el("td", { colspan: columns - 1 }, badge("cannot be shown", "problem"), " ",
        faults[0].startsWith("the row") ? faults[0] : `unexpected value in ${faults.join(", ")}`));
  }

  // render(row) unless the row's fields are not what it reads, or it fails on one anyway
  function guardedRow(faults, render, mark) {
    if (faults.length) return mark(faults);
    try { return render(); } catch (error) { return mark([`${error.name}: ${error.message}`]); }
  }

  // ------------------------------------------------------------------ token and API

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function tokenInFragment() {
    const match = location.hash.match(/^#token=([^&]*)/);
    return match ? match[1] : null;
  }

  function forgetFragment() {
    history.replaceState(null, "", location.pathname + location.search + "#/");  // out of the address bar
  }

  // Only the console's first load reads a token from a link (#token=...), and it replaces
  // a signed-in session only when the person says so: a crafted link must not swap the
  // session under them. Returns a note for the person, or null.
  function takeTokenFromFragment() {
    const raw = tokenInFragment();
    if (raw === null) return null;
    forgetFragment();
    const offered = (decoded(raw) || "").trim();
    const current = token();
    if (!offered) {
      return "The sign-in link is malformed (its token is empty or has a broken % escape): " +
        (current ? "it was not used; you are signed in as before." : "sign in with the token itself.");
    }
    if (current && current !== offered && !window.confirm(
      "This link signs the console in with another token. Replace the session you are signed in with?")) {
      return "The link's token was not used: you are signed in as before.";
    }
    sessionStorage.setItem(TOKEN_KEY, offered);
    return null;
  }

  // After the first load, a token in the address (a link followed inside this tab) is dropped unread.
  function dropTokenFromFragment() {
    if (tokenInFragment() === null) return false;
    forgetFragment();
    return true;
  }

  // JSON.parse refuses NaN and Infinity, which a Python JSON writer emits: read them as the
  // strings "NaN" and "Infinity" so that only the row holding one is marked, not the page lost.
  function parseJson(text) {
    try { return JSON.parse(text); } catch (error) {
      const mended = text.replace(/"(?:[^"\\]|\\.)*"|-?(?:NaN|Infinity)/g, (m) => (m[0] === '"' ? m : JSON.stringify(m)));
      try { return JSON.parse(mended); } catch (ignored) { throw error; }
    }
  }

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  async function api(method, path, body, headers) {
    const response = await fetch(API + path, {
      method,
      headers: Object.assign({ Authorization: "Bearer " + token() },
        body === undefined ? {} : { "Content-Type": "application/json" }, headers || {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      signIn("Your token was refused or has expired: sign in again.");
      throw new ApiError(401, { title: "Unauthorized" });
    }
    const text = await response.text();
    const data = text ? parseJson(text) : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // ------------------------------------------------------------------ views

  function signIn(note) {
    document.getElementById("sign-out").hidden = true;
    const input = el("input", { id: "token", type: "password", autocomplete: "off", required: true,
      "aria-describedby": "token-hint" });
    const form = el("form", { id: "sign-in", onsubmit: (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      location.hash = "#/";
      route();
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

  async function showTick() {
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

  async function overview(owner) {
    show(el("h1", {}, "Jobs"), el("p", { class: "muted" }, "Loading…"));
    const [list, status, maintenance] = await Promise.all([
      api("GET", "/jobs?limit=100" + (owner ? "&owner=" + encodeURIComponent(owner) : "")), showTick(),
      api("GET", "/maintenance-windows").catch(() => ({ windows: [] }))]);
    const overdue = new Set((status && status.overdue) || []);
    const name = (job) => (isObject(job) && isText(job.jobName) ? job.jobName : "");
    const jobs = listOf(list && list.jobs, "list of jobs").slice()
      .sort((a, b) => rank(a, overdue) - rank(b, overdue) || name(a).localeCompare(name(b)));
    if (!jobs.length) {
      show(el("h1", {}, "Jobs"), el("div", { class: "panel" },
        "No job is registered yet. ", el("a", { href: "#/new" }, "Register a job"),
        " (or POST /jobs with a definition)."));
      return;
    }
    const histories = await Promise.all(jobs.map((job) =>
      jobFaults(job).length || job.unreadable ? Promise.resolve({ executions: [] })
        : api("GET", `/jobs/${encodeURIComponent(job.jobName)}/executions?limit=30`).catch(() => ({ executions: [] }))));
    const rows = jobs.map((job, index) => guardedRow(jobFaults(job),
      () => jobRow(job, listOf(histories[index] && histories[index].executions, "list of runs"), overdue.has(job.jobName)),
      (faults) => badRow(name(job) ? jobLink(name(job)) : el("span", { class: "muted" }, "(no name)"), faults, 7,
        { "data-job": name(job) || null })));
    const cert = jobs.find((job) => name(job) === CERT);
    const owners = [...new Set(jobs.map((job) => (isObject(job) ? job.owner : null)).filter(isText))].sort();
    const ownerLine = el("p", { id: "owner-filter" }, "Owner: ", owner
      ? [el("strong", {}, owner), " (", el("a", { href: "#/" }, "all jobs"), ")"]
      : owners.length ? owners.flatMap((o, i) => [i ? ", " : "", el("a", { href: "#/?owner=" + encodeURIComponent(o) }, o)])
        : el("span", { class: "muted" }, "no job has one"));
    show(
      el("h1", {}, "Jobs"), ownerLine,
      windowsPanel(windowsFor(listOf(maintenance && maintenance.windows, "list of windows"), null), "Maintenance windows"),
      cert ? el("p", { id: "cert-line", class: "panel" }, el("strong", {}, "Certification check: "),
        lastResultLine(cert.lastExecution)) : null,
      el("table", { class: "jobs" },
        el("thead", {}, el("tr", {}, ["Job", "Schedule", "Next run", "State", "Alerts", "Last run", "Last 30 runs"]
          .map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows)));
  }

  function rank(job, overdue) {
    if (jobFaults(job).length || job.alertState === "alerting" || job.dispatchable === false) return 0;
    if (overdue.has(job.jobName)) return 1;
    return 2;
  }

  function jobRow(job, executions, isOverdue) {
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
      el("td", {}, el("span", { class: "describe", "data-cron": job.cronExpression }, job.cronExpression),
        el("div", { class: "muted" }, job.timezone)),
      el("td", {}, job.nextRunAt ? [when(job.nextRunAt), el("div", { class: "muted" }, relative(job.nextRunAt))] : "—"),
      el("td", { class: "state" }, state),
      el("td", { class: "alerts" }, badge(job.alertState), " ", `${job.consecutiveFailures} failed in a row`),
      el("td", {}, last ? [badge(last.status), " ", duration(last.durationMs)] : "never ran"),
      el("td", {}, el("div", { class: "strip", "aria-label": "last 30 runs" },
        executions.slice().reverse().map((e) => runFaults(e).length
          ? el("span", { class: "bad", title: `a run the API sent that this console cannot read (${runFaults(e).join(", ")})` })
          : el("a", { class: e.status, title: `${e.status} — ${when(e.scheduledFor)}`,
            href: `#/jobs/${encodeURIComponent(job.jobName)}/runs/${encodeURIComponent(e.executionId)}` })))));
  }

  async function describeCells() {
    for (const cell of document.querySelectorAll(".describe[data-cron]")) {
      try {
        const preview = await api("POST", "/schedules/preview", { cronExpression: cell.dataset.cron, count: 1 });
        cell.textContent = preview.description;
        cell.title = cell.dataset.cron;
      } catch (error) { /* keep the expression */ }
    }
  }

  async function jobPage(name, cursor) {
    show(el("p", { class: "muted" }, "Loading…"));
    const job = await api("GET", `/jobs/${encodeURIComponent(name)}`);
    const [upcoming, history, maintenance] = job.unreadable ? [{ slots: [] }, { executions: [] }, { windows: [] }] : await Promise.all([
      api("GET", `/jobs/${encodeURIComponent(name)}/upcoming?count=10`),
      api("GET", `/jobs/${encodeURIComponent(name)}/executions?limit=20` + (cursor ? "&nextToken=" + encodeURIComponent(cursor) : "")),
      api("GET", "/maintenance-windows").catch(() => ({ windows: [] })),
    ]);
    const runs = listOf(history.executions, "list of runs");
    const outcome = el("div", { id: "outcome", "aria-live": "polite" });
    const actions = el("div", { class: "actions" },
      el("button", { type: "button", class: "primary", onclick: () => runNow(name, outcome, {}) }, "Run now"),
      name === CERT ? el("button", { type: "button", onclick: () => runNow(name, outcome, { dryRun: true }) }, "Dry run") : null,
      job.state === "paused"
        ? el("button", { type: "button", onclick: () => act(name, outcome, "resume") }, "Resume")
        : el("button", { type: "button", onclick: () => pauseForm(name, outcome) }, "Pause"),
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

  async function runNow(name, outcome, payload) {
    outcome.replaceChildren(message("Queuing a run…"));
    try {
      const body = Object.keys(payload).length ? { payload } : undefined;
      let run = await api("POST", `/jobs/${encodeURIComponent(name)}/trigger`, body);
      const line = el("span", { id: "run-status" }, run.status);
      outcome.replaceChildren(el("div", { class: "message ok" }, "Run ", runLink(name, run.executionId), ": ", line));
      for (let i = 0; i < 120 && !FINAL.includes(run.status); i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        run = await api("GET", `/jobs/${encodeURIComponent(name)}/executions/${encodeURIComponent(run.executionId)}`);
        line.textContent = run.status + (run.error ? ` — ${run.error.message}` : "");
      }
    } catch (error) { showError(outcome, error); }
  }

  // Replay…: a range and which slots; the plan (POST with dryRun: true, nothing stored) is
  // shown first, and only "Start replay" creates the replay.
  function replayForm(name, outcome) {
    const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    const now = new Date();
    const from = el("input", { id: "replay-from", type: "datetime-local", value: local(new Date(now - 3 * 86400000)), required: true });
    const to = el("input", { id: "replay-to", type: "datetime-local", value: local(now), required: true });
    const only = el("select", { id: "replay-only" }, ["failed", "missed", "all"].map((v) => el("option", { value: v }, v)));
    const plan = el("div", { id: "replay-plan" });
    const request = () => ({ from: new Date(from.value).toISOString(), to: new Date(to.value).toISOString(), only: only.value });
    outcome.replaceChildren(el("form", { class: "panel", onsubmit: async (event) => {
      event.preventDefault();
      plan.replaceChildren(message("Planning…"));
      try {
        const body = request();
        const planned = await api("POST", `/jobs/${encodeURIComponent(name)}/replays`, Object.assign({ dryRun: true }, body));
        const start = el("button", { type: "button", class: "primary", id: "replay-start", disabled: !planned.slots.length || undefined,
          onclick: async () => {
            try {
              const replay = await api("POST", `/jobs/${encodeURIComponent(name)}/replays`, body,
                { "Idempotency-Key": "console-" + Date.now().toString(36) + Math.random().toString(36).slice(2) });
              plan.replaceChildren(el("div", { class: "message ok", id: "replay-started" },
                `Replay ${replay.replayId}: ${replay.slots.length} slot(s), one per dispatcher tick — ${replay.statusDetail}`));
            } catch (error) { showError(plan, error); }
          } }, `Start replay of ${planned.slots.length} slot(s)`);
        plan.replaceChildren(replayPlan(planned), el("div", { class: "actions" }, start));
      } catch (error) { showError(plan, error); }
    } }, el("label", { for: "replay-from" }, "From (your time, included)"), from,
      el("label", { for: "replay-to" }, "To (your time, not included; not in the future)"), to,
      el("label", { for: "replay-only" }, "Which slots"), only,
      el("div", { class: "actions" }, el("button", { type: "submit" }, "Show plan")), plan));
    from.focus();
  }

  function replayPlan(replay) {
    const rows = replay.slots.map((s) => ["runs", s]).concat(replay.leftOut.map((s) => ["left out", s]))
      .sort((a, b) => (a[1].at < b[1].at ? -1 : 1));
    return el("table", { id: "replay-slots" },
      el("thead", {}, el("tr", {}, ["Slot (your time)", "Job's time", "Plan", "Why"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map(([what, s]) => el("tr", { "data-plan": what },
        el("td", {}, when(s.at)), el("td", {}, s.localTime + (s.dstNote ? ` (${s.dstNote})` : "")),
        el("td", {}, what), el("td", {}, s.detail || "")))));
  }

  function pauseForm(name, outcome) {
    const reason = el("input", { id: "pause-reason", maxlength: 500, placeholder: "why, for the next person" });
    outcome.replaceChildren(el("form", { class: "panel", onsubmit: (event) => {
      event.preventDefault();
      act(name, outcome, "pause", { reason: reason.value || null });
    } }, el("label", { for: "pause-reason" }, "Reason for pausing"), reason,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Pause job"))));
    reason.focus();
  }

  function deleteForm(name, outcome) {
    const typed = el("input", { id: "confirm-name", autocomplete: "off" });
    outcome.replaceChildren(el("form", { class: "panel", onsubmit: async (event) => {
      event.preventDefault();
      if (typed.value !== name) { outcome.prepend(message("Type the job's name exactly to delete it.", "error")); return; }
      try {
        await api("DELETE", `/jobs/${encodeURIComponent(name)}`);
        toast(`${name} deleted`);
        location.hash = "#/";
      } catch (error) { showError(outcome, error); }
    } }, el("label", { for: "confirm-name" }, `Type ${name} to delete it (its history stays until it expires)`), typed,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "danger" }, "Delete job"))));
    typed.focus();
  }

  async function act(name, outcome, action, body) {
    try {
      await api("POST", `/jobs/${encodeURIComponent(name)}/${action}`, body);
      toast(`${name}: ${action}d`);
      await jobPage(name);
    } catch (error) { showError(outcome, error); }
  }

  function showError(box, error) {
    if (error.status === 401) return;
    const text = error.status === 409 ? `Not now: ${error.message}` : `Error ${error.status || ""}: ${error.message}`;
    box.replaceChildren(message(text, error.status === 409 ? "" : "error"));
  }

  async function runPage(name, id) {
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

  async function registerPage() {
    const handlers = (await api("GET", "/handlers")).handlers;
    const fields = {
      jobName: el("input", { id: "f-jobName", required: true, placeholder: "nightly-report" }),
      cronExpression: el("input", { id: "f-cronExpression", required: true, placeholder: "0 2 * * *" }),
      timezone: el("input", { id: "f-timezone", value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" }),
      handler: el("select", { id: "f-handler" }, handlers.map((h) => el("option", { value: h.name }, `${h.name} — ${h.description}`))),
      payload: el("textarea", { id: "f-payload", rows: 4, placeholder: "{}" }),
    };
    const errors = {};
    // A job type that describes its payload (GET /handlers payloadFields) gets its fields listed
    // and a template in the payload box, replaced on a change of type unless the operator edited it.
    const payloadHelp = el("div", { id: "payload-fields", "aria-live": "polite" });
    let template = "";
    const describePayload = () => {
      const chosen = handlers.find((h) => h.name === fields.handler.value);
      const described = (chosen && chosen.payloadFields) || [];
      payloadHelp.replaceChildren(described.length ? el("table", { class: "payload-fields" },
        el("thead", {}, el("tr", {}, ["Field", "Type", "", "What it is"].map((t) => el("th", {}, t)))),
        el("tbody", {}, described.map((f) => el("tr", {}, el("td", {}, el("code", {}, f.name)), el("td", {}, f.type),
          el("td", {}, f.required ? "required" : "optional"), el("td", {}, f.description))))) : null);
      const example = {};
      for (const f of described) if (f.required || f.example !== undefined) example[f.name] = f.example !== undefined ? f.example : "";
      const next = described.length ? JSON.stringify(example, null, 2) : "";
      if (!fields.payload.value.trim() || fields.payload.value === template) fields.payload.value = next;
      template = next;
    };
    fields.handler.addEventListener("change", describePayload);
    const preview = el("div", { id: "preview", class: "panel", "aria-live": "polite" }, "Type a schedule to see its next runs.");
    const outcome = el("div", { id: "outcome" });
    const block = (name, label, hint) => {
      errors[name] = el("div", { class: "field-error", id: `e-${name}` });
      return [el("label", { for: `f-${name}` }, label), fields[name], hint ? el("div", { class: "hint" }, hint) : null, errors[name]];
    };
    let timer = null;
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const cron = fields.cronExpression.value.trim();
        if (!cron) return;
        try {
          const p = await api("POST", "/schedules/preview", { cronExpression: cron, timezone: fields.timezone.value.trim() || "UTC", count: 5 });
          errors.cronExpression.textContent = ""; errors.timezone.textContent = "";
          preview.replaceChildren(el("strong", {}, p.description), el("ul", {}, p.slots.map((s) =>
            el("li", {}, `${when(s.at)} (${s.localTime} ${p.timezone})${s.dstNote ? " — " + s.dstNote : ""}`))));
        } catch (error) {
          if (error.status === 400) {
            for (const e of error.problem.errors || []) if (errors[e.field]) errors[e.field].textContent = e.message;
            preview.replaceChildren("No runs to show until the schedule is valid.");
          }
        }
      }, 300);
    };
    fields.cronExpression.addEventListener("input", refresh);
    fields.timezone.addEventListener("input", refresh);
    const form = el("form", { id: "register", onsubmit: async (event) => {
      event.preventDefault();
      Object.values(errors).forEach((e) => { e.textContent = ""; });
      let payload = {};
      try { payload = fields.payload.value.trim() ? JSON.parse(fields.payload.value) : {}; }
      catch (error) { errors.payload.textContent = "must be JSON"; return; }
      try {
        const job = await api("POST", "/jobs", { jobName: fields.jobName.value.trim(), cronExpression: fields.cronExpression.value.trim(),
          timezone: fields.timezone.value.trim() || "UTC", handler: fields.handler.value, payload });
        toast(`${job.jobName} registered`);
        location.hash = "#/jobs/" + encodeURIComponent(job.jobName);
      } catch (error) {
        if (error.status === 400 && error.problem.errors) {
          for (const e of error.problem.errors) {
            const key = e.field.split(".")[0];
            const text = key === "payload" && e.field !== "payload" ? `${e.field}: ${e.message}` : e.message;
            const box = errors[key] || errors.jobName;
            box.textContent = box.textContent ? `${box.textContent}; ${text}` : text;
          }
        } else showError(outcome, error);
      }
    } },
      block("jobName", "Name", "lower-case letters, digits and dashes"),
      block("cronExpression", "Schedule (five-field cron)", "minute hour day-of-month month day-of-week, e.g. 0 2 * * *"),
      block("timezone", "Time zone (IANA)", "e.g. Europe/Oslo"),
      block("handler", "Handler"), payloadHelp,
      block("payload", "Payload (JSON, optional)"),
      el("h2", {}, "Next runs"), preview, outcome,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Register")));
    show(el("p", {}, el("a", { href: "#/" }, "← All jobs")), el("h1", {}, "Register a job"), form);
    describePayload();
    fields.jobName.focus();
  }

  // ------------------------------------------------------------------ routing

  async function route() {
    if (!token()) { signIn(); return; }
    document.getElementById("sign-out").hidden = false;
    const [path, query] = location.hash.replace(/^#/, "").split("?");
    const parts = path.split("/").filter(Boolean).map(decoded);  // each part once; the query by URLSearchParams
    if (parts.includes(null)) {
      show(message("This is not a valid console address: it has a broken % escape.", "error"),
        el("p", {}, el("a", { href: "#/" }, "← All jobs")));
      return;
    }
    try {
      if (parts.length === 0) { await overview(new URLSearchParams(query || "").get("owner")); describeCells(); }
      else if (parts[0] === "new") await registerPage();
      else if (parts[0] === "jobs" && parts.length === 2) await jobPage(parts[1], new URLSearchParams(query || "").get("page"));
      else if (parts[0] === "jobs" && parts[2] === "runs") await runPage(parts[1], parts[3]);
      else show(message("There is no such page.", "error"));
      showTick();
    } catch (error) {
      if (error.status !== 401) show(message(`Error ${error.status || ""}: ${error.message}`, "error"));
    }
  }

  document.getElementById("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    signIn("Signed out.");
  });
  window.addEventListener("hashchange", () => {
    if (dropTokenFromFragment()) toast("A token in a link is read only when the console opens: this one was ignored.");
    route();
  });
  const note = takeTokenFromFragment();
  if (note && !token()) signIn(note);
  else {
    if (note) toast(note);
    route();
  }
})();
