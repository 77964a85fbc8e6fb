// The screen <-> query string of static/js/live_map/url_state.js (filters, interval, view).
import assert from "node:assert/strict";
import { test } from "node:test";

import { queryToScreen, screenToQuery, withScreenQuery } from "../../static/js/live_map/url_state.js";

const polygon = {
  type: "Polygon",
  coordinates: [[[4.88, 52.37], [4.91, 52.37], [4.9, 52.35], [4.88, 52.37]]],
};

test("every filter round-trips through the query string", () => {
  const filters = {
    status: ["moving", "idle"],
    hubs: [2, 5],
    zone: 11,
    stale_minutes: 10,
    tags: ["cold", "a,b & c"],
    q: "gt-5 ü",
  };
  const query = screenToQuery(filters, 5, null, 1);
  assert.ok(query.startsWith("?"));
  const screen = queryToScreen(query);
  assert.deepEqual(screen, { filters, interval: 5, viewId: null, present: true });
});

test("a drawn area travels as its corners and comes back closed", () => {
  const query = screenToQuery({ polygon, zone: 11 }, 1, null, 1);
  assert.equal(new URLSearchParams(query).get("area"), "4.88,52.37;4.91,52.37;4.9,52.35");
  assert.equal(new URLSearchParams(query).has("zone"), false); // one area at a time
  assert.deepEqual(queryToScreen(query).filters, { polygon });
});

test("nothing to say gives an empty query, and an empty query says nothing", () => {
  assert.equal(screenToQuery({}, 1, null, 1), "");
  assert.deepEqual(queryToScreen(""), { filters: {}, interval: null, viewId: null, present: false });
  assert.equal(queryToScreen("?utm_source=mail").present, false);
});

test("with a view the interval is always written, so the query holds the whole screen", () => {
  const query = screenToQuery({}, 1, 3, 1);
  assert.equal(query, "?view=3&every=1");
  assert.deepEqual(queryToScreen(query), { filters: {}, interval: 1, viewId: 3, present: true });
  // A hand-written "open this view" link leaves filters and interval to the view.
  assert.deepEqual(queryToScreen("?view=3"), { filters: {}, interval: null, viewId: 3, present: true });
});

test("junk in a shared link is dropped, not obeyed", () => {
  const screen = queryToScreen("?status=moving,bogus&stale=-4&area=1,2;x,y;5,6&every=&q=%20%20");
  assert.deepEqual(screen.filters, { status: ["moving"] });
  assert.equal(screen.interval, null);
});

test("parameters that are not the screen's survive a rewrite", () => {
  assert.equal(withScreenQuery("?debug=1&hubs=4", "?hubs=2"), "?hubs=2&debug=1");
  assert.equal(withScreenQuery("?hubs=4", ""), "");
});
