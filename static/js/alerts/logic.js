// The inbox's pure logic: order, filters, live events, ages. No DOM: node --test imports it.
//
// An alert here is the snapshot the server sends (alerts/services/actions.py alert_snapshot,
// the engine's outbox payload): { id, kind, severity, status, title, subject_label, hub_id,
// vehicle_id, opened_at, assignee_id, assignee_name, snoozed_until, resolved_at, ... }.

export const ACTIVE = ["open", "acknowledged"];
// localStorage: "off" when this browser wants no pop-up on new alerts.
export const TOASTS_KEY = "doorstep.alertToasts";

function time(value) {
  const t = value ? Date.parse(value) : NaN;
  return Number.isFinite(t) ? t : 0;
}

// Most severe first, then the one that has waited longest; id breaks ties (stable screens).
export function compareAlerts(a, b) {
  return (b.severity - a.severity) || (time(a.opened_at) - time(b.opened_at)) || (a.id - b.id);
}

export function isSnoozed(alert, nowMs) {
  return Boolean(alert.snoozed_until) && time(alert.snoozed_until) > nowMs;
}

// Does an alert belong on a screen with these filters (the same rules as alerts/selectors.py)?
// filters: { status, severities, kinds, hubIds, assignee, olderThanMinutes }.
export function matchesFilters(alert, filters, { userId, nowMs }) {
  const f = filters || {};
  const status = f.status || "active";
  const active = ACTIVE.includes(alert.status);
  if (status === "active" && !(active && !isSnoozed(alert, nowMs))) return false;
  if (status === "snoozed" && !(active && isSnoozed(alert, nowMs))) return false;
  if (["open", "acknowledged", "resolved"].includes(status) && alert.status !== status) return false;
  if (f.severities && f.severities.length && !f.severities.includes(alert.severity)) return false;
  if (f.kinds && f.kinds.length && !f.kinds.includes(alert.kind)) return false;
  if (f.hubIds && f.hubIds.length && !f.hubIds.includes(alert.hub_id)) return false;
  if (f.assignee === "me" && alert.assignee_id !== userId) return false;
  if (f.assignee === "none" && alert.assignee_id) return false;
  if (/^\d+$/.test(f.assignee || "") && alert.assignee_id !== Number(f.assignee)) return false;
  if (f.olderThanMinutes && nowMs - time(alert.opened_at) < f.olderThanMinutes * 60000) return false;
  return true;
}

// The newest event id (`seq`) seen per alert, for the socket's messages: the same event can
// arrive twice (pushed when the alert's transaction committed, then again by the outbox relay;
// alerts/live.py), and a copy or an older snapshot must neither toast again nor bring back an
// alert the screen already saw resolved. `fresh` answers and remembers; the oldest alerts are
// forgotten past `max`.
export class SeqMemory {
  constructor(max = 4096) {
    this.max = max;
    this.seqs = new Map();
  }

  fresh(alertId, seq) {
    if (alertId == null || !seq) return true;
    const seen = this.seqs.get(alertId);
    if (seen !== undefined && seen >= seq) return false;
    this.seqs.delete(alertId);
    this.seqs.set(alertId, seq);
    if (this.seqs.size > this.max) this.seqs.delete(this.seqs.keys().next().value);
    return true;
  }
}

// Apply one live alert event to the list (sorted). Returns { list, change } where change is
// "added", "updated", "removed" or "" (not on this screen). An older snapshot of an alert never
// replaces a newer one: events can arrive out of order (the outbox keeps order per organization,
// but a resync may overtake them), so `seq` (the outbox event id, when given) decides.
export function applyAlertEvent(list, alert, filters, { userId, nowMs, seq }) {
  const index = list.findIndex((item) => item.id === alert.id);
  const existing = index >= 0 ? list[index] : null;
  if (existing && seq && existing._seq && existing._seq >= seq) {
    return { list, change: "" };
  }
  const incoming = seq ? { ...alert, _seq: seq } : { ...alert };
  const belongs = matchesFilters(incoming, filters, { userId, nowMs });
  if (!belongs) {
    if (!existing) return { list, change: "" };
    const next = list.slice();
    next.splice(index, 1);
    return { list: next, change: "removed" };
  }
  const next = list.slice();
  if (existing) {
    next[index] = { ...existing, ...incoming };
  } else {
    next.push(incoming);
  }
  next.sort(compareAlerts);
  return { list: next, change: existing ? "updated" : "added" };
}

// "42 s", "12 min", "3 h 05 min", "2 d 4 h": short enough for a table column.
export function ageText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export const SEVERITY_CLASS = { 30: "critical", 20: "warning", 10: "info" };

export function severityClass(severity) {
  return `severity-${SEVERITY_CLASS[severity] || "info"}`;
}

// Keyboard: the next selected index after j/k (clamped; -1 selects the first row).
export function moveSelection(index, length, key) {
  if (!length) return -1;
  if (index < 0) return 0;
  if (key === "j") return Math.min(length - 1, index + 1);
  if (key === "k") return Math.max(0, index - 1);
  return index;
}

// The live map link for an alert: the map's URL state keeps unknown parameters, and
// static/js/live_map/alerts_layer.js reads vehicle= and alert= to centre and highlight.
export function mapHref(mapUrl, alert) {
  const params = new URLSearchParams();
  if (alert.vehicle_id) params.set("vehicle", String(alert.vehicle_id));
  params.set("alert", String(alert.id));
  return `${mapUrl}?${params.toString()}`;
}
