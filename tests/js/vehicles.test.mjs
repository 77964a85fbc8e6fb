// The vehicle store of static/js/live_map/vehicles.js: snapshot replaces, parts add, updates patch.
import assert from "node:assert/strict";
import { test } from "node:test";

import { VehicleStore, ageAlpha, mercatorX, mercatorY } from "../../static/js/live_map/vehicles.js";

const van = (id, extra = {}) => ({
  id,
  plate: `P-${id}`,
  driver: `Driver ${id}`,
  lat: 52.37,
  lon: 4.89,
  status: "moving",
  fix_time: "2026-01-15T12:00:00+00:00",
  ...extra,
});

test("a snapshot replaces, snapshot_more adds, an update patches and removes", () => {
  const store = new VehicleStore();
  assert.equal(store.apply({ type: "snapshot", vehicles: [van(1), van(2)] }), true);
  const map = store.vehicles;
  const first = map.get(1);
  store.apply({ type: "snapshot_more", vehicles: [van(3)] });
  assert.deepEqual([...map.keys()], [1, 2, 3]);

  // Updates carry descriptive fields only when they changed: no "plate" keeps them.
  store.apply({ type: "update", vehicles: [{ id: 1, lat: 52.4, lon: 4.9, status: "idle" }], removed: [2] });
  assert.equal(map.get(1), first); // updated in place
  assert.equal(first.plate, "P-1");
  assert.equal(first.driver, "Driver 1");
  assert.equal(first.status, "idle");
  assert.deepEqual([...map.keys()], [1, 3]);

  store.apply({ type: "snapshot", vehicles: [van(3)] });
  assert.equal(store.vehicles, map); // the same Map object: tests and debuggers hold on to it
  assert.deepEqual([...map.keys()], [3]);
  assert.equal(store.apply({ type: "error", message: "x" }), false);
});

test("unknown statuses read as offline; positions are pre-projected", () => {
  const store = new VehicleStore();
  store.apply({ type: "snapshot", vehicles: [van(1, { status: "teleporting" }), van(2, { lat: null })] });
  assert.equal(store.vehicles.get(1).status, "offline");
  assert.ok(Number.isNaN(store.vehicles.get(2).mx)); // never drawn
  assert.equal(store.vehicles.get(1).mx, mercatorX(4.89));
  assert.equal(store.vehicles.get(1).my, mercatorY(52.37));
  assert.equal(mercatorX(0), 0.5);
  assert.equal(mercatorY(0), 0.5);
});

test("server_time sets the clock offset; fixes fade after a minute", () => {
  const store = new VehicleStore();
  const ahead = new Date(Date.now() + 60_000).toISOString();
  store.apply({ type: "snapshot", vehicles: [], server_time: ahead });
  assert.ok(Math.abs(store.now() - Date.now() - 60_000) < 1_000);
  assert.equal(ageAlpha(30_000), 1);
  assert.ok(ageAlpha(5 * 60_000) < 1 && ageAlpha(5 * 60_000) > 0.35);
  assert.equal(ageAlpha(60 * 60_000), 0.35);
});
