// Selection and the vehicle details panel: live facts from the store, the server's fragment
// (its auto-escaped HTML) now and then, and the vehicle's route today from deliveries' JSON
// (mixed into the page). The fragment's [data-live] fields follow every frame, like the header.

import { $ } from "./dom.js";
import { fixClockFormatter, formatAge, formatPosition, formatSpeed } from "./format.js";
import { urlFor } from "./http.js";
import { renderRoute, routeSummary } from "./vehicle_route.js";
import { STATUS_LABEL } from "./vehicles.js";

export const DETAILS_REFRESH_MS = 10000;

export class DrawerMethods {
  select(id, source) {
    const record = this.store.vehicles.get(id);
    if (!record) {
      return;
    }
    const changed = this.selectedId !== id;
    this.selectedId = id;
    this.layer.setSelected(id);
    if (source === "list" || source === "api") {
      if (record.mx === record.mx) {
        this.map.panTo([record.lat, record.lon], { animate: true, duration: 0.35 });
      }
    }
    if (source !== "list") {
      this.list.scrollTo(record);
    }
    this.list.render();
    if (changed || $("vehicle-details").hidden) {
      this._openDetails(record);
    }
  }

  _buildDetails() {
    $("vehicle-details-close").addEventListener("click", () => this.closeDetails());
    $("vehicle-details-locate").addEventListener("click", () => {
      const record = this.store.vehicles.get(this.selectedId) || this.detailRecord;
      if (record && record.mx === record.mx) {
        this.map.setView([record.lat, record.lon], Math.max(this.map.getZoom(), 16));
      }
    });
    this.detailsAbort = null;
    this.detailsFetchedAt = 0;
    this.detailsFixMs = NaN;
    this.routeAbort = null;
    this.routeInfo = null; // {id, data}: the last answer, shown at once when the fragment reloads
    this.fixClock = fixClockFormatter(this.config.timeZone);
  }

  _openDetails(record) {
    const panel = $("vehicle-details");
    panel.hidden = false;
    this.detailRecord = record;
    this._renderDetailsLive();
    const body = $("vehicle-details-body");
    body.innerHTML = "";
    this._loadDetailsFragment(record, true);
  }

  async _loadDetailsFragment(record, firstLoad) {
    const body = $("vehicle-details-body");
    const template = this.config.vehicleUrlTemplate;
    if (!template) {
      return;
    }
    if (this.detailsAbort) {
      this.detailsAbort.abort();
    }
    const controller = new AbortController();
    this.detailsAbort = controller;
    this.detailsFetchedAt = Date.now();
    this.detailsFixMs = record.fixMs;
    if (firstLoad) {
      body.innerHTML =
        '<div class="lm-details__loading"><span class="skeleton"></span><span class="skeleton"></span><span class="skeleton"></span><span class="skeleton"></span></div>';
    }
    try {
      const response = await fetch(urlFor(template, record.id), {
        credentials: "same-origin",
        headers: { Accept: "text/html", "HX-Request": "true" },
        signal: controller.signal,
      });
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
      const html = await response.text();
      if (!this.detailRecord || this.detailRecord.id !== record.id) {
        return;
      }
      const scroll = body.scrollTop;
      body.innerHTML = html;
      body.scrollTop = scroll;
      if (window.htmx) {
        window.htmx.process(body);
      }
      this._patchDetailsBody(this.store.vehicles.get(record.id) || this.detailRecord);
      this._refreshDetailAges();
      this._showRoute(record.id);
      this._loadRoute(record.id);
    } catch (error) {
      if (error.name === "AbortError" || !this.detailRecord || this.detailRecord.id !== record.id) {
        return;
      }
      if (firstLoad) {
        body.innerHTML = "";
        const message = document.createElement("p");
        message.className = "callout callout--error";
        message.textContent = "Couldn't load the details of this vehicle.";
        body.append(message);
      }
    }
  }

  _renderDetailsLive() {
    const panel = $("vehicle-details");
    if (!panel || panel.hidden || !this.detailRecord) {
      return;
    }
    const current = this.store.vehicles.get(this.detailRecord.id);
    const record = current || this.detailRecord;
    if (current) {
      this.detailRecord = current;
    }
    $("vehicle-details-plate").textContent = record.plate;
    const badge = $("vehicle-details-status");
    badge.className = `badge status-${record.status}`;
    badge.textContent = STATUS_LABEL[record.status];
    $("vehicle-details-sub").textContent = [record.driver || "No driver", record.hub, record.name]
      .filter(Boolean)
      .join(" · ");
    const heading =
      record.heading !== null && record.status === "moving" ? ` · heading ${Math.round(record.heading)}°` : "";
    $("vehicle-details-pulse").textContent = Number.isFinite(record.fixMs)
      ? `${formatSpeed(record.speed_kmh)}${heading} · updated ${formatAge(this.store.now() - record.fixMs)} ago`
      : "Never reported a position";
    $("vehicle-details-gone").hidden = Boolean(current);
    $("vehicle-details-locate").disabled = !(record.mx === record.mx);
    this._patchDetailsBody(record);
    // The fragment shows server-side facts: refresh it now and then while the vehicle moves.
    if (
      current &&
      !Object.is(record.fixMs, this.detailsFixMs) &&
      Date.now() - this.detailsFetchedAt > DETAILS_REFRESH_MS
    ) {
      this._loadDetailsFragment(record, false);
    }
  }

  // The fragment's live facts, from the same record the header shows (the socket's latest).
  _patchDetailsBody(record) {
    const body = $("vehicle-details-body");
    if (!body || !record || !body.querySelector(`[data-vehicle-id="${record.id}"]`)) {
      return;
    }
    const set = (name, text) => {
      const field = body.querySelector(`[data-live="${name}"]`);
      if (field && field.textContent !== text) {
        field.textContent = text;
      }
    };
    const status = body.querySelector('[data-live="status"]');
    if (status && STATUS_LABEL[record.status]) {
      status.className = `badge status-${record.status}`;
      set("status", STATUS_LABEL[record.status]);
    }
    set("speed", formatSpeed(record.speed_kmh));
    set("heading", record.heading === null || record.heading === undefined ? "—" : `${Math.round(record.heading)}°`);
    set("position", formatPosition(record.lat, record.lon));
    if (record.battery_pct !== null && record.battery_pct !== undefined) {
      set("battery", `${Math.round(record.battery_pct)}%`);
    }
    if (Number.isFinite(record.fixMs)) {
      const fix = new Date(record.fixMs);
      const age = body.querySelector("time[data-age]");
      if (age) {
        age.setAttribute("datetime", fix.toISOString());
      }
      set("fix-clock", this.fixClock(fix));
    }
  }

  async _loadRoute(vehicleId) {
    const template = this.config.vehicleRouteUrlTemplate;
    if (!template) {
      this.routeInfo = { id: vehicleId, data: null };
      this._showRoute(vehicleId);
      return;
    }
    if (this.routeAbort) {
      this.routeAbort.abort();
    }
    const controller = new AbortController();
    this.routeAbort = controller;
    try {
      const response = await fetch(urlFor(template, vehicleId), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller.signal,
      });
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
      this.routeInfo = { id: vehicleId, data: await response.json() };
      this._showRoute(vehicleId);
    } catch (error) {
      if (error.name === "AbortError") {
        return;
      }
      const container = this._routeContainer(vehicleId);
      if (container && !(this.routeInfo && this.routeInfo.id === vehicleId)) {
        container.replaceChildren();
        const message = document.createElement("p");
        message.className = "vehicle-route__error muted";
        message.textContent = "Couldn't load today's route.";
        container.append(message);
      }
    }
  }

  _routeContainer(vehicleId) {
    const body = $("vehicle-details-body");
    if (!body || !this.detailRecord || this.detailRecord.id !== vehicleId) {
      return null;
    }
    return body.querySelector(`[data-vehicle-id="${vehicleId}"] [data-vehicle-route-content]`);
  }

  _showRoute(vehicleId) {
    const container = this._routeContainer(vehicleId);
    if (container && this.routeInfo && this.routeInfo.id === vehicleId) {
      renderRoute(container, routeSummary(this.routeInfo.data, this.config.timeZone));
    }
  }

  // <time datetime=... data-age> in the fragment counts up on its own.
  _refreshDetailAges() {
    const body = $("vehicle-details-body");
    if (!body || $("vehicle-details").hidden) {
      return;
    }
    for (const time of body.querySelectorAll("time[data-age]")) {
      const at = Date.parse(time.getAttribute("datetime"));
      if (Number.isFinite(at)) {
        time.textContent = `${formatAge(this.store.now() - at)} ago`;
      }
    }
  }

  closeDetails() {
    $("vehicle-details").hidden = true;
    if (this.detailsAbort) {
      this.detailsAbort.abort();
    }
    if (this.routeAbort) {
      this.routeAbort.abort();
    }
    this.detailRecord = null;
    this.selectedId = null;
    this.layer.setSelected(null);
    this.list.render();
    $("vehicle-list").focus({ preventScroll: true });
  }
}
