// The filter form <-> the contract's F (docs/live-map.md) (mixed into the page).

import { $ } from "./dom.js";
import { STATUSES } from "./vehicles.js";

export const INTERVALS = [0, 1, 5, 15, 30, 60];
export const DEFAULT_INTERVAL = 1;
export const SEARCH_DEBOUNCE_MS = 250;

// A filter as currentFilters() would produce it from the form: only keys that filter, known
// statuses in contract order, hub ids as the config spells them, arrays sorted. Pure.
export function normalizeFilters(filters, hubsById) {
  const f = filters || {};
  const out = {};
  if (Array.isArray(f.status) && f.status.length && f.status.length < STATUSES.length) {
    out.status = STATUSES.filter((s) => f.status.includes(s));
  }
  if (Array.isArray(f.hubs) && f.hubs.length) {
    out.hubs = f.hubs
      .map((value) => (hubsById.has(String(value)) ? hubsById.get(String(value)).id : value))
      .sort((a, b) => String(a).localeCompare(String(b), undefined, { numeric: true }));
  }
  if (f.polygon) {
    out.polygon = f.polygon;
  } else if (f.zone !== undefined && f.zone !== null && f.zone !== "") {
    out.zone = f.zone;
  }
  if (f.stale_minutes) {
    out.stale_minutes = Number(f.stale_minutes);
  }
  if (Array.isArray(f.tags) && f.tags.length) {
    out.tags = f.tags.slice().sort();
  }
  if (typeof f.q === "string" && f.q.trim()) {
    out.q = f.q.trim();
  }
  return out;
}

export class FilterMethods {
  _buildFilters() {
    const config = this.config;
    const hubList = $("hub-filter");
    for (const hub of config.hubs) {
      const item = document.createElement("li");
      const label = document.createElement("label");
      label.className = "lm-hub-option";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.name = "hubs";
      input.value = String(hub.id);
      const name = document.createElement("span");
      name.className = "lm-hub-option__name";
      name.textContent = hub.name;
      const count = document.createElement("span");
      count.className = "lm-count";
      count.dataset.hubCount = String(hub.id);
      count.textContent = "–";
      label.append(input, name, count);
      item.append(label);
      hubList.append(item);
    }
    if (!config.hubs.length) {
      $("hub-filter-help").textContent = "No hubs yet.";
    }

    const zoneSelect = $("zone-filter");
    const features = (config.zones && config.zones.features) || [];
    const kinds = new Map();
    for (const feature of features) {
      const kind = (feature.properties && feature.properties.kind) || "zone";
      if (!kinds.has(kind)) {
        kinds.set(kind, []);
      }
      kinds.get(kind).push(feature);
    }
    const kindLabel = (kind) =>
      ({ geofence: "Geofences", service_area: "Service areas", restricted: "Restricted areas" })[kind] ||
      kind.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
    for (const [kind, list] of kinds) {
      const group = document.createElement("optgroup");
      group.label = kindLabel(kind);
      for (const feature of list) {
        const option = document.createElement("option");
        option.value = String(feature.id);
        option.textContent = (feature.properties && feature.properties.name) || `Zone ${feature.id}`;
        group.append(option);
      }
      zoneSelect.append(group);
    }

    const chips = $("tag-filter");
    for (const tag of config.tags) {
      const label = document.createElement("label");
      label.className = "lm-chip";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.name = "tags";
      input.value = tag;
      const text = document.createElement("span");
      text.textContent = tag;
      label.append(input, text);
      chips.append(label);
    }
    $("tag-filter-empty").hidden = config.tags.length > 0;

    let searchTimer = 0;
    this.form.addEventListener("submit", (event) => event.preventDefault());
    this.form.addEventListener("input", (event) => {
      if (event.target.name === "q") {
        clearTimeout(searchTimer);
        searchTimer = setTimeout(() => this._resubscribe(), SEARCH_DEBOUNCE_MS);
      }
    });
    this.form.addEventListener("change", (event) => {
      const target = event.target;
      if (!target.name) {
        return; // the view dialog's inputs have ids, not names
      }
      if (target.name === "status" && !this.form.querySelector('input[name="status"]:checked')) {
        // Nothing ticked would mean "no status filter", i.e. everything: keep one ticked.
        target.checked = true;
        this._toast("Keep at least one status: the map would otherwise show every vehicle.");
        return;
      }
      if (target.name === "interval") {
        this.interval = INTERVALS.includes(+target.value) ? +target.value : DEFAULT_INTERVAL;
        this._renderConnection();
      }
      if (target.name === "zone") {
        if (target.value) {
          this._setPolygon(null);
        }
        this._highlightZone(true);
      }
      if (target.name === "hubs") {
        $("hubs-clear").hidden = !this.form.querySelector('input[name="hubs"]:checked');
      }
      if (target.name === "q") {
        clearTimeout(searchTimer);
      }
      this._resubscribe();
    });
    $("hubs-clear").addEventListener("click", () => {
      for (const input of this.form.querySelectorAll('input[name="hubs"]')) {
        input.checked = false;
      }
      $("hubs-clear").hidden = true;
      this._resubscribe();
    });
    for (const id of ["clear-filters", "empty-clear-filters"]) {
      $(id).addEventListener("click", () => this.clearFilters());
    }
  }

  _toggleHub(hubId) {
    const input = this.form.querySelector(`input[name="hubs"][value="${CSS.escape(String(hubId))}"]`);
    if (!input) {
      return;
    }
    const checked = [...this.form.querySelectorAll('input[name="hubs"]:checked')];
    const only = checked.length === 1 && checked[0] === input;
    for (const other of this.form.querySelectorAll('input[name="hubs"]')) {
      other.checked = !only && other === input;
    }
    $("hubs-clear").hidden = only;
    this._resubscribe();
  }

  _highlightZone(fit) {
    const selected = $("zone-filter").value;
    let bounds = null;
    this.zoneLayer.eachLayer((layer) => {
      const on = layer.feature && String(layer.feature.id) === selected;
      layer.setStyle(this._zoneStyle(layer.feature, on));
      if (on) {
        bounds = layer.getBounds();
      }
    });
    if (fit && bounds && bounds.isValid() && !this.map.getBounds().contains(bounds)) {
      this.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 15 });
    }
  }

  // The contract's F: only keys that filter, arrays sorted so equal filters compare equal.
  currentFilters() {
    const form = this.form;
    const filters = {};
    const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
    const statuses = checked("status");
    if (statuses.length && statuses.length < STATUSES.length) {
      filters.status = STATUSES.filter((s) => statuses.includes(s));
    }
    const hubs = checked("hubs")
      .map((value) => (this.hubsById.has(value) ? this.hubsById.get(value).id : value))
      .sort((a, b) => String(a).localeCompare(String(b), undefined, { numeric: true }));
    if (hubs.length) {
      filters.hubs = hubs;
    }
    const zone = form.elements.zone.value;
    if (this.polygon) {
      filters.polygon = this.polygon;
    } else if (zone) {
      filters.zone = this.zonesById.has(zone) ? this.zonesById.get(zone).id : zone;
    }
    const stale = form.elements.stale_minutes.value;
    if (stale) {
      filters.stale_minutes = Number(stale);
    }
    const tags = checked("tags").sort();
    if (tags.length) {
      filters.tags = tags;
    }
    const q = form.elements.q.value.trim();
    if (q) {
      filters.q = q;
    }
    return filters;
  }

  activeFilterCount() {
    return Object.keys(this.currentFilters()).length;
  }

  _writeFilters(filters, interval) {
    const form = this.form;
    const f = filters || {};
    const statuses = Array.isArray(f.status) && f.status.length ? f.status : STATUSES;
    for (const input of form.querySelectorAll('input[name="status"]')) {
      input.checked = statuses.includes(input.value);
    }
    const hubs = new Set((Array.isArray(f.hubs) ? f.hubs : []).map(String));
    for (const input of form.querySelectorAll('input[name="hubs"]')) {
      input.checked = hubs.has(input.value);
    }
    $("hubs-clear").hidden = hubs.size === 0;
    const zone = f.zone == null ? "" : String(f.zone);
    form.elements.zone.value = this.zonesById.has(zone) ? zone : "";
    this._setPolygon(f.polygon && f.polygon.type === "Polygon" ? f.polygon : null);
    const stale = f.stale_minutes == null ? "" : String(f.stale_minutes);
    const staleSelect = form.elements.stale_minutes;
    if (stale && ![...staleSelect.options].some((o) => o.value === stale)) {
      const option = new Option(`No update for ${stale}+ min`, stale);
      staleSelect.add(option);
    }
    staleSelect.value = stale;
    const tags = new Set(Array.isArray(f.tags) ? f.tags : []);
    for (const input of form.querySelectorAll('input[name="tags"]')) {
      input.checked = tags.has(input.value);
    }
    form.elements.q.value = typeof f.q === "string" ? f.q : "";
    if (interval !== undefined && interval !== null) {
      this.interval = INTERVALS.includes(+interval) ? +interval : DEFAULT_INTERVAL;
      form.elements.interval.value = String(this.interval);
    }
    this._highlightZone(false);
  }

  clearFilters() {
    this._writeFilters({}, undefined);
    this._resubscribe();
  }

  _updateFilterSummary() {
    const count = this.activeFilterCount();
    const summary = $("filters-active");
    if (summary) {
      summary.textContent = count === 0 ? "No filters" : count === 1 ? "1 filter on" : `${count} filters on`;
      summary.classList.toggle("is-on", count > 0);
    }
    const clear = $("clear-filters");
    if (clear) {
      clear.disabled = count === 0;
    }
  }
}
