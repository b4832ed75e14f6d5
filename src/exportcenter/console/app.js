// The Console: sign in, exports with live status, export details and downloads, the create form.
// Schedules and bundle verification live in schedules.js.

import { api, clearSession, loadSession, looksLikeJwt, saveSession, subscribe, tenantFromToken } from "./api.js";
import {
  $, el, bindDeliveryConfig, bindTypeFormat, checkedScans, fieldForProblem, fillScans, FormError, markInvalid, parseConfig,
  showError,
} from "./forms.js";
import { bindDetail, deliveryBadge, formatTime, loadDeliveries, renderDetail } from "./detail.js";
import { initSchedules, initVerify, loadSchedules, resetSchedules } from "./schedules.js";

const state = { session: null, catalog: [], scans: [], rows: new Map(), selected: null, cursor: null, unsubscribe: null };
const VIEWS = ["signin", "exports", "create", "schedules", "verify"];

function announce(text) {
  $("#announce").textContent = text;
}

function show(requested) {
  // Without a session only the sign-in form exists: no view may run its API calls.
  const view = state.session ? requested : "signin";
  for (const name of VIEWS) $(`#view-${name}`).hidden = name !== view;
  for (const button of document.querySelectorAll("#nav button")) {
    if (button.dataset.view === view) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  if (view !== "signin") history.replaceState(null, "", `#${view}`);
  if (view === "schedules") loadSchedules(state);
  $("#main").focus({ preventScroll: true });
}

// -- sign in -------------------------------------------------------------------------------------
async function signIn(event) {
  event.preventDefault();
  const token = $("#signin-token").value.trim();
  // The token's own claim wins: a pasted token for another tenant must not keep the previous tenant.
  const tenant = tenantFromToken(token) || $("#signin-tenant").value.trim();
  const box = $("#signin-error");
  const form = $("#signin-form");
  $("#who-tenant").textContent = "";
  if (!token) {
    markInvalid(form, $("#signin-token"));
    return showError(box, new FormError("Paste a token first."));
  }
  if (!looksLikeJwt(token)) {
    markInvalid(form, $("#signin-token"));
    return showError(box, new FormError("This is not a valid token: paste the whole JWT (three dot-separated parts)."),
      "Sign-in failed:");
  }
  if (!tenant) {
    markInvalid(form, $("#signin-tenant"));
    return showError(box, new FormError("Enter the tenant the token was issued for."));
  }
  $("#signin-tenant").value = tenant;
  markInvalid(form, null);
  const session = { token, tenant };
  try {
    await api(session, "/api/v1/exports?limit=1");
  } catch (error) {
    const field = /tenant/i.test(error.message) ? $("#signin-tenant") : $("#signin-token");
    markInvalid(form, field);
    return showError(box, error, "Sign-in failed:");
  }
  showError(box, null);
  saveSession(session);
  $("#signin-token").value = "";
  await start(session);
}

async function start(session) {
  state.session = session;
  $("#nav").hidden = false;
  $("#who").hidden = false;
  $("#who-tenant").textContent = `Tenant: ${session.tenant}`;
  try {
    state.catalog = (await api(session, "/api/v1/formats")).types;
    state.scans = (await api(session, "/api/v1/scans?limit=500")).items;
  } catch (error) {
    showError($("#exports-error"), error, "Could not load the catalog:");
  }
  bindTypeFormat($("#create-type"), $("#create-format"), state.catalog, $("#create-type-hint"));
  bindTypeFormat($("#sched-type"), $("#sched-format"), state.catalog);
  fillScans($("#create-scans"), state.scans, "scan");
  fillScans($("#sched-scans"), state.scans, "sched-scan");
  state.unsubscribe = subscribe(session, onEvent, (live) => {
    $("#live").textContent = live ? "live" : "offline";
    $("#live").classList.toggle("on", live);
  });
  await loadExports(true);
  const wanted = location.hash.slice(1);
  show(VIEWS.includes(wanted) && wanted !== "signin" ? wanted : "exports");
}

function signOut() {
  if (state.unsubscribe) state.unsubscribe();
  state.unsubscribe = null;
  clearSession();
  state.session = null;
  state.selected = null;
  state.cursor = null;
  state.rows.clear();
  $("#exports-table tbody").replaceChildren();
  $("#nav").hidden = true;
  $("#who").hidden = true;
  $("#who-tenant").textContent = "";
  $("#live").textContent = "offline";
  $("#live").classList.remove("on");
  $("#detail").hidden = true;
  // Nothing of the previous tenant survives: the next token decides the tenant.
  $("#signin-form").reset();
  syncTenantField();
  resetCreateForm();
  resetSchedules();
  for (const box of document.querySelectorAll(".error[role=alert]")) showError(box, null);
  history.replaceState(null, "", location.pathname);
  show("signin");
}

function syncTenantField() {
  const field = $("#signin-tenant");
  const claimed = tenantFromToken($("#signin-token").value);
  if (claimed) field.value = claimed;
  field.readOnly = Boolean(claimed);
  $("#signin-tenant-hint").textContent = claimed ? "Taken from the token's tenant claim."
    : "The token has no tenant claim: enter the tenant it was issued for.";
}

// -- exports list --------------------------------------------------------------------------------
async function loadExports(reset) {
  if (!state.session) return;
  const box = $("#exports-error");
  const status = $("#filter-status").value;
  const query = new URLSearchParams({ limit: "50" });
  if (status) query.set("status", status);
  if (!reset && state.cursor) query.set("cursor", state.cursor);
  try {
    const page = await api(state.session, `/api/v1/exports?${query}`);
    if (reset) {
      state.rows.clear();
      $("#exports-table tbody").replaceChildren();
    }
    for (const item of page.items) upsertRow(item, false);
    state.cursor = page.next_cursor;
    $("#more").hidden = !page.next_cursor;
    $("#exports-empty").hidden = state.rows.size > 0;
    showError(box, null);
  } catch (error) {
    showError(box, error, "Could not list exports:");
  }
}

function upsertRow(item, prepend) {
  let entry = state.rows.get(item.export_id);
  if (!entry) {
    const tr = el("tr", { "data-export-id": item.export_id, "data-history": "" });
    tr.addEventListener("click", () => openDetail(item.export_id));
    entry = { tr, data: {} };
    state.rows.set(item.export_id, entry);
    const body = $("#exports-table tbody");
    if (prepend) {
      body.prepend(tr);
      tr.classList.add("fresh");
    } else body.append(tr);
  }
  entry.data = { ...entry.data, ...item };
  const d = entry.data;
  const history = entry.tr.dataset.history ? entry.tr.dataset.history.split(" ") : [];
  if (history[history.length - 1] !== d.status) history.push(d.status);
  entry.tr.dataset.history = history.join(" ");
  entry.tr.dataset.status = d.status;
  const percent = d.status === "completed" ? 100 : d.progress || 0;
  entry.tr.replaceChildren(
    el("td", {}, el("button", { type: "button", class: "rowlink", text: d.export_id, "aria-label": `Details of export ${d.export_id}` })),
    el("td", { text: d.type }),
    el("td", { text: d.format }),
    el("td", {}, el("span", { class: `badge ${d.status}`, "data-role": "status", text: d.status })),
    el("td", {}, deliveryBadge(d.delivery_status)),
    el("td", {}, el("progress", { max: "100", value: String(percent), "aria-label": `Progress ${percent}%` }),
      ` ${d.stage && d.status === "processing" ? d.stage : ""}`),
    el("td", { text: (d.created_at || "").replace("T", " ").replace("Z", "") }),
  );
  entry.tr.setAttribute("aria-selected", state.selected === d.export_id ? "true" : "false");
  $("#exports-empty").hidden = true;
  if (state.selected === d.export_id) renderDetail(d);
}

async function onEvent(event) {
  if (!event.export_id || !state.session) return;
  const known = state.rows.get(event.export_id);
  const update = { export_id: event.export_id, type: event.type, format: event.format };
  if (event.status) update.status = event.status;
  if (typeof event.progress === "number") update.progress = event.progress;
  if (event.stage) update.stage = event.stage;
  const isDelivery = Boolean(event.event?.startsWith("delivery_"));
  if (isDelivery) {
    update.delivery_status = event.delivery_status || event.event.slice("delivery_".length);
    update.delivery_error = event.error || null;
  } else if (event.error) update.error = event.error;
  if (known) upsertRow(update, false);
  else if (event.event === "queued") upsertRow({ ...update, created_at: event.time }, true);
  if (isDelivery) {
    // A delivery event is about the delivery, never the export's own status ("completed").
    const retry = event.next_attempt_at ? `, next retry ${formatTime(event.next_attempt_at)}` : "";
    announce(`Export ${event.export_id} delivery ${update.delivery_status}${retry}`);
    if (state.selected === event.export_id) loadDeliveries(event.export_id);
  } else if (["completed", "failed", "cancelled"].includes(event.event)) {
    announce(`Export ${event.export_id} ${event.status || event.event}`);
  }
  if (isDelivery || ["completed", "failed", "cancelled"].includes(event.event)) {
    try {
      upsertRow(await api(state.session, `/api/v1/exports/${encodeURIComponent(event.export_id)}`), false);
    } catch { /* the list still shows the event's status */ }
  }
}

// -- export detail -------------------------------------------------------------------------------
async function openDetail(exportId) {
  if (!state.session) return;
  state.selected = exportId;
  for (const [id, entry] of state.rows) entry.tr.setAttribute("aria-selected", id === exportId ? "true" : "false");
  const detail = $("#detail");
  detail.hidden = false;
  try {
    const item = await api(state.session, `/api/v1/exports/${encodeURIComponent(exportId)}`);
    upsertRow(item, false);
  } catch (error) {
    showError($("#exports-error"), error, "Could not load the export:");
  }
  detail.focus();
}

async function cancelSelected() {
  if (!state.selected) return;
  try {
    upsertRow(await api(state.session, `/api/v1/exports/${encodeURIComponent(state.selected)}/cancel`, { method: "POST" }), false);
  } catch (error) {
    showError($("#exports-error"), error, "Could not cancel:");
  }
}

// -- create --------------------------------------------------------------------------------------
function exportRequest() {
  const scope = {};
  const scans = checkedScans($("#create-scans"));
  if (scans.length) scope.scan_ids = scans;
  const images = $("#create-images").value.split("\n").map((s) => s.trim()).filter(Boolean);
  if (images.length) scope.image_refs = images;
  const policies = $("#create-policies").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (policies.length) scope.policy_sets = policies;
  const start = $("#create-start").value.trim();
  const end = $("#create-end").value.trim();
  if (start || end) {
    if (!start) throw new FormError("Give the start of the date range too (e.g. -7d).", $("#create-start"));
    scope.date_range = { start, end: end || "now" };
  }
  const type = $("#create-type").value;
  if (!scope.scan_ids && !scope.image_refs && !scope.date_range && type !== "audit_log") {
    throw new FormError("Choose the scope: tick at least one scan, give an image reference, or a date range.",
      $("#create-scans input") || $("#create-images"));
  }
  const options = {
    include_sbom: $("#opt-sbom").checked, include_evidence: $("#opt-evidence").checked,
    include_remediation: $("#opt-remediation").checked,
  };
  const template = $("#opt-template").value.trim();
  if (template) options.template = template;
  const body = { type, format: $("#create-format").value, scope, options };
  const method = $("#create-delivery").value;
  if (method) {
    body.delivery = { method };
    const config = parseConfig($("#create-delivery-config"));
    if (config) body.delivery.config = config;
  } else if ($("#create-delivery-config").value.trim()) {
    throw new FormError("A delivery configuration needs a method: choose one, or clear the configuration.", $("#create-delivery"));
  }
  return body;
}

async function createExport(event) {
  event.preventDefault();
  const form = $("#create-form");
  const box = $("#create-error");
  let body;
  try {
    body = exportRequest();
  } catch (error) {
    markInvalid(form, error.field);
    return showError(box, error, "Please fix the form:");
  }
  markInvalid(form, null);
  try {
    const job = await api(state.session, "/api/v1/exports", { method: "POST", json: body });
    showError(box, null);
    resetCreateForm();  // the next export must not silently inherit this one's scans, sealing or delivery
    upsertRow({ ...job, progress: 0 }, true);
    announce(`Export ${job.export_id} queued`);
    show("exports");
    openDetail(job.export_id);
  } catch (error) {
    showError(box, error, "The server refused the export:");
    const field = fieldForProblem(error, [
      [/delivery\.method|unknown delivery method/i, $("#create-delivery")],
      [/delivery|webhook|smtp|email|s3|bucket|\burl\b|secret/i, $("#create-delivery-config")],
      [/date_range|date range|\bstart\b|\bend\b/i, $("#create-start")],
      [/image_refs|image ref/i, $("#create-images")],
      [/policy/i, $("#create-policies")],
      [/template/i, $("#opt-template")],
      [/scan/i, $("#create-scans input") || $("#create-images")],
      [/format/i, $("#create-format")],
      [/type/i, $("#create-type")],
    ]);
    if (field) markInvalid(form, field);
    else $("#create-type").focus();
  }
}

let syncCreateDelivery = () => {};

function resetCreateForm() {
  const form = $("#create-form");
  form.reset();
  markInvalid(form, null);
  $("#create-type").dispatchEvent(new Event("change"));
  syncCreateDelivery();
}

// -- wiring --------------------------------------------------------------------------------------
function init() {
  $("#signin-form").addEventListener("submit", signIn);
  $("#signin-token").addEventListener("input", syncTenantField);
  $("#sign-out").addEventListener("click", signOut);
  for (const button of document.querySelectorAll("#nav button")) button.addEventListener("click", () => show(button.dataset.view));
  $("#refresh").addEventListener("click", () => loadExports(true));
  $("#filter-status").addEventListener("change", () => loadExports(true));
  $("#more").addEventListener("click", () => loadExports(false));
  $("#detail-cancel").addEventListener("click", cancelSelected);
  $("#create-form").addEventListener("submit", createExport);
  syncCreateDelivery = bindDeliveryConfig($("#create-delivery"), $("#create-delivery-config"), $("#delivery-hint"));
  bindDetail(state, announce);
  initSchedules(state);
  initVerify(state);
  const session = loadSession();
  if (session) start(session);
  else show("signin");
}

init();
