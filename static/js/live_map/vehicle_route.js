// The vehicle's route today in the details panel: what deliveries' JSON says
// (/routes/vehicles/<id>/today.json, deliveries/views_vehicle.py), as plain text. No DOM in
// routeSummary (node --test imports it); renderRoute puts it in with textContent only.

import { zoneAbbreviation } from "./format.js";

export const NO_ROUTE_TEXT = "No route today";

// data: the endpoint's answer (or null when the panel has none); timeZone: the organization's.
export function routeSummary(data, timeZone) {
  const route = data && data.route;
  if (!route) {
    return { empty: true, text: NO_ROUTE_TEXT };
  }
  const total = route.stops_total || 0;
  const done = Math.min(route.stops_done || 0, total);
  const summary = {
    empty: false,
    name: route.name,
    hub: route.hub,
    statusLabel: route.status_label,
    tone: route.tone,
    url: route.url || "",
    progressText: total ? `${done} of ${total} stops done` : "No stops planned yet",
    percent: total ? Math.round((done / total) * 100) : 0,
    next: null,
    finishedText: total && done === total ? "Every stop is done" : "",
  };
  const stop = route.next_stop;
  if (stop) {
    let eta = "No ETA yet";
    if (stop.arrived) {
      eta = "At the stop now";
    } else if (stop.eta_text) {
      const zone = zoneAbbreviation(timeZone, new Date(stop.eta));
      eta = `${stop.eta_is_plan ? "Planned" : "ETA"} ${stop.eta_text}${zone ? ` ${zone}` : ""}`;
    }
    summary.next = {
      title: `Stop ${stop.sequence} · ${stop.reference}`,
      address: stop.address,
      window: stop.window ? `Window ${stop.window}` : "No time window",
      eta,
      late: Boolean(stop.late_risk) && !stop.arrived,
    };
  }
  return summary;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

// Fills `container` (the fragment's [data-vehicle-route]) from routeSummary's result.
export function renderRoute(container, summary) {
  container.replaceChildren();
  container.dataset.state = summary.empty ? "empty" : "route";
  if (summary.empty) {
    container.append(element("p", "vehicle-route__empty muted", summary.text));
    return;
  }
  const head = element("div", "vehicle-route__head");
  const title = summary.url ? element("a", "vehicle-route__name", summary.name) : element("strong", "vehicle-route__name", summary.name);
  if (summary.url) {
    title.href = summary.url;
    title.title = "Open this route";
  }
  head.append(title, element("span", `badge ${summary.tone}`, summary.statusLabel));
  container.append(head, element("p", "vehicle-route__hub muted small", summary.hub));

  const progress = element("div", "vehicle-route__progress");
  const bar = element("progress", "vehicle-route__bar");
  bar.max = 100;
  bar.value = summary.percent;
  bar.setAttribute("aria-label", summary.progressText);
  progress.append(bar, element("span", "vehicle-route__count small", summary.progressText));
  container.append(progress);

  if (summary.next) {
    const next = element("div", `vehicle-route__next${summary.next.late ? " is-late" : ""}`);
    next.append(
      element("span", "vehicle-route__eyebrow", "Next stop"),
      element("strong", "vehicle-route__stop", summary.next.title),
      element("span", "vehicle-route__address", summary.next.address),
      element("span", "vehicle-route__window muted small", summary.next.window),
      element("span", "vehicle-route__eta tabular", summary.next.eta),
    );
    if (summary.next.late) {
      next.append(element("span", "badge severity-warning vehicle-route__late", "Late risk"));
    }
    container.append(next);
  } else if (summary.finishedText) {
    container.append(element("p", "vehicle-route__finished muted", summary.finishedText));
  }
  if (summary.url) {
    const link = element("a", "btn btn--sm vehicle-route__open", "Open route");
    link.href = summary.url;
    container.append(link);
  }
}
