// The Console: sign in, exports with live status, export details and downloads, the create form.
// Schedules and bundle verification live in schedules.js.

import { api, clearSession, loadSession, saveSession, subscribe, tenantFromToken } from "./api.js";
import {
  $, el, bindTypeFormat, checkedScans, DELIVERY_HINTS, fillScans, FormError, markInvalid, parseConfig, showError,
} from "./forms.js";
import { initSchedules, initVerify, loadSchedules } from "./schedules.js";

const state = { session: null, catalog: [], scans: [], rows: new Map(), selected: null, cursor: null, unsubscribe: null };
const VIEWS = ["signin", "exports", "create", "schedules", "verify"];

function announce(text) {
  $("#announce").textContent = text;
}

function show(view) {
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
  const tenant = $("#signin-tenant").value.trim() || tenantFromToken(token) || "";
  const box = $("#signin-error");
  if (!token) return showError(box, new FormError("Paste a token first."));
  if (!tenant) return showError(box, new FormError("Enter the tenant the token was issued for."));
  const session = { token, tenant };
  try {
    await api(session, "/api/v1/exports?limit=1");
  } catch (error) {
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
  clearSession();
  state.session = null;
  state.rows.clear();
  $("#exports-table tbody").replaceChildren();
  $("#nav").hidden = true;
  $("#who").hidden = true;
  $("#detail").hidden = true;
  show("signin");
}

// -- exports list --------------------------------------------------------------------------------
async function loadExports(reset) {
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
    el("td", {}, el("progress", { max: "100", value: String(percent), "aria-label": `Progress ${percent}%` }),
      ` ${d.stage && d.status === "processing" ? d.stage : ""}`),
    el("td", { text: (d.created_at || "").replace("T", " ").replace("Z", "") }),
  );
  entry.tr.setAttribute("aria-selected", state.selected === d.export_id ? "true" : "false");
  $("#exports-empty").hidden = true;
  if (state.selected === d.export_id) renderDetail(d);
}

async function onEvent(event) {
  if (!event.export_id) return;
  const known = state.rows.get(event.export_id);
  const update = { export_id: event.export_id, type: event.type, format: event.format };
  if (event.status) update.status = event.status;
  if (typeof event.progress === "number") update.progress = event.progress;
  if (event.stage) update.stage = event.stage;
  if (event.error) update.error = event.error;
  if (known) upsertRow(update, false);
  else if (event.event === "queued") upsertRow({ ...update, created_at: event.time }, true);
  if (["completed", "failed", "cancelled"].includes(event.event) || event.event?.startsWith("delivery_")) {
    announce(`Export ${event.export_id} ${event.status || event.event}`);
    try {
      upsertRow(await api(state.session, `/api/v1/exports/${encodeURIComponent(event.export_id)}`), false);
    } catch { /* the list still shows the event's status */ }
  }
}

// -- export detail -------------------------------------------------------------------------------
async function openDetail(exportId) {
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

function renderDetail(d) {
  $("#detail-title").textContent = `Export ${d.export_id}`;
  const facts = [["Status", d.status], ["Type", d.type], ["Format", d.format], ["Created", d.created_at],
    ["Completed", d.completed_at], ["Expires", d.expires_at], ["Attempts", d.attempts], ["Error", d.error]];
  $("#detail-facts").replaceChildren(...facts.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
  const artifacts = d.artifacts || [];
  $("#detail-artifacts").replaceChildren(...(artifacts.length ? artifacts.map((a) => el("li", {},
    el("span", {}, el("span", { class: "mono", text: a.name }), el("span", { class: "hint", text: ` ${formatBytes(a.size)}` })),
    el("button", { type: "button", class: "small", "data-download": a.name, onclick: () => download(d.export_id, a.name),
      text: "Download", "aria-label": `Download ${a.name}` }))) : [el("li", { class: "hint", text: "No artifacts yet." })]));
  const warnings = d.warnings || [];
  $("#detail-warnings").replaceChildren(...(warnings.length ? warnings.map((w) => el("li", { text: w }))
    : [el("li", { class: "hint", text: "None." })]));
  $("#detail-cancel").hidden = !["queued", "processing"].includes(d.status);
  if (d.status === "completed" && d._loadedFor !== d.completed_at) {
    d._loadedFor = d.completed_at;
    loadManifest(d.export_id);
    loadDeliveries(d.export_id);
  } else if (d.status !== "completed") {
    $("#detail-manifest").textContent = "Available when the export completes.";
    $("#detail-deliveries").replaceChildren(el("p", { class: "hint", text: "None yet." }));
  }
}

function formatBytes(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

async function signedLink(exportId, name) {
  const query = new URLSearchParams({ artifact: name });
  return api(state.session, `/api/v1/exports/${encodeURIComponent(exportId)}/download?${query}`);
}

async function download(exportId, name) {
  try {
    const link = await signedLink(exportId, name);
    const anchor = el("a", { href: link.download_url, download: name, hidden: true });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    announce(`Downloading ${name}`);
  } catch (error) {
    showError($("#exports-error"), error, `Could not download ${name}:`);
  }
}

async function loadManifest(exportId) {
  const box = $("#detail-manifest");
  try {
    const link = await signedLink(exportId, "manifest.json");
    const response = await fetch(link.download_url);
    box.textContent = JSON.stringify(await response.json(), null, 2);
  } catch (error) {
    box.textContent = `Manifest unavailable: ${error.message}`;
  }
}

async function loadDeliveries(exportId) {
  const box = $("#detail-deliveries");
  try {
    const receipts = await api(state.session, `/api/v1/exports/${encodeURIComponent(exportId)}/deliveries`);
    if (!receipts.items.length) {
      box.replaceChildren(el("p", { class: "hint", text: "No delivery was requested." }));
      return;
    }
    box.replaceChildren(...receipts.items.map((r) => el("div", { class: "receipt" },
      el("strong", { text: `${r.method} · attempt ${r.attempt} · ${r.outcome}` }),
      el("div", { class: "hint", text: `${r.finished_at || ""}${r.response_code ? ` · HTTP ${r.response_code}` : ""}` }),
      r.error ? el("div", { text: r.error }) : null, r.detail ? el("div", { class: "mono", text: r.detail }) : null)));
  } catch (error) {
    box.replaceChildren(el("p", { class: "hint", text: `Receipts unavailable: ${error.message}` }));
  }
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
    upsertRow({ ...job, progress: 0 }, true);
    announce(`Export ${job.export_id} queued`);
    show("exports");
    openDetail(job.export_id);
  } catch (error) {
    showError(box, error, "The server refused the export:");
    $("#create-type").focus();
  }
}

// -- wiring --------------------------------------------------------------------------------------
function init() {
  $("#signin-form").addEventListener("submit", signIn);
  $("#signin-token").addEventListener("input", () => {
    const tenant = tenantFromToken($("#signin-token").value);
    if (tenant && !$("#signin-tenant").value) $("#signin-tenant").value = tenant;
  });
  $("#sign-out").addEventListener("click", signOut);
  for (const button of document.querySelectorAll("#nav button")) button.addEventListener("click", () => show(button.dataset.view));
  $("#refresh").addEventListener("click", () => loadExports(true));
  $("#filter-status").addEventListener("change", () => loadExports(true));
  $("#more").addEventListener("click", () => loadExports(false));
  $("#detail-cancel").addEventListener("click", cancelSelected);
  $("#create-form").addEventListener("submit", createExport);
  const hint = () => { $("#delivery-hint").textContent = DELIVERY_HINTS[$("#create-delivery").value] || ""; };
  $("#create-delivery").addEventListener("change", hint);
  hint();
  initSchedules(state);
  initVerify(state);
  const session = loadSession();
  if (session) start(session);
  else show("signin");
}

init();
