// The connection indicator's words. No DOM: node --test imports it; the page sets textContent.

import { formatAge } from "./format.js";

// state: the LiveConnection's (connecting / live / reconnecting / stale). A paused feed (the
// server's `feed` frame: Redis away) also reads "stale" there, but its data keeps coming from
// database polls, so it says so, with the last update in the organization's clock, instead of
// "no data for 0 s".
export function connectionLabel({ state, interval, connection, lastFrameAt, now, clock }) {
  if (state === "live") {
    return interval === 0 ? "Live" : `Live · every ${interval} s`;
  }
  if (state === "stale") {
    if (connection && connection.feedPaused) {
      const since = lastFrameAt ? ` · last update ${clock.format(new Date(lastFrameAt))}` : "";
      return `Live feed paused · showing the database${since}`;
    }
    return `Stale · no data for ${formatAge(now - lastFrameAt)}`;
  }
  if (state === "reconnecting") {
    if (connection && connection.fatal) {
      return "Disconnected";
    }
    if (connection && connection.socket) {
      return "Reconnecting…";
    }
    const wait = connection ? Math.max(0, Math.ceil((connection.retryAt - now) / 1000)) : 0;
    return `Reconnecting in ${wait} s`;
  }
  return "Connecting…";
}
