// The single-canvas Leaflet layer that draws every vehicle (uses the global L of leaflet.js).

import { cssVar } from "./dom.js";
import { GlDots, LEVEL_ALPHA, SpriteAtlas } from "./sprites.js";
import { ALPHA_LEVELS, FRESH_MS, STATUSES, alphaLevel } from "./vehicles.js";

export const HIT_RADIUS_PX = 8;

// The vehicles layer: a WebGL canvas for the dots (a 2D fallback draws them on the overlay),
// and a 2D overlay canvas for the selection ring, the hover ring and plate labels. Both sit in
// one box in a map pane at the map container's top-left corner and are repainted together.
// Null without Leaflet: main.js then leaves the page alone.
export const VehicleLayer = window.L ? L.Layer.extend({
  options: { pane: "vehiclesPane", webgl: true },

  initialize(store, options) {
    L.setOptions(this, options);
    this._store = store;
    this._frame = 0;
    this._selectedId = null;
    this._hoverId = null;
    this._zooming = false;
    this._count = 0; // vehicles drawn in the last frame
    this._capacity = 0;
    this._records = [];
    this._grid = null;
    this._atlas = null;
    this.lastDrawMs = 0;
    this.paintedFrames = 0;
    this.onPainted = null;
    this.renderer = "none";
  },

  onAdd(map) {
    this._box = L.DomUtil.create("div", "lm-vehicle-layer");
    this._glCanvas = L.DomUtil.create("canvas", "lm-vehicle-canvas", this._box);
    this._canvas = L.DomUtil.create("canvas", "lm-vehicle-canvas", this._box);
    this._ctx = this._canvas.getContext("2d");
    this._animated = map._zoomAnimated;
    if (this._animated) {
      L.DomUtil.addClass(this._box, "leaflet-zoom-animated");
    }
    this.getPane().appendChild(this._box);
    this._dots = this.options.webgl ? GlDots.create(this._glCanvas) : null;
    this.renderer = this._dots ? "webgl" : "canvas2d";
    this._glCanvas.hidden = !this._dots;
    this._glCanvas.addEventListener("webglcontextlost", (event) => {
      event.preventDefault();
      this._dots = null; // carry on in 2D
      this.renderer = "canvas2d";
      this._glCanvas.hidden = true;
      this.redraw();
    });
    this._colors = {};
    for (const status of STATUSES) {
      this._colors[status] = cssVar(`--status-${status}`, "#6b7280");
    }
    this._selectionColor = cssVar("--brand-600", "#5a43d6");
    this._labelColor = cssVar("--gray-800", "#242b36");
    this._labelFont = `600 11px ${cssVar("--font-sans", "system-ui, sans-serif")}`;
    this._resize();
    this.redraw();
  },

  onRemove() {
    L.DomUtil.remove(this._box);
    if (this._frame) {
      L.Util.cancelAnimFrame(this._frame);
      this._frame = 0;
    }
  },

  getEvents() {
    const events = {
      move: this.redraw,
      moveend: this.redraw,
      viewreset: this.redraw,
      resize: this._onResize,
      zoomend: this._onZoomEnd,
    };
    if (this._animated) {
      events.zoomanim = this._onAnimZoom;
    }
    return events;
  },

  // Ask for a repaint on the next animation frame (coalesces any number of requests).
  redraw() {
    if (this._map && !this._frame) {
      this._frame = L.Util.requestAnimFrame(this._draw, this);
    }
    return this;
  },

  setSelected(id) {
    this._selectedId = id;
    this.redraw();
  },

  setHover(id) {
    if (id !== this._hoverId) {
      this._hoverId = id;
      this.redraw();
    }
  },

  _onResize() {
    this._resize();
    this.redraw();
  },

  _resize() {
    const size = this._map.getSize();
    const ratio = window.devicePixelRatio || 1;
    this._ratio = ratio;
    this._width = size.x;
    this._height = size.y;
    for (const canvas of [this._canvas, this._glCanvas]) {
      canvas.width = Math.round(size.x * ratio);
      canvas.height = Math.round(size.y * ratio);
      canvas.style.width = `${size.x}px`;
      canvas.style.height = `${size.y}px`;
    }
  },

  // While Leaflet animates a zoom, scale the last frame with CSS like its own renderers do,
  // and paint for real once the new zoom is settled.
  _onAnimZoom(event) {
    if (!this._drawnTopLeft) {
      return;
    }
    this._zooming = true;
    const scale = this._map.getZoomScale(event.zoom, this._drawnZoom);
    const offset = this._map._latLngToNewLayerPoint(this._drawnTopLeft, event.zoom, event.center);
    L.DomUtil.setTransform(this._box, offset, scale);
  },

  _onZoomEnd() {
    this._zooming = false;
    this.redraw();
  },

  _ensureCapacity(n) {
    if (this._capacity < n) {
      const size = Math.max(n, this._capacity * 2, 1024);
      this._capacity = size;
      this._xs = new Float32Array(size);
      this._ys = new Float32Array(size);
      this._cells = new Uint8Array(size);
      this._levels = new Uint8Array(size);
      this._buckets = new Uint8Array(size);
      this._order = new Int32Array(size);
    }
  },

  _atlasFor(radius) {
    const ratio = this._ratio;
    if (!this._atlas || this._atlas.radius !== radius || this._atlas.ratio !== ratio) {
      this._atlas = new SpriteAtlas(this._colors, radius, ratio);
    }
    return this._atlas;
  },

  _draw() {
    this._frame = 0;
    const map = this._map;
    if (!map || this._zooming || map._animatingZoom) {
      return;
    }
    const started = performance.now();
    const ratio = this._ratio;
    const width = this._width;
    const height = this._height;
    if (width === 0 || height === 0) {
      return;
    }

    // The layer box sits in a map pane at the container's top-left corner.
    const topLeft = map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(this._box, topLeft);
    const zoom = map.getZoom();
    const origin = map.getPixelOrigin();
    const worldSize = 256 * Math.pow(2, zoom);
    const offsetX = origin.x + topLeft.x;
    const offsetY = origin.y + topLeft.y;
    this._drawnTopLeft = map.layerPointToLatLng(topLeft);
    this._drawnZoom = zoom;
    this._drawnLayerOrigin = topLeft;

    // Bigger dots when zoomed in or when the fleet is small, smaller ones for a whole city of
    // thousands (which would otherwise read as a carpet, and costs fill rate).
    const fleetSize = this._store.vehicles.size;
    const radius =
      (zoom >= 15 ? 6 : zoom >= 13 ? 5 : 4) + (fleetSize <= 2000 ? 1 : fleetSize > 5000 && zoom < 13 ? -1 : 0);
    let atlas = this._atlasFor(radius);
    if (this._dots && !this._dots.supports(atlas)) {
      this._dots = null; // sprites larger than this GPU's biggest point
      this.renderer = "canvas2d";
      this._glCanvas.hidden = true;
    }
    const margin = atlas.half + 2;
    const now = this._store.now();
    const freshAfterMs = now - FRESH_MS;
    const freshAfter = new Date(freshAfterMs).toISOString();

    // Pass 1: who is in view, where, which sprite, how faded; bucketed for paint order
    // (faded under fresh, quiet under moving).
    const vehicles = this._store.vehicles;
    this._ensureCapacity(vehicles.size);
    const xs = this._xs;
    const ys = this._ys;
    const cells = this._cells;
    const levels = this._levels;
    const buckets = this._buckets;
    const records = this._records;
    records.length = vehicles.size;
    const bucketCount = ALPHA_LEVELS * 4;
    const bucketStarts = new Int32Array(bucketCount + 1);
    let n = 0;
    for (const record of vehicles.values()) {
      const mx = record.mx;
      if (mx !== mx) {
        continue; // NaN: never reported a position
      }
      const x = mx * worldSize - offsetX;
      const y = record.my * worldSize - offsetY;
      if (x < -margin || y < -margin || x > width + margin || y > height + margin) {
        continue;
      }
      xs[n] = x;
      ys[n] = y;
      records[n] = record;
      const level = record.isNewerThan(freshAfter, freshAfterMs)
        ? ALPHA_LEVELS - 1
        : alphaLevel(now - record.fixMs);
      levels[n] = level;
      cells[n] = atlas.cellOf(record);
      const bucket = level * 4 + record.rank;
      buckets[n] = bucket;
      bucketStarts[bucket + 1]++;
      n++;
    }
    records.length = n;
    this._count = n;
    this._grid = null;

    // Counting sort into paint order.
    for (let b = 0; b < bucketCount; b++) {
      bucketStarts[b + 1] += bucketStarts[b];
    }
    const order = this._order;
    for (let i = 0; i < n; i++) {
      order[bucketStarts[buckets[i]]++] = i;
    }

    const ctx = this._ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this._canvas.width, this._canvas.height);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);

    // Pass 2: the dots.
    if (this._dots) {
      this._dots.setAtlas(atlas);
      this._dots.draw(width, height, ratio, n, order, xs, ys, cells, levels);
    } else {
      const cell = atlas.cell;
      const size = atlas.size;
      const half = atlas.half;
      let currentLevel = -1;
      for (let k = 0; k < n; k++) {
        const i = order[k];
        if (levels[i] !== currentLevel) {
          currentLevel = levels[i];
          ctx.globalAlpha = LEVEL_ALPHA[currentLevel];
        }
        const c = cells[i];
        const plain = c < STATUSES.length;
        const inset = plain ? (cell - atlas.plainCell) / 2 : 0;
        const source = plain ? atlas.plainCell : cell;
        const target = plain ? atlas.plainSize : size;
        const offset = plain ? atlas.plainHalf : half;
        ctx.drawImage(
          atlas.canvas,
          (c % atlas.columns) * cell + inset,
          Math.floor(c / atlas.columns) * cell + inset,
          source,
          source,
          Math.round(xs[i]) - offset,
          Math.round(ys[i]) - offset,
          target,
          target,
        );
      }
      ctx.globalAlpha = 1;
    }

    // Plates next to the dots once zoomed in far enough for them to be readable.
    if (zoom >= 15 && n <= 400) {
      ctx.font = this._labelFont;
      ctx.textBaseline = "middle";
      ctx.lineJoin = "round";
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255,255,255,0.92)";
      ctx.fillStyle = this._labelColor;
      for (let i = 0; i < n; i++) {
        const x = Math.round(xs[i] + radius + 6);
        const y = Math.round(ys[i]);
        ctx.strokeText(records[i].plate, x, y);
        ctx.fillText(records[i].plate, x, y);
      }
    }

    this._drawRing(this._hoverId, radius, "rgba(15,23,42,0.55)", 1.5, offsetX, offsetY, worldSize);
    this._drawRing(this._selectedId, radius, this._selectionColor, 2.5, offsetX, offsetY, worldSize);

    this.lastDrawMs = performance.now() - started;
    this.paintedFrames++;
    if (this.onPainted) {
      this.onPainted(performance.now());
    }
  },

  _drawRing(id, radius, color, lineWidth, offsetX, offsetY, worldSize) {
    if (id === null || id === undefined) {
      return;
    }
    const record = this._store.vehicles.get(id);
    if (!record || record.mx !== record.mx) {
      return;
    }
    const ctx = this._ctx;
    const x = Math.round(record.mx * worldSize - offsetX);
    const y = Math.round(record.my * worldSize - offsetY);
    ctx.beginPath();
    ctx.arc(x, y, radius + 6, 0, Math.PI * 2);
    ctx.lineWidth = lineWidth + 3;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.stroke();
    ctx.lineWidth = lineWidth;
    ctx.strokeStyle = color;
    ctx.stroke();
  },

  // Grid buckets over the last frame's points, built on the first hit test after a draw.
  _buildGrid() {
    const cell = 16;
    const columns = Math.ceil((this._width + 64) / cell) + 1;
    const rows = Math.ceil((this._height + 64) / cell) + 1;
    const cells = columns * rows;
    const starts = new Int32Array(cells + 1);
    const n = this._count;
    const cellOf = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const cx = Math.min(columns - 1, Math.max(0, Math.floor((this._xs[i] + 32) / cell)));
      const cy = Math.min(rows - 1, Math.max(0, Math.floor((this._ys[i] + 32) / cell)));
      const c = cy * columns + cx;
      cellOf[i] = c;
      starts[c + 1]++;
    }
    for (let c = 0; c < cells; c++) {
      starts[c + 1] += starts[c];
    }
    const items = new Int32Array(n);
    const cursor = starts.slice(0, cells);
    for (let i = 0; i < n; i++) {
      items[cursor[cellOf[i]]++] = i;
    }
    this._grid = { cell, columns, rows, starts, items };
  },

  // The vehicle nearest to a layer point, within HIT_RADIUS_PX of it, or null.
  hitTest(layerPoint) {
    if (!this._drawnLayerOrigin || this._count === 0) {
      return null;
    }
    if (this._grid === null) {
      this._buildGrid();
    }
    const x = layerPoint.x - this._drawnLayerOrigin.x;
    const y = layerPoint.y - this._drawnLayerOrigin.y;
    const { cell, columns, rows, starts, items } = this._grid;
    const cx = Math.floor((x + 32) / cell);
    const cy = Math.floor((y + 32) / cell);
    let best = -1;
    let bestDistance = HIT_RADIUS_PX * HIT_RADIUS_PX;
    for (let gy = Math.max(0, cy - 1); gy <= Math.min(rows - 1, cy + 1); gy++) {
      for (let gx = Math.max(0, cx - 1); gx <= Math.min(columns - 1, cx + 1); gx++) {
        const c = gy * columns + gx;
        for (let k = starts[c]; k < starts[c + 1]; k++) {
          const i = items[k];
          const dx = this._xs[i] - x;
          const dy = this._ys[i] - y;
          const distance = dx * dx + dy * dy;
          if (distance < bestDistance || (distance === bestDistance && this._paintsAbove(i, best))) {
            bestDistance = distance;
            best = i;
          }
        }
      }
    }
    return best < 0 ? null : this._records[best];
  },

  // On a tie, the dot painted later (fresher, busier) is the one the user sees.
  _paintsAbove(i, j) {
    return j < 0 || this._buckets[i] >= this._buckets[j];
  },

  drawnCount() {
    return this._count;
  },

  // The container point where a vehicle was last drawn (tests click there), or null.
  pointOf(id) {
    for (let i = 0; i < this._count; i++) {
      if (this._records[i].id === id) {
        return L.point(this._xs[i], this._ys[i]).add(
          this._map.layerPointToContainerPoint(this._drawnLayerOrigin),
        );
      }
    }
    return null;
  },
}) : null;
