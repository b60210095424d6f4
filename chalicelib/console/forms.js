// What an operator does: register a job, run it now, replay a range, pause, resume, delete.

import { api } from "./api.js";
import { el, message, runLink, show, showError, toast, when } from "./dom.js";

const FINAL = ["succeeded", "failed", "timed_out", "skipped", "missed"];

export async function runNow(name, outcome, payload) {
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
export function replayForm(name, outcome) {
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

export function pauseForm(name, outcome, reload) {
  const reason = el("input", { id: "pause-reason", maxlength: 500, placeholder: "why, for the next person" });
  outcome.replaceChildren(el("form", { class: "panel", onsubmit: (event) => {
    event.preventDefault();
    act(name, outcome, "pause", { reason: reason.value || null }, reload);
  } }, el("label", { for: "pause-reason" }, "Reason for pausing"), reason,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Pause job"))));
  reason.focus();
}

export function deleteForm(name, outcome) {
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

/** POST /jobs/{name}/{action}, then ``reload()`` (the job's page again). */
export async function act(name, outcome, action, body, reload) {
  try {
    await api("POST", `/jobs/${encodeURIComponent(name)}/${action}`, body);
    toast(`${name}: ${action}d`);
    await reload();
  } catch (error) { showError(outcome, error); }
}

export async function registerPage() {
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
