// Selection and the vehicle details panel: live facts from the store, the server's fragment
// (its auto-escaped HTML) now and then (mixed into the page).

import { $ } from "./dom.js";
import { formatAge, formatSpeed } from "./format.js";
import { urlFor } from "./http.js";
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
      this._refreshDetailAges();
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
    // The fragment shows server-side facts: refresh it now and then while the vehicle moves.
    if (
      current &&
      !Object.is(record.fixMs, this.detailsFixMs) &&
      Date.now() - this.detailsFetchedAt > DETAILS_REFRESH_MS
    ) {
      this._loadDetailsFragment(record, false);
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
    this.detailRecord = null;
    this.selectedId = null;
    this.layer.setSelected(null);
    this.list.render();
    $("vehicle-list").focus({ preventScroll: true });
  }
}
