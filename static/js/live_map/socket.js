// The live feed's websocket: subscribe, back off, reconnect, detect a silent socket.

export const BACKOFF_FIRST_MS = 1000;
export const BACKOFF_MAX_MS = 30000;
// A socket that stayed open this long was a working connection: its loss starts the backoff
// afresh instead of where the last outage left it.
export const STABLE_MS = 5000;

// Connects, re-subscribes after every (re)connect, backs off 1 s doubling to 30 s, and reports
// connecting / live / reconnecting / stale. "stale" also while the server says its live feed is
// paused (a `feed` frame: Redis away, the screen is fed from database polls).
export class LiveConnection {
  constructor(url, { subscription, onMessage, onState }) {
    this.url = url;
    this.subscription = subscription;
    this.onMessage = onMessage;
    this.onState = onState;
    this.socket = null;
    this.attempt = 0;
    this.retryTimer = 0;
    this.retryAt = 0;
    this.state = "connecting";
    this.lastFrameAt = 0;
    this.probedAt = 0;
    this.everConnected = false;
    this.fatal = null;
    this.feedPaused = false;
    this.openedAt = 0;
  }

  start() {
    this._connect();
  }

  _connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = 0;
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this._scheduleRetry(null);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.everConnected = true;
      this.openedAt = Date.now();
      this.feedPaused = false; // a new socket: the server says again if its feed is paused
      this.send(this.subscription());
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message.type === "feed") {
        this.feedPaused = message.state === "paused";
      }
      if (["snapshot", "snapshot_more", "update", "feed"].includes(message.type)) {
        this.attempt = 0;
        this.lastFrameAt = Date.now();
        this.probedAt = 0;
        this._setState(this.feedPaused ? "stale" : "live");
      }
      this.onMessage(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) {
        return;
      }
      this.socket = null;
      if (this.openedAt && Date.now() - this.openedAt >= STABLE_MS) {
        this.attempt = 0;
      }
      this.openedAt = 0;
      this._scheduleRetry(event);
    };
  }

  _scheduleRetry(event) {
    if (event && (event.code === 4401 || event.code === 4403)) {
      // Signed out or no longer a member: retrying cannot help until the user signs in again.
      this.fatal = event.code === 4401 ? "signed-out" : "forbidden";
      this._setState("reconnecting");
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, this.attempt));
    this.attempt++;
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => this._connect(), delay);
    this._setState("reconnecting");
  }

  retryNow() {
    if (this.socket || this.fatal) {
      return;
    }
    this._connect();
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  // Called every second with the current refresh interval (seconds).
  tick(interval) {
    if (this.state !== "live" && this.state !== "stale") {
      return;
    }
    const limit = (3 * interval + 10) * 1000;
    const silent = Date.now() - this.lastFrameAt;
    if (silent <= limit) {
      return;
    }
    this._setState("stale");
    // A subscribe always answers with a snapshot: use it as a probe. No answer to the probe
    // either means a dead socket (half-open TCP): drop it and reconnect.
    if (!this.probedAt) {
      this.probedAt = Date.now();
      this.send(this.subscription());
    } else if (Date.now() - this.probedAt > limit && this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.onclose = null;
      socket.close();
      this.probedAt = 0;
      this._scheduleRetry(null);
    }
  }

  _setState(state) {
    if (state !== this.state) {
      this.state = state;
    }
    this.onState(state);
  }
}
