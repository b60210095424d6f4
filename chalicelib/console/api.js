// The API client: the session's token, one request, and the job listing followed page by page.

import { decoded } from "./dom.js";

const TOKEN_KEY = "scheduler.token";
const API = location.pathname.replace(/\/console\/?$/, "");
export const JOBS_PAGE = 250;  // the largest page GET /jobs gives: ⌈jobs/250⌉ requests list every job

export function token() { return sessionStorage.getItem(TOKEN_KEY); }

export function setToken(value) { sessionStorage.setItem(TOKEN_KEY, value); }

export function forgetToken() { sessionStorage.removeItem(TOKEN_KEY); }

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
export function takeTokenFromFragment() {
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
  setToken(offered);
  return null;
}

// After the first load, a token in the address (a link followed inside this tab) is dropped unread.
export function dropTokenFromFragment() {
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

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let unauthorized = () => {};

/** What to do when the API refuses the token (the router shows the sign-in form). */
export function onUnauthorized(handler) { unauthorized = handler; }

export async function api(method, path, body, headers) {
  const response = await fetch(API + path, {
    method,
    headers: Object.assign({ Authorization: "Bearer " + token() },
      body === undefined ? {} : { "Content-Type": "application/json" }, headers || {}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    forgetToken();
    unauthorized("Your token was refused or has expired: sign in again.");
    throw new ApiError(401, { title: "Unauthorized" });
  }
  const text = await response.text();
  const data = text ? parseJson(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Every job, following nextToken: one request per page of JOBS_PAGE, each asked for before the
 * previous page is handed to ``onPage(jobs, last)`` (which returns false to stop), so drawing a
 * page overlaps fetching the next. ``query`` is added to each page's address ("&owner=…"). */
export async function allJobs(query, onPage) {
  const ask = (next) => api("GET", `/jobs?limit=${JOBS_PAGE}${query || ""}` + (next ? "&nextToken=" + encodeURIComponent(next) : ""));
  const seen = new Set();
  let request = ask(null);
  for (;;) {
    const page = await request;
    if (!page || !Array.isArray(page.jobs)) throw new Error("the API's list of jobs is not a list");
    const next = typeof page.nextToken === "string" && page.nextToken && !seen.has(page.nextToken) ? page.nextToken : null;
    if (next) {
      seen.add(next);
      request = ask(next);
    }
    const wanted = await onPage(page.jobs, next === null);
    if (next === null || wanted === false) return;
  }
}
