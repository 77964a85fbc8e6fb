// The vehicle list: a virtual list of plate-sorted rows, and the page's side of it.

import { $ } from "./dom.js";
import { formatAge, formatSpeed, numberFormat, plateCollator } from "./format.js";
import { STATUSES, STATUS_LABEL, ageAlpha } from "./vehicles.js";

export const ROW_HEIGHT = 40;

// Renders only the rows in view (fixed row height) from a plate-sorted array that is rebuilt
// only when vehicles come or go; data-driven refreshes happen at most once per second.
export class VehicleList {
  constructor(element, store, { onSelect, selectedId, onCounts }) {
    this.element = element;
    this.store = store;
    this.onSelect = onSelect;
    this.selectedId = selectedId;
    this.onCounts = onCounts;
    this.spacer = element.querySelector(".lm-vlist__spacer");
    this.sorted = [];
    this.sortedVersion = -1;
    this.countsVersion = 0; // the store's version before its first frame: nothing to count yet
    this.rows = [];
    this.scrollFrame = 0;

    element.addEventListener("scroll", () => {
      if (!this.scrollFrame) {
        this.scrollFrame = requestAnimationFrame(() => {
          this.scrollFrame = 0;
          this._renderRows();
        });
      }
    });
    element.addEventListener("click", (event) => {
      const row = event.target.closest(".lm-row");
      if (row && row.record) {
        this.onSelect(row.record);
      }
    });
    element.addEventListener("keydown", (event) => this._onKey(event));
    new ResizeObserver(() => this._renderRows()).observe(element);
  }

  // Re-sort if vehicles came or went, recount, refresh the rows in view. Called once a second
  // by the page's ticker, on snapshots, and on selection changes.
  render() {
    if (this.sortedVersion !== this.store.orderVersion) {
      this.sorted = Array.from(this.store.vehicles.values());
      this.sorted.sort((a, b) => plateCollator.compare(a.plate, b.plate) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      this.sortedVersion = this.store.orderVersion;
      this.spacer.style.height = `${this.sorted.length * ROW_HEIGHT}px`;
    }
    if (this.countsVersion !== this.store.version) {
      this.countsVersion = this.store.version;
      const byStatus = { moving: 0, idle: 0, stopped: 0, offline: 0 };
      const byHub = new Map();
      for (const record of this.store.vehicles.values()) {
        byStatus[record.status]++;
        const hub = String(record.hub_id);
        byHub.set(hub, (byHub.get(hub) || 0) + 1);
      }
      this.onCounts({ total: this.store.vehicles.size, byStatus, byHub });
    }
    this._renderRows();
  }

  _renderRows() {
    const element = this.element;
    const total = this.sorted.length;
    const height = element.clientHeight || 600;
    const first = Math.max(0, Math.floor(element.scrollTop / ROW_HEIGHT) - 4);
    const last = Math.min(total, Math.ceil((element.scrollTop + height) / ROW_HEIGHT) + 4);
    const needed = Math.max(0, last - first);
    while (this.rows.length < needed) {
      this.rows.push(this._createRow());
    }
    const now = this.store.now();
    const selected = this.selectedId();
    for (let k = 0; k < this.rows.length; k++) {
      const row = this.rows[k];
      if (k >= needed) {
        if (row.isConnected) {
          row.remove();
          row.record = null;
        }
        continue;
      }
      if (!row.isConnected) {
        element.append(row);
      }
      const index = first + k;
      this._fillRow(row, this.sorted[index], index, now, selected);
    }
  }

  _createRow() {
    const row = document.createElement("div");
    row.className = "lm-row";
    row.setAttribute("role", "option");
    row.innerHTML =
      '<span class="lm-row__plate mono"></span><span class="lm-row__driver"></span>' +
      '<span class="lm-row__status"><span class="badge"></span></span>' +
      '<span class="lm-row__speed num"></span><span class="lm-row__age num"></span>';
    row.cells = row.children;
    row.badge = row.children[2].firstChild;
    row.cache = {};
    return row;
  }

  _set(row, key, value, apply) {
    if (row.cache[key] !== value) {
      row.cache[key] = value;
      apply(value);
    }
  }

  _fillRow(row, record, index, now, selected) {
    row.record = record;
    const cells = row.cells;
    this._set(row, "top", index, (v) => (row.style.transform = `translateY(${v * ROW_HEIGHT}px)`));
    this._set(row, "id", String(record.id), (v) => {
      row.dataset.vehicleId = v;
      row.id = `vehicle-row-${v}`;
    });
    this._set(row, "plate", record.plate, (v) => {
      row.dataset.plate = v;
      cells[0].textContent = v;
    });
    this._set(row, "driver", record.driver, (v) => {
      cells[1].textContent = v || "—";
      cells[1].title = v;
    });
    this._set(row, "status", record.status, (v) => {
      row.badge.className = `badge status-${v}`;
      row.badge.textContent = STATUS_LABEL[v];
      row.dataset.status = v;
    });
    const speed = record.speed_kmh === null ? "—" : String(Math.round(record.speed_kmh));
    this._set(row, "speed", speed, (v) => (cells[3].textContent = v));
    const age = now - record.fixMs;
    this._set(row, "age", formatAge(age), (v) => (cells[4].textContent = v));
    this._set(row, "stale", ageAlpha(age) < 0.7, (v) => row.classList.toggle("is-stale", v));
    this._set(
      row,
      "label",
      `${record.plate}, ${record.driver || "no driver"}, ${STATUS_LABEL[record.status]}, ` +
        `${formatSpeed(record.speed_kmh)}, updated ${formatAge(age)} ago`,
      (v) => row.setAttribute("aria-label", v),
    );
    this._set(row, "selected", record.id === selected, (v) => {
      row.classList.toggle("is-selected", v);
      row.setAttribute("aria-selected", v ? "true" : "false");
    });
  }

  scrollTo(record) {
    if (this.sortedVersion !== this.store.orderVersion) {
      this.render();
    }
    const index = this.sorted.indexOf(record);
    if (index < 0) {
      return;
    }
    const element = this.element;
    const top = index * ROW_HEIGHT;
    if (top < element.scrollTop || top + ROW_HEIGHT > element.scrollTop + element.clientHeight) {
      element.scrollTop = Math.max(0, top - element.clientHeight / 2 + ROW_HEIGHT / 2);
    }
    this._renderRows();
  }

  _onKey(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") {
      return;
    }
    event.preventDefault();
    if (!this.sorted.length) {
      return;
    }
    const selected = this.selectedId();
    let index = this.sorted.findIndex((record) => record.id === selected);
    index = index < 0 ? 0 : index + (event.key === "ArrowDown" ? 1 : -1);
    index = Math.max(0, Math.min(this.sorted.length - 1, index));
    const record = this.sorted[index];
    this.onSelect(record);
    this.scrollTo(record);
  }
}

// The page's side of the list: building it and showing its counts (mixed into the page).
export class ListMethods {
  _buildList() {
    this.list = new VehicleList($("vehicle-list"), this.store, {
      onSelect: (record) => this.select(record.id, "list"),
      selectedId: () => this.selectedId,
      onCounts: (counts) => this._renderCounts(counts),
    });
  }

  _renderCounts({ total, byStatus, byHub }) {
    const countElement = $("vehicle-count");
    if (countElement) {
      countElement.textContent = numberFormat.format(total);
    }
    const statuses = new Set(this.currentFilters().status || STATUSES);
    for (const element of document.querySelectorAll("[data-status-count]")) {
      const status = element.dataset.statusCount;
      // The server only sends matching vehicles: an unticked status has no count to show.
      element.textContent = statuses.has(status) ? numberFormat.format(byStatus[status] || 0) : "–";
    }
    for (const element of document.querySelectorAll("[data-hub-count]")) {
      element.textContent = numberFormat.format(byHub.get(element.dataset.hubCount) || 0);
    }
  }
}
