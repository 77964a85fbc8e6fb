// The side list: trips, stops and events in time order; a click plays from there.

import { formatDistance, formatDuration } from "./format.js";

const KIND_LABEL = { arrived: "Arrived", delivered: "Delivered", failed: "Failed", alert: "Alert" };
const KIND_CLASS = {
  arrived: "delivery-arrived",
  delivered: "delivery-delivered",
  failed: "delivery-failed",
  alert: "severity-warning",
};

export function eventLabel(event) {
  if (event.kind === "alert") {
    return `Alert: ${event.title}`;
  }
  const reason = event.reason ? ` (${event.reason})` : "";
  return `${KIND_LABEL[event.kind] || event.kind} · ${event.reference}${reason}`;
}

function entry({ tone, title, detail, time, onSelect }) {
  const item = document.createElement("li");
  item.className = "hist-entry";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "hist-entry__button";
  const dot = document.createElement("span");
  dot.className = `dot ${tone}`;
  dot.setAttribute("aria-hidden", "true");
  const when = document.createElement("span");
  when.className = "hist-entry__time tabular";
  when.textContent = time;
  const what = document.createElement("span");
  what.className = "hist-entry__title";
  what.textContent = title;
  const more = document.createElement("span");
  more.className = "hist-entry__detail muted";
  more.textContent = detail;
  button.append(dot, when, what, more);
  button.addEventListener("click", onSelect);
  item.appendChild(button);
  return item;
}

export function renderEntries(list, empty, day, clock, { onSelectSpan, onSelectTime }) {
  const rows = [];
  const at = (offset) => clock.short(day.dayStart + offset);
  for (const trip of day.trips) {
    rows.push({
      t: trip.start,
      tone: "status-moving",
      title: `Trip · ${formatDistance(trip.distanceM)}`,
      detail: `${at(trip.start)}–${at(trip.end)} · ${formatDuration(trip.end - trip.start)} · max ${Math.round(trip.maxSpeedKmh)} km/h`,
      onSelect: () => onSelectSpan(trip),
    });
  }
  for (const stop of day.stops) {
    rows.push({
      t: stop.start,
      tone: stop.engineOn ? "status-idle" : "status-stopped",
      title: `${stop.engineOn ? "Idle stop" : "Stop"} · ${formatDuration(stop.end - stop.start)}`,
      detail: `${at(stop.start)}–${at(stop.end)}`,
      onSelect: () => onSelectSpan(stop),
    });
  }
  for (const event of day.events) {
    rows.push({
      t: event.t,
      tone: KIND_CLASS[event.kind] || "",
      title: event.label,
      detail: event.kind === "alert" ? event.severity : "",
      onSelect: () => onSelectTime(event.t),
    });
  }
  rows.sort((a, b) => a.t - b.t);
  list.replaceChildren(
    ...rows.map((row) => entry({ ...row, time: at(row.t), onSelect: row.onSelect })),
  );
  empty.hidden = rows.length > 0;
}
