// The inbox's pure logic (static/js/alerts/logic.js): order, filters, live events, ages.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ageText,
  applyAlertEvent,
  compareAlerts,
  mapHref,
  matchesFilters,
  moveSelection,
  SeqMemory,
} from "../../static/js/alerts/logic.js";

const NOW = Date.parse("2026-12-02T10:00:00Z");
const opts = { userId: 7, nowMs: NOW };

function alert(fields) {
  return {
    id: 1, kind: "speeding", severity: 20, status: "open", hub_id: 2, assignee_id: null,
    snoozed_until: null, opened_at: "2026-12-02T09:00:00Z", title: "t", ...fields,
  };
}

test("most severe first, then oldest, then id", () => {
  const list = [
    alert({ id: 1, severity: 20, opened_at: "2026-12-02T09:30:00Z" }),
    alert({ id: 2, severity: 30, opened_at: "2026-12-02T09:50:00Z" }),
    alert({ id: 3, severity: 20, opened_at: "2026-12-02T09:00:00Z" }),
    alert({ id: 4, severity: 20, opened_at: "2026-12-02T09:00:00Z" }),
  ];
  assert.deepEqual(list.sort(compareAlerts).map((a) => a.id), [2, 3, 4, 1]);
});

test("filters match the server's rules", () => {
  const a = alert({});
  assert.equal(matchesFilters(a, { status: "active" }, opts), true);
  assert.equal(matchesFilters({ ...a, status: "resolved" }, { status: "active" }, opts), false);
  const snoozed = { ...a, snoozed_until: "2026-12-02T11:00:00Z" };
  assert.equal(matchesFilters(snoozed, { status: "active" }, opts), false);
  assert.equal(matchesFilters(snoozed, { status: "snoozed" }, opts), true);
  assert.equal(matchesFilters(a, { severities: [30] }, opts), false);
  assert.equal(matchesFilters(a, { kinds: ["speeding"] }, opts), true);
  assert.equal(matchesFilters(a, { hubIds: [3] }, opts), false);
  assert.equal(matchesFilters(a, { assignee: "me" }, opts), false);
  assert.equal(matchesFilters({ ...a, assignee_id: 7 }, { assignee: "me" }, opts), true);
  assert.equal(matchesFilters({ ...a, assignee_id: 7 }, { assignee: "none" }, opts), false);
  assert.equal(matchesFilters(a, { olderThanMinutes: 30 }, opts), true);
  assert.equal(matchesFilters(a, { olderThanMinutes: 90 }, opts), false);
});

test("live events add, update in place, and remove what no longer matches", () => {
  let list = [];
  let result = applyAlertEvent(list, alert({ id: 5 }), { status: "active" }, { ...opts, seq: 10 });
  assert.equal(result.change, "added");
  list = result.list;
  result = applyAlertEvent(list, alert({ id: 5, status: "acknowledged" }), { status: "active" }, { ...opts, seq: 11 });
  assert.equal(result.change, "updated");
  assert.equal(result.list[0].status, "acknowledged");
  list = result.list;
  // An older event arriving late never overwrites a newer one, and a copy changes nothing.
  result = applyAlertEvent(list, alert({ id: 5, status: "open" }), { status: "active" }, { ...opts, seq: 10 });
  assert.equal(result.change, "");
  result = applyAlertEvent(list, alert({ id: 5, status: "acknowledged" }), { status: "active" }, { ...opts, seq: 11 });
  assert.equal(result.change, "");
  result = applyAlertEvent(list, alert({ id: 5, status: "resolved" }), { status: "active" }, { ...opts, seq: 12 });
  assert.equal(result.change, "removed");
  assert.deepEqual(result.list, []);
  // Not for this screen: nothing happens.
  result = applyAlertEvent([], alert({ id: 6, severity: 10 }), { severities: [30] }, opts);
  assert.equal(result.change, "");
});

test("the socket's messages: each alert event once, never an older one after a newer", () => {
  const seen = new SeqMemory(2);
  assert.equal(seen.fresh(5, 10), true); // pushed on commit
  assert.equal(seen.fresh(5, 10), false); // the relay's copy
  assert.equal(seen.fresh(5, 12), true); // resolved
  assert.equal(seen.fresh(5, 10), false); // a stale copy of the opening never reopens it
  assert.equal(seen.fresh(6, 3), true); // another alert: its own sequence
  assert.equal(seen.fresh(7, 4), true);
  assert.equal(seen.fresh(5, 10), true); // forgotten past max (2): the oldest alert went first
  assert.equal(seen.fresh(7, 4), false);
  assert.equal(seen.fresh(8, undefined), true); // no seq: always passed on
  assert.equal(seen.fresh(8, undefined), true);
});

test("ages read well at every scale", () => {
  assert.equal(ageText(42), "42 s");
  assert.equal(ageText(12 * 60 + 5), "12 min");
  assert.equal(ageText(3 * 3600 + 5 * 60), "3 h 05 min");
  assert.equal(ageText(52 * 3600), "2 d 4 h");
  assert.equal(ageText(-5), "0 s");
});

test("j/k selection is clamped and starts at the top", () => {
  assert.equal(moveSelection(-1, 3, "j"), 0);
  assert.equal(moveSelection(0, 3, "k"), 0);
  assert.equal(moveSelection(2, 3, "j"), 2);
  assert.equal(moveSelection(1, 3, "k"), 0);
  assert.equal(moveSelection(0, 0, "j"), -1);
});

test("the map link carries the vehicle and the alert", () => {
  assert.equal(mapHref("/map/", { id: 9, vehicle_id: 4 }), "/map/?vehicle=4&alert=9");
  assert.equal(mapHref("/map/", { id: 9, vehicle_id: null }), "/map/?alert=9");
});
