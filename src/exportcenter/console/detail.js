// The export detail pane: facts (with delivery status), artifacts with same-origin downloads, warnings,
// delivery receipts (next retry) and the manifest read through its signed link.

import { api, sameOrigin } from "./api.js";
import { $, el, showError } from "./forms.js";

const ctx = { state: null, announce: () => {} };

/** Give the pane the Console's state (session, selection) and its live-region announcer. */
export function bindDetail(state, announce) {
  ctx.state = state;
  ctx.announce = announce;
}

export function deliveryBadge(status) {
  if (!status || status === "not_requested") return el("span", { class: "hint", "data-role": "delivery", text: "—" });
  return el("span", { class: `badge ${status}`, "data-role": "delivery", text: status });
}

export function renderDetail(d) {
  $("#detail-title").textContent = `Export ${d.export_id}`;
  const facts = [["Status", d.status], ["Type", d.type], ["Format", d.format], ["Created", d.created_at],
    ["Completed", d.completed_at], ["Expires", d.expires_at], ["Attempts", d.attempts], ["Error", d.error],
    ["Delivery", d.delivery_status && d.delivery_status !== "not_requested" ? d.delivery_status : null],
    ["Delivery error", d.delivery_status && d.delivery_status !== "delivered" ? d.delivery_error : null]];
  $("#detail-facts").replaceChildren(...facts.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v), "data-fact": k.toLowerCase() })]));
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

export function formatTime(iso) {
  return iso ? `${iso.replace("T", " ").replace("Z", "")} UTC` : "";
}

function formatBytes(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

async function signedLink(exportId, name) {
  const query = new URLSearchParams({ artifact: name });
  return api(ctx.state.session, `/api/v1/exports/${encodeURIComponent(exportId)}/download?${query}`);
}

async function download(exportId, name) {
  try {
    const link = await signedLink(exportId, name);
    const anchor = el("a", { href: sameOrigin(link.download_url), download: name, hidden: true });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    ctx.announce(`Downloading ${name}`);
  } catch (error) {
    showError($("#exports-error"), error, `Could not download ${name}:`);
  }
}

async function loadManifest(exportId) {
  const box = $("#detail-manifest");
  try {
    const link = await signedLink(exportId, "manifest.json");
    const response = await fetch(sameOrigin(link.download_url));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    box.textContent = JSON.stringify(await response.json(), null, 2);
  } catch (error) {
    box.textContent = `Manifest unavailable: ${error.message}`;
  }
}

export async function loadDeliveries(exportId) {
  const box = $("#detail-deliveries");
  try {
    const receipts = await api(ctx.state.session, `/api/v1/exports/${encodeURIComponent(exportId)}/deliveries`);
    if (!receipts.items.length) {
      box.replaceChildren(el("p", { class: "hint", text: "No delivery was requested." }));
      return;
    }
    const status = receipts.delivery_status && receipts.delivery_status !== "not_requested"
      ? el("p", {}, "Delivery: ", el("span", { class: `badge ${receipts.delivery_status}`, text: receipts.delivery_status })) : null;
    box.replaceChildren(...[status, ...receipts.items.map((r) => el("div", { class: "receipt", "data-attempt": r.attempt },
      el("strong", { text: `${r.method} · attempt ${r.attempt} · ${r.outcome}` }),
      el("div", { class: "hint", text: [formatTime(r.finished_at),
        r.response_code ? `${r.method === "email" ? "SMTP" : "HTTP"} ${r.response_code}` : ""].filter(Boolean).join(" · ") }),
      r.error ? el("div", { text: r.error }) : null, r.detail ? el("div", { class: "mono", text: r.detail }) : null,
      r.next_attempt_at ? el("div", { "data-role": "next-retry", text: `Next retry: ${formatTime(r.next_attempt_at)}` }) : null))]
      .filter(Boolean));
  } catch (error) {
    box.replaceChildren(el("p", { class: "hint", text: `Receipts unavailable: ${error.message}` }));
  }
}
