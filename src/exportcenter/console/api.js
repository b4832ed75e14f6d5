// The Console's only door to the server: the session (token + tenant in sessionStorage), JSON calls with
// problem+json errors turned into readable messages, and the live events WebSocket.

const KEY = "exportcenter.console.session";

export function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return saved && saved.token && saved.tenant ? saved : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

function decodePart(part) {
  return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
}

/** True when the text has the shape of a JWT (three base64url parts, JSON header and claims). */
export function looksLikeJwt(token) {
  const parts = token.trim().split(".");
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return false;
  try {
    const header = decodePart(parts[0]);
    const claims = decodePart(parts[1]);
    return typeof header === "object" && header !== null && typeof claims === "object" && claims !== null;
  } catch {
    return false;
  }
}

/** The tenant claim of a JWT, read without verifying (the server verifies); null when absent. */
export function tenantFromToken(token) {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return null;
  try {
    const claims = decodePart(parts[1]);
    return claims && typeof claims.tenant === "string" && claims.tenant ? claims.tenant : null;
  } catch {
    return null;
  }
}

/** A server link (maybe absolute to the server's public base URL) as a path on this page's own origin:
 * the page's CSP allows only 'self', and a download attribute only works same-origin. */
export function sameOrigin(url) {
  const parsed = new URL(url, location.href);
  return parsed.pathname + parsed.search;
}

export class ApiError extends Error {
  constructor(status, detail, problems) {
    super(detail);
    this.status = status;
    this.problems = problems;
  }
}

/** The problem's sentence without the reasons it lists (the server repeats them in detail). */
function headline(detail, reasons, title) {
  if (!reasons.length || !reasons.every((r) => detail.includes(r))) return detail;
  const head = detail.slice(0, detail.indexOf(reasons[0])).replace(/[\s:;,-]+$/, "");
  return head ? head.charAt(0).toUpperCase() + head.slice(1) + "." : title || "The request is not valid.";
}

function describeProblem(status, body) {
  if (body && typeof body === "object") {
    const list = Array.isArray(body.errors) ? body.errors.map((e) => (typeof e === "string" ? e : e.msg || JSON.stringify(e))) : [];
    const reasons = [...new Set(list)];
    if (Array.isArray(body.detail)) {
      // FastAPI's own validation errors: [{loc, msg}]
      return new ApiError(status, "The request is not valid.", body.detail.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`));
    }
    if (typeof body.detail === "string" && body.detail) {
      if (reasons.length === 1 && body.detail.includes(reasons[0])) return new ApiError(status, body.detail, []);
      return new ApiError(status, headline(body.detail, reasons, body.title), reasons);
    }
    if (body.title) return new ApiError(status, body.title, reasons);
  }
  const fallback = { 401: "Your token was refused: sign in again.", 403: "Your token lacks the scope for this.", 404: "Not found." };
  return new ApiError(status, fallback[status] || `The server answered HTTP ${status}.`, []);
}

export async function api(session, path, { method = "GET", json, form, raw = false } = {}) {
  if (!session) throw new ApiError(401, "You are signed out: sign in first.", []);
  const headers = { Authorization: `Bearer ${session.token}`, "X-Tenant-Id": session.tenant, Accept: "application/json" };
  const init = { method, headers };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `Could not reach the server (${err.message}).`, []);
  }
  if (raw) return response;
  const text = await response.text();
  let body = null;
  if (text) {
    try { body = JSON.parse(text); } catch { body = text; }
  }
  if (!response.ok) throw describeProblem(response.status, body);
  return body;
}

/** Live export events; reconnects with backoff. Returns a function that closes it for good. */
export function subscribe(session, onEvent, onState) {
  let socket = null;
  let closed = false;
  let delay = 500;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ token: session.token, tenant: session.tenant });
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/events?${query}`);
    socket.onopen = () => { delay = 500; };
    socket.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      if (event.event === "subscribed") onState(true);
      else onEvent(event);
    };
    socket.onclose = () => {
      onState(false);
      if (!closed) {
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 15000);
      }
    };
  };
  open();
  return () => { closed = true; if (socket) socket.close(); };
}
