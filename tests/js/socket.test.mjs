// The live feed's websocket (static/js/live_map/socket.js) against a fake WebSocket: a paused
// feed (Redis away) shows "stale" while frames keep coming, and a working connection's loss
// starts the backoff afresh.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { BACKOFF_FIRST_MS, LiveConnection, STABLE_MS } from "../../static/js/live_map/socket.js";

class FakeSocket {
  static OPEN = 1;
  static opened = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.opened.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.readyState = 3;
  }

  // The test plays the server.
  open() {
    this.readyState = FakeSocket.OPEN;
    this.onopen();
  }

  frame(message) {
    this.onmessage({ data: JSON.stringify(message) });
  }

  drop(code = 1006) {
    this.readyState = 3;
    this.onclose({ code });
  }
}

let now = 1_000_000;
const realNow = Date.now;
const connections = [];

beforeEach(() => {
  FakeSocket.opened = [];
  globalThis.WebSocket = FakeSocket;
  Date.now = () => now;
});

afterEach(() => {
  for (const connection of connections.splice(0)) {
    clearTimeout(connection.retryTimer);
  }
  Date.now = realNow;
  delete globalThis.WebSocket;
});

function connect() {
  const states = [];
  const connection = new LiveConnection("ws://test/ws/live/", {
    subscription: () => ({ type: "subscribe", filters: {}, interval: 5 }),
    onMessage: () => {},
    onState: (state) => states.push(state),
  });
  connections.push(connection);
  connection.start();
  const socket = FakeSocket.opened.at(-1);
  socket.open();
  return { connection, socket, states };
}

const update = { type: "update", vehicles: [], removed: [], server_time: "2026-12-02T08:00:00+00:00" };

test("a paused feed is stale while its frames keep coming, and live again when it resumes", () => {
  const { connection, socket } = connect();
  socket.frame({ ...update, type: "snapshot" });
  assert.equal(connection.state, "live");

  socket.frame({ type: "feed", state: "paused", server_time: update.server_time });
  assert.equal(connection.state, "stale");
  socket.frame(update); // polled from the database: data, but not the live feed
  assert.equal(connection.state, "stale");
  assert.equal(connection.attempt, 0);

  socket.frame({ type: "feed", state: "live", server_time: update.server_time });
  assert.equal(connection.state, "live");
  socket.frame(update);
  assert.equal(connection.state, "live");
});

test("a new socket forgets the old one's paused feed", () => {
  const { connection, socket } = connect();
  socket.frame({ type: "feed", state: "paused", server_time: update.server_time });
  socket.drop();
  connection.retryNow();
  const second = FakeSocket.opened.at(-1);
  second.open();
  second.frame({ ...update, type: "snapshot" });
  assert.equal(connection.state, "live");
});

test("losing a connection that worked retries after the first backoff step", () => {
  const { connection, socket } = connect();
  connection.attempt = 4; // a long outage earlier on
  now += STABLE_MS + 1;
  socket.drop();
  assert.equal(connection.retryAt - now, BACKOFF_FIRST_MS);
});

test("a socket that closes at once keeps backing off", () => {
  const { connection, socket } = connect();
  connection.attempt = 3;
  now += 100;
  socket.drop();
  assert.equal(connection.retryAt - now, BACKOFF_FIRST_MS * 8);
});
