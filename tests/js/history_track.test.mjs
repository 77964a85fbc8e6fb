// node --test tests/js/ (run by tests/test_js_modules.py): the history page's DOM-free modules.
import assert from "node:assert/strict";
import { test } from "node:test";

import { clockFormatter, formatDistance, formatDuration } from "../../static/js/history/format.js";
import { Track } from "../../static/js/history/track.js";

const fixes = {
  t: [0, 10, 20, 1000],
  lat: [52.0, 52.001, 52.002, 52.01],
  lon: [4.0, 4.0, 4.0, 4.1],
  speed: [0, 36, null, 20],
  heading: [0, 0, 0, 0],
};

test("the fix at a time is the last one at or before it", () => {
  const track = new Track(fixes, 600);
  assert.equal(track.indexAt(-5), 0);
  assert.equal(track.indexAt(10), 1);
  assert.equal(track.indexAt(19.9), 1);
  assert.equal(track.indexAt(500), 2);
  assert.equal(track.indexAt(5000), 3);
  assert.ok(Number.isNaN(track.speed[2])); // no speed reported: a hole, not a zero
});

test("the marker glides between fixes but waits across a data gap", () => {
  const track = new Track(fixes, 600);
  const halfway = track.positionAt(5);
  assert.ok(Math.abs(halfway.lat - 52.0005) < 1e-9);
  assert.equal(halfway.inGap, false);
  const inGap = track.positionAt(500); // 20 -> 1000 s is longer than the 600 s gap
  assert.equal(inGap.lat, 52.002);
  assert.equal(inGap.inGap, true);
});

test("times are the organization's, durations and distances read plainly", () => {
  const amsterdam = clockFormatter("Europe/Amsterdam");
  const summer = Date.UTC(2026, 5, 10, 6, 0, 0) / 1000;
  assert.equal(amsterdam.long(summer), "08:00:00");
  assert.equal(clockFormatter("UTC").short(summer), "06:00");
  assert.equal(formatDuration(65 * 60), "1 h 05 min");
  assert.equal(formatDuration(59), "1 min");
  assert.equal(formatDistance(950), "950 m");
  assert.equal(formatDistance(12_345), "12.3 km");
});

test("the chart keeps each pixel column's slowest and fastest fix, and holes at gaps", async () => {
  const { chartPoints } = await import("../../static/js/history/speed_chart.js");
  const t = [];
  const speed = [];
  for (let i = 0; i < 1000; i += 1) {
    t.push(i * 10);
    speed.push(i === 500 ? 99 : 20);
  }
  t.push(20_000); // a gap of more than 600 s
  speed.push(10);
  const track = new Track({ t, lat: t.map(() => 52), lon: t.map(() => 4), speed, heading: t }, 600);
  const points = chartPoints(track, 100);
  assert.ok(points.length <= 2 * 101 + 2, points.length);
  assert.ok(points.some((p) => p.y === 99)); // the peak survives
  assert.ok(points.some((p) => p.y === null)); // the gap is a hole
  for (let i = 1; i < points.length; i += 1) {
    assert.ok(points[i].x >= points[i - 1].x);
  }
});
