// Building the page: plain DOM, every value from the API written with textContent, never as HTML.
// And the rows as the API sent them: a job or run whose fields are missing or of another type is
// marked where it would be shown; the rest of the page is shown as usual. One bad row never takes the page.

const main = () => document.getElementById("main");

export function el(tag, attrs, ...children) {
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

let currentView = 0;

/** A new page begins: a page still loading from before sees ``stillShown`` false and draws nothing. */
export function beginView() { currentView += 1; return currentView; }

export function stillShown(view) { return view === currentView; }

export function show(...nodes) {
  main().replaceChildren(...nodes.flat(2).filter((n) => n !== null && n !== undefined && n !== false));
}

export function badge(text, kind) { return el("span", { class: "badge " + (kind || text) }, text); }

export function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  setTimeout(() => { if (box.textContent === text) box.textContent = ""; }, 4000);
}

const LOCAL_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });  // built once: a
// toLocaleString with options builds a formatter per call, which a thousand rows feel

export function when(iso) {
  if (!iso) return "—";
  return LOCAL_TIME.format(new Date(iso));
}

export function relative(iso) {
  if (!iso) return "";
  const seconds = Math.round((new Date(iso) - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] = abs < 90 ? [abs, "s"] : abs < 5400 ? [Math.round(abs / 60), "min"]
    : abs < 172800 ? [Math.round(abs / 3600), "h"] : [Math.round(abs / 86400), "d"];
  return seconds >= 0 ? `in ${value} ${unit}` : `${value} ${unit} ago`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function jobLink(name) { return el("a", { href: "#/jobs/" + encodeURIComponent(name) }, name); }

export function runHref(job, id) { return `#/jobs/${encodeURIComponent(job)}/runs/${encodeURIComponent(id)}`; }

export function runLink(job, id, text) { return el("a", { href: runHref(job, id) }, text || id); }

export function message(text, kind) { return el("div", { class: "message " + (kind || ""), role: "alert" }, text); }

export function showError(box, error) {
  if (error.status === 401) return;
  const text = error.status === 409 ? `Not now: ${error.message}` : `Error ${error.status || ""}: ${error.message}`;
  box.replaceChildren(message(text, error.status === 409 ? "" : "error"));
}

export function decoded(text) {
  try { return decodeURIComponent(text); } catch (error) { return null; }  // URIError: a broken % escape
}

export function pausedState(job) {  // "paused until … (in 3 h)" for a pause with an end
  return job.state === "paused" && isInstant(job.pausedUntil)
    ? `paused until ${when(job.pausedUntil)} (${relative(job.pausedUntil)})` : job.state;
}

export function windowsFor(windows, job) {  // current and upcoming maintenance windows that cover the job
  return windows.filter((w) => isObject(w) && w.status !== "ended" && (w.all === true
    || (Array.isArray(w.jobs) && (!job || w.jobs.includes(job.jobName))) || (isText(w.owner) && (!job || w.owner === job.owner))));
}

export function windowsPanel(windows, title) {
  if (!windows.length) return null;
  return el("div", { id: "maintenance-windows", class: "panel" }, el("strong", {}, title),
    el("ul", {}, windows.map((w) => el("li", { "data-window": w.id },
      badge(w.status === "active" ? "in maintenance" : "upcoming", w.status === "active" ? "problem" : "paused"), " ",
      `${when(w.from)} – ${when(w.to)} (${relative(w.status === "active" ? w.to : w.from)}): ${w.reason} — `,
      w.all === true ? "all jobs" : isText(w.owner) ? `owner ${w.owner}` : (w.jobs || []).join(", "),
      w.runMissed ? "; the last skipped slot runs afterwards" : ""))));
}

// ------------------------------------------------------------------ rows as the API sent them

export const isText = (v) => typeof v === "string";
export const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
export const isInstant = (v) => isText(v) && !Number.isNaN(Date.parse(v));
export const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
const optional = (check) => (v) => v === null || v === undefined || check(v);
const JOB_FIELDS = {
  jobName: isText, cronExpression: isText, timezone: isText, state: isText, alertState: isText,
  consecutiveFailures: isNumber, nextRunAt: optional(isInstant), pauseReason: optional(isText),
  lastExecution: optional((v) => isObject(v) && isText(v.status) && optional(isNumber)(v.durationMs)),
  scheduleDescription: optional(isText), recentRuns: optional(Array.isArray),
};
const UNREADABLE_JOB_FIELDS = { jobName: isText };  // a record the API itself cannot decode
const RUN_FIELDS = {
  executionId: isText, status: isText, trigger: isText, attempt: isNumber, scheduledFor: isInstant,
  startedAt: optional(isInstant), durationMs: optional(isNumber),
  error: optional((v) => isObject(v) && isText(v.type) && isText(v.message)),
};
const RECENT_RUN_FIELDS = { executionId: isText, status: isText, scheduledFor: isInstant };  // a job's recentRuns

function faultsOf(row, fields) {
  if (!isObject(row)) return ["the row is not a JSON object"];
  return Object.keys(fields).filter((name) => !fields[name](row[name]));
}

export function jobFaults(job) { return faultsOf(job, isObject(job) && job.unreadable ? UNREADABLE_JOB_FIELDS : JOB_FIELDS); }

export function runFaults(run) { return faultsOf(run, RUN_FIELDS); }

export function recentRunFaults(run) { return faultsOf(run, RECENT_RUN_FIELDS); }

export function listOf(value, what) {
  if (!Array.isArray(value)) throw new Error(`the API's ${what} is not a list`);
  return value;
}

export function badRow(first, faults, columns, attrs) {
  return el("tr", Object.assign({ class: "bad-row" }, attrs || {}), el("td", {}, first),
    el("td", { colspan: columns - 1 }, badge("cannot be shown", "problem"), " ",
      faults[0].startsWith("the row") ? faults[0] : `unexpected value in ${faults.join(", ")}`));
}

// render(row) unless the row's fields are not what it reads, or it fails on one anyway
export function guardedRow(faults, render, mark) {
  if (faults.length) return mark(faults);
  try { return render(); } catch (error) { return mark([`${error.name}: ${error.message}`]); }
}
