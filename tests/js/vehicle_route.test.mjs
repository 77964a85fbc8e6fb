// node --test: the details panel's route summary (static/js/live_map/vehicle_route.js) and the
// panel's live-field formats (format.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { fixClockFormatter, formatPosition } from "../../static/js/live_map/format.js";
import { NO_ROUTE_TEXT, routeSummary } from "../../static/js/live_map/vehicle_route.js";

const ROUTE = {
  id: 12,
  name: "Route #12",
  hub: "Amsterdam West",
  status: "in_progress",
  status_label: "In progress",
  tone: "delivery-arrived",
  url: "/routes/12/",
  stops_total: 8,
  stops_done: 3,
  next_stop: {
    sequence: 4,
    reference: "AMS-1042",
    address: "Prinsengracht 263",
    window: "14:00–16:00",
    eta: "2026-12-02T13:32:00+00:00",
    eta_text: "14:32",
    eta_is_plan: false,
    late_risk: false,
    arrived: false,
  },
};

test("no route reads plainly, without a parenthetical", () => {
  assert.deepEqual(routeSummary({ route: null }, "Europe/Amsterdam"), { empty: true, text: "No route today" });
  assert.equal(routeSummary(null, "UTC").text, NO_ROUTE_TEXT);
});

test("a route on the road: progress, the next stop and its ETA in the organization's zone", () => {
  const summary = routeSummary({ route: ROUTE }, "Europe/Amsterdam");
  assert.equal(summary.name, "Route #12");
  assert.equal(summary.progressText, "3 of 8 stops done");
  assert.equal(summary.percent, 38);
  assert.equal(summary.url, "/routes/12/");
  assert.deepEqual(summary.next, {
    title: "Stop 4 · AMS-1042",
    address: "Prinsengracht 263",
    window: "Window 14:00–16:00",
    eta: "ETA 14:32 CET",
    late: false,
  });
});

test("planned times, arrivals, no window, late risk and a finished route", () => {
  const stop = { ...ROUTE.next_stop, eta_is_plan: true, window: "", late_risk: true };
  let summary = routeSummary({ route: { ...ROUTE, next_stop: stop } }, "Europe/Amsterdam");
  assert.equal(summary.next.eta, "Planned 14:32 CET");
  assert.equal(summary.next.window, "No time window");
  assert.equal(summary.next.late, true);
  summary = routeSummary({ route: { ...ROUTE, next_stop: { ...stop, arrived: true } } }, "UTC");
  assert.equal(summary.next.eta, "At the stop now");
  assert.equal(summary.next.late, false);
  summary = routeSummary({ route: { ...ROUTE, next_stop: { ...stop, eta: null, eta_text: "" } } }, "UTC");
  assert.equal(summary.next.eta, "No ETA yet");
  summary = routeSummary({ route: { ...ROUTE, stops_done: 8, next_stop: null } }, "UTC");
  assert.equal(summary.next, null);
  assert.equal(summary.finishedText, "Every stop is done");
  summary = routeSummary({ route: { ...ROUTE, stops_total: 0, stops_done: 0, next_stop: null } }, "UTC");
  assert.equal(summary.progressText, "No stops planned yet");
  assert.equal(summary.finishedText, "");
});

test("the last-update line is the organization's clock, like the server's D j M, H:i:s T", () => {
  const format = fixClockFormatter("Europe/Amsterdam");
  assert.equal(format(new Date("2026-12-02T06:12:33Z")), "Wed 2 Dec, 07:12:33 CET");
  assert.equal(fixClockFormatter("America/New_York")(new Date("2026-07-01T12:00:05Z")), "Wed 1 Jul, 08:00:05 EDT");
});

test("positions have five decimals, a dash when unknown", () => {
  assert.equal(formatPosition(52.3702, 4.8952), "52.37020, 4.89520");
  assert.equal(formatPosition(null, 4.9), "—");
});
