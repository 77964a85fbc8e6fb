// The exception inbox: a sorted, filtered list fed live by badge.js's socket, a preview pane,
// and keyboard-fast actions. Everything from the server goes into the DOM as text.

import {
  ageText,
  applyAlertEvent,
  compareAlerts,
  mapHref,
  matchesFilters,
  moveSelection,
  severityClass,
  TOASTS_KEY,
} from "./logic.js";

const config = JSON.parse(document.getElementById("inbox-config").textContent);
const rowsEl = document.getElementById("inbox-rows");
const emptyEl = document.getElementById("inbox-empty");
const loadingEl = document.getElementById("inbox-loading");
const countEl = document.getElementById("inbox-count");
const liveEl = document.getElementById("inbox-live");
const liveText = document.getElementById("inbox-live-text");
const preview = {
  empty: document.getElementById("inbox-preview-empty"),
  body: document.getElementById("inbox-preview-body"),
  severity: document.getElementById("preview-severity"),
  status: document.getElementById("preview-status"),
  title: document.getElementById("preview-title"),
  subject: document.getElementById("preview-subject"),
  facts: document.getElementById("preview-facts"),
  error: document.getElementById("preview-error"),
  map: document.getElementById("preview-map"),
  detail: document.getElementById("preview-detail"),
  snooze: document.getElementById("preview-snooze"),
};
const clock = new Intl.DateTimeFormat(undefined, {
  timeZone: config.timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit",
  day: "numeric", month: "short",
});
// The server's clock, not the screen's: ages stay right on a machine whose clock is off.
const skewMs = Date.parse(config.serverTime) - Date.now();
const now = () => Date.now() + skewMs;

let alerts = config.alerts.slice().sort(compareAlerts);
let selectedId = null;
const options = () => ({ userId: config.userId, nowMs: now() });

function urlFor(template, id) {
  return template.replace("/0/", `/${Number(id)}/`);
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function badgeEl(text, className) {
  const span = document.createElement("span");
  span.className = `badge ${className}`;
  span.textContent = text;
  return span;
}

function statusText(alert) {
  const label = config.statusLabels[alert.status] || alert.status;
  return alert.snoozed_until && Date.parse(alert.snoozed_until) > now() ? `${label} · snoozed` : label;
}

function renderRow(alert) {
  const tr = document.createElement("tr");
  tr.dataset.alertId = String(alert.id);
  tr.className = `inbox-row inbox-row--${alert.status}`;
  tr.tabIndex = -1;
  const severity = document.createElement("td");
  severity.append(badgeEl(config.severityLabels[String(alert.severity)] || "", severityClass(alert.severity)));
  const what = document.createElement("td");
  const title = document.createElement("a");
  title.className = "inbox-row__title";
  title.href = urlFor(config.detailUrl, alert.id);
  title.textContent = alert.title;
  const subject = document.createElement("span");
  subject.className = "inbox-row__subject";
  subject.textContent = alert.subject_label || "";
  what.append(title, subject);
  tr.append(
    severity,
    what,
    cell(config.kindLabels[alert.kind] || alert.kind),
    cell(config.hubNames[String(alert.hub_id)] || "—"),
    cell(statusText(alert), `inbox-status inbox-status--${alert.status}`),
    cell(alert.assignee_name || "—"),
    cell(ageText((now() - Date.parse(alert.opened_at)) / 1000), "text-right tabular inbox-age"),
  );
  if (alert.id === selectedId) tr.classList.add("is-selected");
  return tr;
}

function render() {
  loadingEl.hidden = true;
  rowsEl.replaceChildren(...alerts.map(renderRow));
  emptyEl.hidden = alerts.length > 0;
  countEl.textContent = String(alerts.length);
  if (selectedId !== null && !alerts.some((a) => a.id === selectedId)) {
    selectedId = null;
  }
  renderPreview();
}

function fact(list, term, value) {
  if (!value) return;
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

function label(key) {
  const words = key.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function renderPreview() {
  const alert = alerts.find((a) => a.id === selectedId);
  preview.empty.hidden = Boolean(alert);
  preview.body.hidden = !alert;
  if (!alert) return;
  preview.severity.className = `badge ${severityClass(alert.severity)}`;
  preview.severity.textContent = config.severityLabels[String(alert.severity)] || "";
  preview.status.className = `badge inbox-status--${alert.status}`;
  preview.status.textContent = statusText(alert);
  preview.title.textContent = alert.title;
  preview.subject.textContent = [config.kindLabels[alert.kind], alert.subject_label].filter(Boolean).join(" · ");
  preview.facts.replaceChildren();
  fact(preview.facts, "Opened", clock.format(new Date(alert.opened_at)));
  fact(preview.facts, "Open for", ageText((now() - Date.parse(alert.opened_at)) / 1000));
  fact(preview.facts, "Hub", config.hubNames[String(alert.hub_id)]);
  fact(preview.facts, "Assignee", alert.assignee_name);
  if (alert.acknowledged_at) fact(preview.facts, "Acknowledged", clock.format(new Date(alert.acknowledged_at)));
  if (alert.snoozed_until) fact(preview.facts, "Snoozed until", clock.format(new Date(alert.snoozed_until)));
  for (const [key, value] of Object.entries(alert.details || {})) {
    if (value !== null && typeof value !== "object") fact(preview.facts, label(key), String(value));
  }
  preview.map.href = mapHref(config.mapUrl, alert);
  preview.detail.href = urlFor(config.detailUrl, alert.id);
  preview.body.querySelector('[data-action="acknowledge"]').disabled = alert.status !== "open";
}

function select(id, { scroll = true } = {}) {
  selectedId = id;
  preview.error.hidden = true;
  for (const row of rowsEl.children) {
    row.classList.toggle("is-selected", Number(row.dataset.alertId) === id);
    if (scroll && Number(row.dataset.alertId) === id) row.scrollIntoView({ block: "nearest" });
  }
  renderPreview();
}

function showError(message) {
  preview.error.textContent = message;
  preview.error.hidden = false;
}

function csrfToken() {
  const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  return headers["X-CSRFToken"] || "";
}

async function act(action, extra = {}) {
  const alert = alerts.find((a) => a.id === selectedId);
  if (!alert) return;
  const body = new URLSearchParams({ action, ...extra });
  let response;
  try {
    response = await fetch(urlFor(config.actionUrl, alert.id), {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      body,
      credentials: "same-origin",
    });
  } catch (error) {
    showError("The server could not be reached; try again.");
    return;
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    showError(data.message || `The action failed (HTTP ${response.status}).`);
    return;
  }
  // Show our own change at once; the socket's copy of it follows for every other screen.
  const index = alerts.findIndex((a) => a.id === alert.id);
  const nextIndex = Math.min(index, alerts.length - 2);
  update(data.alert, null);
  if (!alerts.some((a) => a.id === alert.id) && alerts.length) {
    select(alerts[Math.max(0, nextIndex)].id);
  }
}

function update(alert, seq) {
  const result = applyAlertEvent(alerts, alert, config.filters, { ...options(), seq });
  if (!result.change) return result.change;
  alerts = result.list;
  render();
  if (result.change === "added") {
    const row = rowsEl.querySelector(`[data-alert-id="${Number(alert.id)}"]`);
    if (row) row.classList.add("is-new");
  }
  return result.change;
}

async function resync() {
  const url = new URL(window.location.href);
  url.searchParams.set("format", "json");
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    const data = await response.json();
    alerts = data.alerts.sort(compareAlerts);
    render();
  } catch (error) {
    liveText.textContent = "Could not refresh the list; retrying…";
  }
}

const STATE_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  ended: "Signed out: reload the page",
};

window.addEventListener("doorstep:alerts-state", (event) => {
  const { state, reconnected } = event.detail;
  liveEl.dataset.state = state;
  liveText.textContent = STATE_TEXT[state] || state;
  if (state === "live" && reconnected) resync(); // events missed while away
});

window.addEventListener("doorstep:alert", (event) => {
  update(event.detail.alert, event.detail.seq);
});

rowsEl.addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-alert-id]");
  if (!row || event.target.closest("a")) return;
  select(Number(row.dataset.alertId), { scroll: false });
});

preview.body.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  runKey({ acknowledge: "a", "assign-me": "g", snooze: "s", resolve: "r" }[button.dataset.action]);
});

function runKey(key) {
  const index = alerts.findIndex((a) => a.id === selectedId);
  if (key === "j" || key === "k") {
    const next = moveSelection(index, alerts.length, key);
    if (next >= 0) select(alerts[next].id);
    return true;
  }
  if (selectedId === null) return false;
  const alert = alerts[index];
  if (key === "a") act("acknowledge");
  else if (key === "g") act("assign", { assignee: "me" });
  else if (key === "s") act("snooze", { until: preview.snooze.value });
  else if (key === "r") act("resolve");
  else if (key === "Enter") window.location.assign(urlFor(config.detailUrl, selectedId));
  else if (key === "m") window.location.assign(mapHref(config.mapUrl, alert));
  else return false;
  return true;
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, select, textarea, [contenteditable]")) return;
  if (runKey(event.key)) event.preventDefault();
});

const toasts = document.getElementById("inbox-toasts");
try {
  toasts.checked = window.localStorage.getItem(TOASTS_KEY) !== "off";
  toasts.addEventListener("change", () => {
    window.localStorage.setItem(TOASTS_KEY, toasts.checked ? "on" : "off");
  });
} catch (error) {
  toasts.disabled = true;
}

// Ages move on, and snoozed alerts wake: refresh the rows' text every 15 s.
setInterval(() => {
  const before = alerts.length;
  alerts = alerts.filter((a) => matchesFilters(a, config.filters, options()));
  if (alerts.length !== before) {
    render();
    return;
  }
  for (const row of rowsEl.children) {
    const alert = alerts.find((a) => a.id === Number(row.dataset.alertId));
    if (alert) row.querySelector(".inbox-age").textContent = ageText((now() - Date.parse(alert.opened_at)) / 1000);
  }
}, 15000);

window.doorstepInbox = { alerts: () => alerts, select, update };
render();
