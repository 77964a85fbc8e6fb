// normalizeFilters of static/js/live_map/filters.js: a saved filter as the form would send it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { normalizeFilters } from "../../static/js/live_map/filters.js";

const hubsById = new Map([
  ["2", { id: 2, name: "Noord" }],
  ["10", { id: 10, name: "Zuid" }],
]);

test("only keys that filter, in the contract's order and spelling", () => {
  assert.deepEqual(
    normalizeFilters(
      {
        status: ["idle", "moving"],
        hubs: ["10", 2],
        stale_minutes: "10",
        tags: ["ev", "cold"],
        q: "  gt-5 ",
        zone: "",
      },
      hubsById,
    ),
    { status: ["moving", "idle"], hubs: [2, 10], stale_minutes: 10, tags: ["cold", "ev"], q: "gt-5" },
  );
});

test("every status ticked is no status filter; an area wins over a zone", () => {
  const polygon = { type: "Polygon", coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] };
  assert.deepEqual(
    normalizeFilters({ status: ["moving", "idle", "stopped", "offline"], zone: 11, polygon }, hubsById),
    { polygon },
  );
  assert.deepEqual(normalizeFilters(null, hubsById), {});
});
