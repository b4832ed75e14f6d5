// Shared form helpers: valid type x format selects, scan pickers, error display, request building.

export const $ = (selector, root = document) => root.querySelector(selector);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function showError(box, error, intro) {
  box.replaceChildren();
  if (!error) { box.hidden = true; return; }
  box.append(el("strong", { text: intro ? `${intro} ` : "" }), el("span", { text: error.message }));
  if (error.problems && error.problems.length) {
    box.append(el("ul", {}, error.problems.map((p) => el("li", { text: p }))));
  }
  box.hidden = false;
  box.focus?.();
}

export class FormError extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
    this.problems = [];
  }
}

/** Fill the type select from the catalog and keep the format select limited to that type's formats. */
export function bindTypeFormat(typeSelect, formatSelect, catalog, hint) {
  typeSelect.replaceChildren(...catalog.map((t) => el("option", { value: t.type, text: t.type.replace(/_/g, " ") })));
  const sync = () => {
    const entry = catalog.find((t) => t.type === typeSelect.value);
    const previous = formatSelect.value;
    formatSelect.replaceChildren(...(entry ? entry.formats : []).map((f) => el("option", { value: f, text: f })));
    if (entry && entry.formats.includes(previous)) formatSelect.value = previous;
    if (hint) hint.textContent = entry ? entry.description : "";
  };
  typeSelect.addEventListener("change", sync);
  sync();
}

export function fillScans(container, scans, prefix) {
  if (!scans.length) {
    container.replaceChildren(el("p", { class: "hint", text: "No scans stored yet: upload some with the API or `exportcenter ingest`." }));
    return;
  }
  container.replaceChildren(...scans.map((scan) => {
    const id = `${prefix}-${scan.id}`;
    const label = `${scan.artifact_name} · ${scan.scanner} · ${plural(scan.findings, "finding")}`;
    return el("label", { class: "check", for: id },
      el("input", { type: "checkbox", id, value: scan.id, "data-scan": "" }),
      el("span", {}, label, el("span", { class: "hint mono", text: ` ${scan.id}` })));
  }));
}

export function plural(count, noun) {
  const n = Number(count) || 0;
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

export function checkedScans(container) {
  return [...container.querySelectorAll("input[data-scan]:checked")].map((box) => box.value);
}

export function parseConfig(textarea) {
  const text = textarea.value.trim();
  if (!text) return undefined;
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value;
  } catch {
    throw new FormError("Delivery configuration must be a JSON object, e.g. {\"url\": \"https://…\"}.", textarea);
  }
}

export function markInvalid(form, field) {
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

export const DELIVERY_HINTS = {
  "": "The export is downloaded from this console.",
  download: "A signed, expiring download link is recorded as the receipt.",
  email: "{\"to\": [\"secops@example.com\"], \"subject\": \"Weekly report\"}",
  webhook: "{\"url\": \"https://hooks.example.com/exports\", \"secret_env\": \"WEBHOOK_SECRET\"} (or \"secret\": \"…\" inline): "
    + "the body is signed with HMAC-SHA256 of the secret",
  s3: "{\"bucket\": \"reports\", \"prefix\": \"weekly/\"}",
};

/** A delivery configuration only means something with a method: disable the field while the method is
 * "none", and say so when text was typed there (it would otherwise be dropped silently). */
export function bindDeliveryConfig(methodSelect, configArea, hint) {
  const sync = () => {
    const none = !methodSelect.value;
    configArea.disabled = none;
    let text = DELIVERY_HINTS[methodSelect.value] || "";
    if (none && configArea.value.trim()) text = "Choose a method to use this configuration: with “none” it is not sent.";
    if (hint) hint.textContent = text;
  };
  methodSelect.addEventListener("change", sync);
  sync();
  return sync;
}

/** The form field a server refusal names (first match of [pattern, field] in order), or null. */
export function fieldForProblem(error, mapping) {
  const text = [error.message, ...(error.problems || [])].join(" ");
  for (const [pattern, field] of mapping) {
    if (field && pattern.test(text)) return field;
  }
  return null;
}
