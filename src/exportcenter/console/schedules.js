// Schedules (list, create, pause/resume, run now, delete) and evidence bundle verification.

import { api } from "./api.js";
import {
  $, el, bindDeliveryConfig, checkedScans, fieldForProblem, FormError, markInvalid, parseConfig, showError,
} from "./forms.js";

let syncDelivery = () => {};

export async function loadSchedules(state) {
  if (!state.session) return;  // signed out: nothing to list (and no token to list it with)
  const box = $("#schedules-error");
  try {
    const list = await api(state.session, "/api/v1/schedules");
    renderSchedules(state, list.items || []);
    showError(box, null);
  } catch (error) {
    showError(box, error, "Could not list schedules:");
  }
}

function renderSchedules(state, items) {
  $("#schedules-empty").hidden = items.length > 0;
  $("#schedules-table tbody").replaceChildren(...items.map((s) => {
    const exportSpec = (s.spec && s.spec.export) || {};
    const act = (label, path, method = "POST", question = null) => el("button", {
      type: "button", class: "small", text: label, "aria-label": `${label} schedule ${s.name}`,
      onclick: async () => {
        if (question && !window.confirm(question)) return;
        try {
          await api(state.session, `/api/v1/schedules/${encodeURIComponent(s.name)}${path}`, { method });
          await loadSchedules(state);
        } catch (error) {
          showError($("#schedules-error"), error, `Could not ${label.toLowerCase()} ${s.name}:`);
        }
      },
    });
    return el("tr", { "data-schedule": s.name },
      el("td", { class: "mono", text: s.name }),
      el("td", { class: "mono", text: s.cron }),
      el("td", { text: s.timezone }),
      el("td", { text: `${exportSpec.type || "?"} / ${exportSpec.format || "?"}` }),
      el("td", { "data-role": "next-run", text: s.paused ? "paused" : (s.next_fire_at || "—").replace("T", " ").replace("Z", "") }),
      el("td", {}, el("span", { class: `badge ${s.paused ? "cancelled" : "completed"}`, text: s.paused ? "paused" : "active" })),
      el("td", {}, s.paused ? act("Resume", "/resume") : act("Pause", "/pause"), " ", act("Run now", "/run-now"), " ",
        act("Delete", "", "DELETE", `Delete the schedule ${s.name}? Its future runs are cancelled; past exports stay.`)));
  }));
}

function scheduleBody() {
  const name = $("#sched-name").value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    throw new FormError("Name: letters, digits, '.', '_' or '-', starting with a letter or digit.", $("#sched-name"));
  }
  const cron = $("#sched-cron").value.trim();
  if (cron.split(/\s+/).length !== 5) {
    throw new FormError("Cron needs exactly five fields: minute hour day-of-month month day-of-week (e.g. 0 8 * * MON).", $("#sched-cron"));
  }
  const scope = {};
  const scans = checkedScans($("#sched-scans"));
  if (scans.length) scope.scan_ids = scans;
  const start = $("#sched-start").value.trim();
  if (start) scope.date_range = { start, end: "now" };
  const body = {
    name, cron, timezone: $("#sched-tz").value.trim() || "UTC", catch_up: $("#sched-catchup").value,
    export: { type: $("#sched-type").value, format: $("#sched-format").value, scope },
  };
  const method = $("#sched-delivery").value;
  if (method) {
    body.delivery = { method };
    const config = parseConfig($("#sched-delivery-config"));
    if (config) body.delivery.config = config;
  } else if ($("#sched-delivery-config").value.trim()) {
    throw new FormError("A delivery configuration needs a delivery method: choose one, or clear the configuration.",
      $("#sched-delivery"));
  }
  return body;
}

/** Back to an empty form and table (after sign-out: nothing of the previous tenant stays). */
export function resetSchedules() {
  const form = $("#schedule-form");
  form.reset();
  markInvalid(form, null);
  $("#sched-tz").value = "UTC";
  $("#sched-type").dispatchEvent(new Event("change"));
  $("#schedules-table tbody").replaceChildren();
  syncDelivery();
}

export function initSchedules(state) {
  syncDelivery = bindDeliveryConfig($("#sched-delivery"), $("#sched-delivery-config"), $("#sched-delivery-hint"));
  $("#schedule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("#schedule-form");
    const box = $("#schedule-form-error");
    let body;
    try {
      body = scheduleBody();
    } catch (error) {
      markInvalid(form, error.field);
      return showError(box, error, "Please fix the schedule:");
    }
    markInvalid(form, null);
    try {
      await api(state.session, "/api/v1/schedules", { method: "POST", json: body });
      showError(box, null);
      resetSchedules();
      await loadSchedules(state);
      $("#announce").textContent = `Schedule ${body.name} created`;
    } catch (error) {
      showError(box, error, "The server refused the schedule:");
      const field = fieldForProblem(error, [
        [/cron/i, $("#sched-cron")], [/zone|timezone/i, $("#sched-tz")], [/catch_up|catch-up/i, $("#sched-catchup")],
        [/already exists|\bname\b/i, $("#sched-name")],
        [/delivery\.method|unknown delivery method/i, $("#sched-delivery")],
        [/delivery|webhook|smtp|email|s3|bucket|\burl\b|secret/i, $("#sched-delivery-config")],
        [/date_range|date range|\bstart\b/i, $("#sched-start")],
        [/scan|scope/i, $("#sched-scans input")], [/format/i, $("#sched-format")], [/type/i, $("#sched-type")],
      ]);
      if (field) markInvalid(form, field);
    }
  });
}

export function initVerify(state) {
  $("#verify-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("#verify-error");
    const result = $("#verify-result");
    const file = $("#verify-file").files[0];
    result.hidden = true;
    if (!file) {
      markInvalid($("#verify-form"), $("#verify-file"));
      return showError(box, new FormError("Choose a bundle file first."));
    }
    markInvalid($("#verify-form"), null);
    const form = new FormData();
    form.append("bundle", file, file.name);
    try {
      const summary = await api(state.session, "/api/v1/evidence/verify", { method: "POST", form });
      showError(box, null);
      result.className = "success";
      result.replaceChildren(el("strong", { text: `Verified: ${file.name} is intact and correctly sealed.` }),
        el("pre", { class: "code", text: JSON.stringify(summary, null, 2) }));
      result.hidden = false;
    } catch (error) {
      showError(box, error, "Verification failed:");
    }
  });
}
