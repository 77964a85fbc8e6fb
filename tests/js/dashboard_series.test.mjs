import assert from "node:assert/strict";
import { test } from "node:test";

import { dayLabel, deliveriesDatasets, hasValues, timeDatasets } from "../../static/js/dashboards/series.js";

test("day labels are calendar days, never shifted by a time zone", () => {
  assert.equal(dayLabel("2026-10-25"), "Sun 25 Oct");
  assert.equal(dayLabel("2026-01-01"), "Thu 1 Jan");
});

const data = {
  days: ["2026-03-01", "2026-03-02"],
  deliveries: [10, 0],
  failures: [1, 0],
  onTimeRate: [90.9, null],
  movingHours: [5.5, 0],
  idleHours: [0.5, 0],
  stoppedHours: [2, 0],
  utilization: [80, null],
};
const tones = { delivered: "g", failed: "r", moving: "m", idle: "i", stopped: "s", line: "l" };

test("deliveries: delivered and failed stacked, the on-time rate on its own axis", () => {
  const sets = deliveriesDatasets(data, tones);
  assert.deepEqual(sets.map((s) => [s.label, s.stack ?? null, s.yAxisID]), [
    ["Delivered", "orders", "y"],
    ["Failed", "orders", "y"],
    ["On-time rate (%)", null, "rate"],
  ]);
  assert.deepEqual(sets[2].data, [90.9, null]);
  assert.equal(sets[0].backgroundColor, "g");
  assert.equal(sets[1].backgroundColor, "r");
});

test("time: moving, idle, stopped in the vehicle-state colours", () => {
  const sets = timeDatasets(data, tones);
  assert.deepEqual(sets.map((s) => s.backgroundColor), ["m", "i", "s", "l"]);
  assert.deepEqual(sets[1].data, [0.5, 0]);
});

test("a period without any value is empty", () => {
  assert.equal(hasValues([0, null], [null]), false);
  assert.equal(hasValues([0, 2]), true);
});
