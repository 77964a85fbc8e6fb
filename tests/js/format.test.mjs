// node --test tests/js/ (run by tests/test_js_modules.py): the live map's DOM-free modules.
import assert from "node:assert/strict";
import { test } from "node:test";

import { clockFormatter, formatAge, formatSpeed, zoneAbbreviation } from "../../static/js/live_map/format.js";

test("ages read as seconds, minutes, hours, then days", () => {
  assert.equal(formatAge(12_400), "12 s");
  assert.equal(formatAge(4 * 60_000 + 5_000), "4 min");
  assert.equal(formatAge(3 * 3_600_000), "3 h");
  assert.equal(formatAge(50 * 3_600_000), "2 d");
  assert.equal(formatAge(-5_000), "0 s"); // a client clock slightly ahead
  assert.equal(formatAge(NaN), "never");
});

test("speeds are whole km/h, a dash when unknown", () => {
  assert.equal(formatSpeed(41.6), "42 km/h");
  assert.equal(formatSpeed(null), "—");
  assert.equal(formatSpeed(undefined), "—");
});

test("clocks show the organization's zone, not the machine's, with its abbreviation", () => {
  const noonUtc = new Date("2026-01-15T12:00:00Z");
  const amsterdam = clockFormatter("Europe/Amsterdam");
  assert.equal(amsterdam.timeZone, "Europe/Amsterdam");
  assert.match(amsterdam.format(noonUtc), /^13:00:00 CET$/);
  assert.match(clockFormatter("America/New_York").format(noonUtc), /^07:00:00 EST$/);
  assert.equal(zoneAbbreviation("Europe/Amsterdam", new Date("2026-07-01T12:00:00Z")), "CEST");
});

test("an unknown zone falls back to the machine's zone instead of failing", () => {
  const clock = clockFormatter("Not/AZone");
  assert.ok(clock.timeZone);
  assert.match(clock.format(new Date()), /^\d\d:\d\d:\d\d \S+/);
});
