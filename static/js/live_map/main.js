// Doorstep live map: websocket feed -> one Map of vehicles -> one canvas layer + a virtual list.
//
// Protocol and page config: docs/live-map.md. Plain ES2020, no build step, Leaflet 1.9 only.
// Built to stay smooth with 10,000 vehicles at a 1 s refresh:
//   * one record object per vehicle, updated in place (no per-frame allocation per vehicle);
//   * positions are projected once per update to zoom-independent Web-Mercator units, so a
//     redraw is a multiply and a subtract per vehicle (pan and zoom never re-project);
//   * VehicleLayer owns one <canvas> and draws everyone in one pass per animation frame, only
//     when something changed, stamping pre-rendered sprites (no Leaflet marker per vehicle);
//   * the list renders only the rows in view and refreshes its data at most once a second.
// A page whose config has an empty `wsPath` opens no socket: the benchmark and the UI test feed
// frames through window.doorstepMap.applyMessage(msg), the same function the socket uses.
//
// One module per concern (static/js/live_map/): this one wires them into the page.

import { $, readConfig } from "./dom.js";
import { startAlertsLayer } from "./alerts_layer.js";
import { DrawerMethods } from "./drawer.js";
import { DEFAULT_INTERVAL, FilterMethods } from "./filters.js";
import { connectionLabel } from "./connection_label.js";
import { clockFormatter } from "./format.js";
import { ListMethods } from "./list.js";
import { MapMethods } from "./map_view.js";
import { SavedViewMethods } from "./saved_views.js";
import { LiveConnection } from "./socket.js";
import { queryToScreen, screenToQuery, withScreenQuery } from "./url_state.js";
import { VehicleStore } from "./vehicles.js";

const LIST_REFRESH_MS = 1000;
const FADE_REDRAW_MS = 10000;

class LiveMapPage {
  constructor(config) {
    this.config = config;
    this.clock = clockFormatter(config.timeZone);
    this.store = new VehicleStore();
    this.form = $("map-filters");
    this.interval = DEFAULT_INTERVAL;
    this.polygon = null; // GeoJSON Polygon drawn on the map
    this.selectedId = null;
    this.snapshotSeen = false;
    this.awaitingSnapshot = false;
    this.views = Array.isArray(config.savedViews) ? config.savedViews.slice() : [];
    this.currentViewId = null;
    this.viewBaselines = new Map(); // view id -> its screen as applied (see _updateViewControls)
    this.urlReady = false;
    this.connection = null;
    this.lastFrameAt = 0;
    this.connectionState = "connecting";
    this.hubsById = new Map(config.hubs.map((hub) => [String(hub.id), hub]));
    this.zonesById = new Map(
      ((config.zones && config.zones.features) || []).map((f) => [String(f.id), f]),
    );

    this.debug = {
      vehicles: this.store.vehicles,
      map: null,
      layer: null,
      lastFrameAt: null,
      paintedFrames: 0,
      onPainted: null,
      applyMessage: (message) => this.handleMessage(message),
      select: (id) => this.select(id, "api"),
      filters: () => this.currentFilters(),
      subscription: () => this.subscription(),
    };
    window.doorstepMap = this.debug;
  }

  start() {
    this._buildMap();
    this._buildFilters();
    this._buildList();
    this._buildDetails();
    this._buildViews();
    this._bindPage();

    this._restoreScreen();
    this.sentSubscription = JSON.stringify(this.subscription());
    this._updateFilterSummary();

    this._setConnectionState("connecting");
    if (this.config.wsPath) {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const path = this.config.wsPath;
      const url = /^wss?:\/\//.test(path) ? path : `${scheme}//${location.host}${path}`;
      this.connection = new LiveConnection(url, {
        subscription: () => this.subscription(),
        onMessage: (message) => this.handleMessage(message),
        onState: (state) => this._setConnectionState(state),
      });
      this.connection.start();
    }

    setInterval(() => this._tick(), LIST_REFRESH_MS); // list data, ages, connection state
    setInterval(() => this.layer.redraw(), FADE_REDRAW_MS); // ages fade even without frames
  }

  // ---- the screen in the URL (url_state.js): a reload or a shared link opens the same map

  // The query's view and filters when it has any, else the user's default view.
  _restoreScreen() {
    const fromUrl = queryToScreen(location.search);
    const linked =
      fromUrl.viewId === null ? undefined : this.views.find((view) => String(view.id) === String(fromUrl.viewId));
    const defaultView = this.views.find((view) => view.is_default);
    if (!fromUrl.present) {
      if (defaultView) {
        this._applyView(defaultView, { subscribe: false });
      }
    } else {
      if (linked) {
        this._applyView(linked, { subscribe: false });
      }
      // "?view=3" alone means "open this view"; anything more is the screen as it was.
      if (!linked || fromUrl.interval !== null || Object.keys(fromUrl.filters).length) {
        this._writeFilters(fromUrl.filters, fromUrl.interval);
        this._renderConnection();
      }
    }
    this.urlReady = true;
    this._updateViewControls();
  }

  // Called whenever filters, interval or view change (from _updateViewControls).
  _writeUrl() {
    if (!this.urlReady) {
      return; // still restoring: the query is being read, not written
    }
    const query = screenToQuery(this.currentFilters(), this.interval, this.currentViewId, DEFAULT_INTERVAL);
    const search = withScreenQuery(location.search, query);
    if (search !== location.search) {
      history.replaceState(history.state, "", `${location.pathname}${search}${location.hash}`);
    }
  }

  // ---- messages

  handleMessage(message) {
    if (!message || typeof message !== "object") {
      return;
    }
    if (message.type === "error") {
      this._toast(`The server refused the filter: ${message.message || "unknown error"}`);
      this.awaitingSnapshot = false;
      this._setSyncing(false);
      return;
    }
    if (!this.store.apply(message)) {
      return;
    }
    this.lastFrameAt = Date.now();
    this.debug.lastFrameAt = this.lastFrameAt;
    if (!this.connection) {
      this._setConnectionState("live");
    }
    this.layer.redraw();
    if (message.type === "snapshot_more") {
      this.list.render();
      this._updateStates();
    } else if (message.type === "snapshot") {
      this.snapshotSeen = true;
      this.awaitingSnapshot = false;
      this._setSyncing(false);
      this.list.render();
      this._updateStates();
    }
    // Updates reach the list with the next tick: at most one data refresh per second.
    this._updateFrameClock();
  }

  subscription() {
    return { type: "subscribe", filters: this.currentFilters(), interval: this.interval };
  }

  _resubscribe() {
    const subscription = this.subscription();
    const key = JSON.stringify(subscription);
    this._updateFilterSummary();
    this._updateViewControls();
    if (key === this.sentSubscription) {
      return;
    }
    this.sentSubscription = key;
    if (this.connection && this.connection.send(subscription)) {
      this.awaitingSnapshot = true;
      this._setSyncing(true);
    }
  }

  // ---- connection state

  _setConnectionState(state) {
    this.connectionState = state;
    const indicator = $("connection-state");
    if (indicator && indicator.dataset.connectionState !== state) {
      indicator.dataset.connectionState = state;
    }
    this._renderConnection();
    this._updateStates();
  }

  _renderConnection() {
    const label = $("connection-label");
    if (!label) {
      return;
    }
    const text = connectionLabel({
      state: this.connectionState,
      interval: this.interval,
      connection: this.connection,
      lastFrameAt: this.lastFrameAt,
      now: Date.now(),
      clock: this.clock,
    });
    if (label.textContent !== text) {
      label.textContent = text;
    }
  }

  _updateFrameClock() {
    const clock = $("last-frame");
    if (clock && this.lastFrameAt) {
      const date = new Date(this.lastFrameAt);
      clock.textContent = this.clock.format(date);
      clock.title = `Organization time (${this.clock.timeZone})`;
      clock.dateTime = date.toISOString();
    }
  }

  // Loading before the first snapshot, an error when the socket cannot connect, and the empty
  // state when nothing matches.
  _updateStates() {
    const loading = $("map-loading");
    const empty = $("map-empty");
    const error = $("map-error");
    const connection = this.connection;
    const failing =
      connection !== null &&
      (connection.fatal !== null || (!this.snapshotSeen && this.connectionState === "reconnecting"));
    if (error) {
      error.hidden = !failing;
      if (failing) {
        this._renderError();
      }
    }
    if (loading) {
      loading.hidden = this.snapshotSeen || failing;
    }
    const placeholder = $("vehicle-list-placeholder");
    if (placeholder) {
      placeholder.hidden = this.snapshotSeen;
    }
    if (empty) {
      const show = this.snapshotSeen && this.store.vehicles.size === 0 && !failing;
      empty.hidden = !show;
      if (show) {
        const filtered = this.activeFilterCount() > 0;
        $("map-empty-title").textContent = filtered
          ? "No vehicles match these filters"
          : "No vehicles reporting yet";
        $("map-empty-text").textContent = filtered
          ? "Widen the filters, or clear them to see the whole fleet."
          : "Vehicles appear here and on the map as soon as their trackers send a position.";
        $("empty-clear-filters").hidden = !filtered;
      }
    }
  }

  _renderError() {
    const connection = this.connection;
    const title = $("map-error-title");
    const text = $("map-error-text");
    const retry = $("retry-now");
    if (connection.fatal === "signed-out") {
      title.textContent = "You are signed out";
      text.textContent = "Sign in again to see the live map.";
      retry.textContent = "Reload";
    } else if (connection.fatal === "forbidden") {
      title.textContent = "No access to this live map";
      text.textContent = "Your role in this organization does not include the map.";
      retry.textContent = "Reload";
    } else {
      const wait = Math.max(0, Math.ceil((connection.retryAt - Date.now()) / 1000));
      title.textContent = "Can't reach the live feed";
      text.textContent = connection.socket
        ? "Connecting…"
        : `The connection to the server failed. Retrying in ${wait} s.`;
      retry.textContent = "Retry now";
    }
  }

  _setSyncing(on) {
    const sync = $("list-sync");
    if (sync) {
      sync.hidden = !on;
    }
  }

  _tick() {
    if (this.connection) {
      this.connection.tick(this.interval);
    }
    this._renderConnection();
    this._updateStates();
    this.list.render();
    this._renderDetailsLive();
    this._refreshDetailAges();
  }

  // ---- page-wide bits

  _bindPage() {
    $("retry-now").addEventListener("click", () => {
      if (this.connection && this.connection.fatal) {
        location.reload();
      } else if (this.connection) {
        this.connection.retryNow();
        this._updateStates();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") {
        return;
      }
      if (this.drawing) {
        this._stopDrawing();
      } else if (!$("view-dialog").hidden) {
        this._closeViewDialog();
        $("save-view").focus();
      } else if (!$("vehicle-details").hidden) {
        this.closeDetails();
      }
    });
    document.addEventListener("click", (event) => {
      const dialog = $("view-dialog");
      if (!dialog.hidden && !dialog.contains(event.target) && !$("save-view").contains(event.target)) {
        this._closeViewDialog();
      }
    });
    $("map-toast-action").addEventListener("click", () => {
      const action = this.toastAction;
      this._hideToast();
      if (action) {
        action();
      }
    });
  }

  _toast(text, actionLabel, action) {
    const toast = $("map-toast");
    $("map-toast-text").textContent = text;
    const button = $("map-toast-action");
    button.hidden = !action;
    button.textContent = actionLabel || "";
    this.toastAction = action || null;
    toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => this._hideToast(), action ? 8000 : 4000);
  }

  _hideToast() {
    $("map-toast").hidden = true;
    this.toastAction = null;
  }
}

// The page's concerns live in their own modules as methods of the page.
for (const concern of [MapMethods, FilterMethods, ListMethods, DrawerMethods, SavedViewMethods]) {
  for (const name of Object.getOwnPropertyNames(concern.prototype)) {
    if (name !== "constructor") {
      Object.defineProperty(LiveMapPage.prototype, name, Object.getOwnPropertyDescriptor(concern.prototype, name));
    }
  }
}

function start() {
  if (!window.L || !$("map")) {
    return;
  }
  const page = new LiveMapPage(readConfig());
  page.start();
  startAlertsLayer(window.doorstepMap);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
