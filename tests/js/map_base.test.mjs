// node --test: the shared map module's metric grid (static/js/maps/base.js), the fallback the
// public tracking page draws when no tiles load.
import assert from "node:assert/strict";
import { test } from "node:test";

import { gridLines, gridSpacing } from "../../static/js/maps/base.js";

test("grid steps are round metres, about 120 px apart on screen", () => {
  // Amsterdam: ~5.8 m per pixel at zoom 14, so 120 px is ~700 m: the nearest nice step is 500 m.
  assert.equal(gridSpacing(52.37, 14).metres, 500);
  assert.equal(gridSpacing(52.37, 16).metres, 200);
  assert.equal(gridSpacing(52.37, 10).metres, 10000);
  const { dLat, dLon } = gridSpacing(52.37, 14);
  assert.ok(Math.abs(dLat - 500 / 111320) < 1e-9);
  assert.ok(dLon > dLat); // a degree of longitude is shorter up north
});

test("grid lines fall on whole steps inside the box, and stay few", () => {
  const spacing = { metres: 1000, dLat: 0.01, dLon: 0.02 };
  const lines = gridLines({ south: 52.305, west: 4.81, north: 52.335, east: 4.85 }, spacing);
  const latitudes = lines.filter((line) => line[0][0] === line[1][0]).map((line) => line[0][0].toFixed(2));
  const longitudes = lines.filter((line) => line[0][1] === line[1][1]).map((line) => line[0][1].toFixed(2));
  assert.deepEqual(latitudes, ["52.31", "52.32", "52.33"]);
  assert.deepEqual(longitudes, ["4.82", "4.84"]);
  const huge = gridLines({ south: -80, west: -170, north: 80, east: 170 }, { metres: 1, dLat: 1e-5, dLon: 1e-5 });
  assert.ok(huge.length <= 800);
});
