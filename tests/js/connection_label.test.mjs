// The connection indicator's words (static/js/live_map/connection_label.js): a paused feed says
// the screen shows the database, with the last update in the organization's clock.
import assert from "node:assert/strict";
import { test } from "node:test";

import { connectionLabel } from "../../static/js/live_map/connection_label.js";
import { clockFormatter } from "../../static/js/live_map/format.js";

const clock = clockFormatter("Europe/Amsterdam");
const lastFrameAt = Date.parse("2026-12-02T07:05:12Z");
const now = lastFrameAt + 400;

test("a paused feed says it shows the database, with the organization's time of the last update", () => {
  const label = connectionLabel({
    state: "stale",
    interval: 5,
    connection: { feedPaused: true },
    lastFrameAt,
    now,
    clock,
  });
  assert.equal(label, "Live feed paused · showing the database · last update 08:05:12 CET");
  assert.doesNotMatch(label, /no data for/);
});

test("a paused feed before any data names no time", () => {
  const label = connectionLabel({ state: "stale", interval: 5, connection: { feedPaused: true }, lastFrameAt: 0, now, clock });
  assert.equal(label, "Live feed paused · showing the database");
});

test("a silent socket is stale for as long as it has been silent", () => {
  const label = connectionLabel({
    state: "stale",
    interval: 5,
    connection: { feedPaused: false },
    lastFrameAt,
    now: lastFrameAt + 42_000,
    clock,
  });
  assert.equal(label, "Stale · no data for 42 s");
});

test("live, reconnecting, disconnected and connecting read as before", () => {
  const base = { lastFrameAt, now, clock };
  assert.equal(connectionLabel({ ...base, state: "live", interval: 0, connection: {} }), "Live");
  assert.equal(connectionLabel({ ...base, state: "live", interval: 5, connection: {} }), "Live · every 5 s");
  assert.equal(
    connectionLabel({ ...base, state: "reconnecting", interval: 5, connection: { retryAt: now + 3_500 } }),
    "Reconnecting in 4 s",
  );
  assert.equal(
    connectionLabel({ ...base, state: "reconnecting", interval: 5, connection: { socket: {} } }),
    "Reconnecting…",
  );
  assert.equal(
    connectionLabel({ ...base, state: "reconnecting", interval: 5, connection: { fatal: "signed-out" } }),
    "Disconnected",
  );
  assert.equal(connectionLabel({ ...base, state: "connecting", interval: 5, connection: null }), "Connecting…");
});
