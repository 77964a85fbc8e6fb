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
(function () {
  "use strict";

  if (!window.L) {
    return;
  }

  const ZONE_LABEL_MIN_WIDTH_PX = 160;
  const STATUSES = ["moving", "idle", "stopped", "offline"];
  const STATUS_LABEL = { moving: "Moving", idle: "Idle", stopped: "Stopped", offline: "Offline" };
  // Paint order: quiet vehicles first, moving ones on top.
  const STATUS_RANK = { offline: 0, stopped: 1, idle: 2, moving: 3 };
  const INTERVALS = [0, 1, 5, 15, 30, 60];
  const DEFAULT_INTERVAL = 1;

  const BACKOFF_FIRST_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  const ROW_HEIGHT = 40;
  const LIST_REFRESH_MS = 1000;
  const SEARCH_DEBOUNCE_MS = 250;
  const HIT_RADIUS_PX = 8;
  const FADE_REDRAW_MS = 10000;
  const DETAILS_REFRESH_MS = 10000;

  // Age fading: full colour for a minute, then linearly down to MIN_ALPHA at ten minutes.
  const FRESH_MS = 60 * 1000;
  const FADED_MS = 10 * 60 * 1000;
  const MIN_ALPHA = 0.35;
  const ALPHA_LEVELS = 8;
  const HEADING_STEPS = 36; // sprites for every 10 degrees

  const MAX_LATITUDE = 85.0511287798;
  const DEG = Math.PI / 180;

  // ---- small helpers ---------------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  function readConfig() {
    const defaults = {
      wsPath: "/ws/live/",
      tileUrl: "",
      tileAttribution: "",
      center: [52.37, 4.89],
      zoom: 12,
      hubs: [],
      zones: { type: "FeatureCollection", features: [] },
      tags: [],
      roadsUrl: "",
      savedViews: [],
      viewsUrl: "",
      viewUrlTemplate: "",
      vehicleUrlTemplate: "",
    };
    const script = $("map-config");
    let config = {};
    try {
      config = script ? JSON.parse(script.textContent || "{}") || {} : {};
    } catch (error) {
      console.error("live map: unreadable map-config", error);
    }
    if (typeof config !== "object") {
      config = {};
    }
    return Object.assign(defaults, config);
  }

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  // "/map/vehicles/0/" -> "/map/vehicles/42/": the last "/0/" of a URL template is the id.
  function urlFor(template, id) {
    const at = template.lastIndexOf("/0/");
    if (at < 0) {
      return "";
    }
    return template.slice(0, at) + "/" + encodeURIComponent(id) + "/" + template.slice(at + 3);
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) {
      return decodeURIComponent(match[1]);
    }
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  async function sendJson(url, method, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      let message = `The server answered ${response.status}.`;
      if (data && data.errors) {
        message = Object.values(data.errors).flat().join(" ");
      } else if (data && data.detail) {
        message = String(data.detail);
      }
      throw new Error(message);
    }
    return data;
  }

  const numberFormat = new Intl.NumberFormat();
  const clockFormat = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });
  const plateCollator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  // 12 s, 4 min, 3 h, 2 d
  function formatAge(ms) {
    if (!Number.isFinite(ms)) {
      return "never";
    }
    const seconds = Math.max(0, Math.round(ms / 1000));
    if (seconds < 60) {
      return `${seconds} s`;
    }
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) {
      return `${minutes} min`;
    }
    const hours = Math.floor(minutes / 60);
    if (hours < 48) {
      return `${hours} h`;
    }
    return `${Math.floor(hours / 24)} d`;
  }

  function formatSpeed(kmh) {
    return kmh === null || kmh === undefined || !Number.isFinite(+kmh) ? "—" : `${Math.round(kmh)} km/h`;
  }

  function ageAlpha(ageMs) {
    if (!(ageMs > FRESH_MS)) {
      return 1; // fresh, or a clock slightly ahead of the server's
    }
    if (ageMs >= FADED_MS) {
      return MIN_ALPHA;
    }
    return 1 - ((1 - MIN_ALPHA) * (ageMs - FRESH_MS)) / (FADED_MS - FRESH_MS);
  }

  function alphaLevel(ageMs) {
    return Math.round(((ageAlpha(ageMs) - MIN_ALPHA) / (1 - MIN_ALPHA)) * (ALPHA_LEVELS - 1));
  }

  function levelAlpha(level) {
    return MIN_ALPHA + ((1 - MIN_ALPHA) * level) / (ALPHA_LEVELS - 1);
  }

  // Web Mercator (EPSG:3857) in zoom-independent units: world = [0, 1) x [0, 1), so a container
  // point at zoom z is (unit * 256 * 2^z - pixelOrigin). Same numbers as map.project().
  function mercatorX(lon) {
    return 0.5 + lon / 360;
  }

  function mercatorY(lat) {
    const clamped = Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, lat));
    const sin = Math.sin(clamped * DEG);
    return 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI);
  }

  // ---- vehicles ------------------------------------------------------------------------------

  // One vehicle as the contract's `V`, plus what the renderer derives from it once per update.
  class VehicleRecord {
    constructor(id) {
      this.id = id;
      this.plate = "";
      this.name = "";
      this.hub_id = null;
      this.hub = "";
      this.driver = "";
      this.device = "";
      this.tags = [];
      this.lat = null;
      this.lon = null;
      this.speed_kmh = null;
      this.heading = null;
      this.status = "offline";
      this.fix_time = null;
      this.battery_pct = null;
      this._fixMs = NaN; // fix_time as epoch ms, parsed on first use
      this.mx = NaN; // Web-Mercator units, NaN when the vehicle never reported a position
      this.my = NaN;
      this.rank = 0;
    }

    assign(v) {
      // Updates carry the vehicle's descriptive fields only when they changed (see
      // docs/live-map.md): a record without "plate" leaves them as they are.
      if ("plate" in v) {
        this.plate = v.plate == null ? "" : String(v.plate);
        this.name = v.name || "";
        this.hub_id = v.hub_id == null ? null : v.hub_id;
        this.hub = v.hub || "";
        this.driver = v.driver || "";
        this.device = v.device || "";
        this.tags = Array.isArray(v.tags) ? v.tags : [];
      }
      this.speed_kmh = v.speed_kmh == null ? null : +v.speed_kmh;
      this.heading = v.heading == null ? null : +v.heading;
      this.status = STATUS_RANK[v.status] === undefined ? "offline" : v.status;
      this.rank = STATUS_RANK[this.status];
      this.battery_pct = v.battery_pct == null ? null : v.battery_pct;
      if (v.fix_time !== this.fix_time) {
        this.fix_time = v.fix_time ? String(v.fix_time) : null;
        this._fixMs = undefined;
      }
      const lat = v.lat == null ? null : +v.lat;
      const lon = v.lon == null ? null : +v.lon;
      if (lat !== this.lat || lon !== this.lon) {
        this.lat = lat;
        this.lon = lon;
        const valid = lat !== null && lon !== null && Number.isFinite(lat) && Number.isFinite(lon);
        this.mx = valid ? mercatorX(lon) : NaN;
        this.my = valid ? mercatorY(lat) : NaN;
      }
    }

    // Parsed lazily: most fixes are drawn as "fresh" without it (see isFresh) and only the rows
    // in view show an age, so 10,000 updates a second need not pay 10,000 Date.parse calls.
    get fixMs() {
      if (this._fixMs === undefined) {
        this._fixMs = this.fix_time ? Date.parse(this.fix_time) : NaN;
      }
      return this._fixMs;
    }

    // Whether the fix is newer than `threshold`, an ISO-8601 UTC string: UTC ISO strings order
    // like the times they write, so this needs no parsing (other zones fall back to parsing).
    isNewerThan(threshold, thresholdMs) {
      const fix = this.fix_time;
      if (fix === null) {
        return false;
      }
      if (fix.endsWith("+00:00") || fix.endsWith("Z")) {
        return fix > threshold;
      }
      return this.fixMs > thresholdMs;
    }
  }

  class VehicleStore {
    constructor() {
      this.vehicles = new Map();
      this.version = 0; // any change
      this.orderVersion = 0; // membership or plate changes (the list re-sorts)
      this.serverOffsetMs = 0; // server clock - local clock, from server_time
    }

    now() {
      return Date.now() + this.serverOffsetMs;
    }

    _upsert(v) {
      if (!v || v.id === undefined || v.id === null) {
        return;
      }
      let record = this.vehicles.get(v.id);
      if (record === undefined) {
        record = new VehicleRecord(v.id);
        this.vehicles.set(v.id, record);
        this.orderVersion++;
      } else if ("plate" in v && v.plate !== record.plate) {
        this.orderVersion++;
      }
      record.assign(v);
    }

    // Returns true when the message was a frame (snapshot or update).
    apply(message) {
      if (message.server_time) {
        const serverMs = Date.parse(message.server_time);
        if (Number.isFinite(serverMs)) {
          this.serverOffsetMs = serverMs - Date.now();
        }
      }
      const vehicles = Array.isArray(message.vehicles) ? message.vehicles : [];
      if (message.type === "snapshot") {
        // Keep the same Map object: debuggers and tests hold on to it.
        const previous = new Map(this.vehicles);
        this.vehicles.clear();
        for (const v of vehicles) {
          const old = v && previous.get(v.id);
          if (old) {
            this.vehicles.set(v.id, old);
          }
          this._upsert(v);
        }
        this.orderVersion++;
      } else if (message.type === "update" || message.type === "snapshot_more") {
        // A large snapshot arrives in parts: "snapshot" replaces, "snapshot_more" adds.
        for (const v of vehicles) {
          this._upsert(v);
        }
        const removed = Array.isArray(message.removed) ? message.removed : [];
        for (const id of removed) {
          if (this.vehicles.delete(id)) {
            this.orderVersion++;
          }
        }
      } else {
        return false;
      }
      this.version++;
      return true;
    }
  }

  // ---- canvas layer ----------------------------------------------------------------------------

  const STATUS_CELL = { moving: 0, idle: 1, stopped: 2, offline: 3 };

  // Every dot the layer can draw, pre-rendered once per radius and pixel ratio into one canvas:
  // a white halo, the status fill, and for moving vehicles a wedge pointing where they head
  // (one cell per 10 degrees). It is the WebGL texture, or the drawImage source in 2D.
  class SpriteAtlas {
    constructor(colors, radius, ratio) {
      this.radius = radius;
      this.ratio = ratio;
      this.wedge = Math.max(4, radius);
      this.half = Math.ceil(radius + this.wedge + 1.5); // CSS px from the centre to a cell edge
      this.size = this.half * 2; // CSS px
      this.cell = this.size * ratio; // device px
      // A plain dot (no wedge) fits a much smaller square centred in its cell.
      this.plainHalf = Math.ceil(radius + 2);
      this.plainSize = this.plainHalf * 2;
      this.plainCell = this.plainSize * ratio;
      this.columns = 8;
      this.rows = Math.ceil((STATUSES.length + HEADING_STEPS) / this.columns);
      const canvas = document.createElement("canvas");
      canvas.width = this.columns * this.cell;
      canvas.height = this.rows * this.cell;
      const ctx = canvas.getContext("2d");
      for (const status of STATUSES) {
        this._paint(ctx, STATUS_CELL[status], colors[status], -1);
      }
      for (let step = 0; step < HEADING_STEPS; step++) {
        this._paint(ctx, STATUSES.length + step, colors.moving, step);
      }
      this.canvas = canvas;
    }

    cellOf(record) {
      const heading = record.heading;
      if (record.rank === 3 && heading !== null && heading === heading) {
        const step = Math.round((((heading % 360) + 360) % 360) / (360 / HEADING_STEPS)) % HEADING_STEPS;
        return STATUSES.length + step;
      }
      return STATUS_CELL[record.status];
    }

    _paint(ctx, index, color, headingStep) {
      const radius = this.radius;
      ctx.save();
      ctx.translate((index % this.columns) * this.cell, Math.floor(index / this.columns) * this.cell);
      ctx.scale(this.ratio, this.ratio);
      ctx.translate(this.half, this.half);
      ctx.beginPath();
      ctx.arc(0, 0, radius, 0, Math.PI * 2);
      if (headingStep >= 0) {
        // Heading: degrees clockwise from north; canvas y grows downwards.
        const angle = (headingStep * (360 / HEADING_STEPS) - 90) * DEG;
        const spread = 38 * DEG;
        const tip = radius + this.wedge;
        ctx.moveTo(Math.cos(angle - spread) * radius, Math.sin(angle - spread) * radius);
        ctx.lineTo(Math.cos(angle) * tip, Math.sin(angle) * tip);
        ctx.lineTo(Math.cos(angle + spread) * radius, Math.sin(angle + spread) * radius);
        ctx.closePath();
      }
      ctx.lineJoin = "round";
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255,255,255,0.95)";
      ctx.stroke();
      ctx.fillStyle = color;
      ctx.fill();
      ctx.beginPath();
      ctx.arc(0, 0, radius - 0.5, 0, Math.PI * 2);
      ctx.lineWidth = 1;
      ctx.strokeStyle = "rgba(15,23,42,0.25)";
      ctx.stroke();
      ctx.restore();
    }
  }

  // Plain dots (cells 0-3) are drawn as smaller points than wedge dots: most of a wedge cell is
  // transparent room for the wedge, and every texel of a point costs fill rate.
  const DOT_VERTEX_SHADER = `
    attribute vec2 a_position; // CSS px from the canvas's top-left corner
    attribute float a_cell;
    attribute float a_alpha;
    uniform vec2 u_size;
    uniform float u_point; // device px: a whole atlas cell
    uniform float u_plain; // device px: the tight square around a plain dot
    uniform vec2 u_grid;
    varying vec2 v_origin;
    varying vec2 v_span;
    varying float v_alpha;
    void main() {
      gl_Position = vec4(a_position.x / u_size.x * 2.0 - 1.0, 1.0 - a_position.y / u_size.y * 2.0, 0.0, 1.0);
      float size = a_cell < 3.5 ? u_plain : u_point;
      gl_PointSize = size;
      float row = floor((a_cell + 0.5) / u_grid.x);
      vec2 scale = 1.0 / u_grid;
      v_span = scale * (size / u_point);
      v_origin = (vec2(a_cell - row * u_grid.x, row) + 0.5 * (1.0 - size / u_point)) * scale;
      v_alpha = a_alpha;
    }`;

  const DOT_FRAGMENT_SHADER = `
    precision mediump float;
    uniform sampler2D u_atlas;
    varying vec2 v_origin;
    varying vec2 v_span;
    varying float v_alpha;
    void main() {
      vec4 color = texture2D(u_atlas, v_origin + gl_PointCoord * v_span);
      if (color.a < 0.004) {
        discard;
      }
      gl_FragColor = color * v_alpha;
    }`;

  // All dots in one WebGL draw call: point sprites textured from the atlas. The main thread only
  // fills one Float32Array; rasterising is the GPU's job. Returns null where WebGL is missing.
  class GlDots {
    static create(canvas) {
      let gl = null;
      try {
        gl = canvas.getContext("webgl", {
          alpha: true,
          antialias: false,
          depth: false,
          stencil: false,
          premultipliedAlpha: true,
          preserveDrawingBuffer: false,
        });
      } catch (error) {
        gl = null;
      }
      if (!gl) {
        return null;
      }
      const compile = (type, source) => {
        const shader = gl.createShader(type);
        gl.shaderSource(shader, source);
        gl.compileShader(shader);
        if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
          throw new Error(gl.getShaderInfoLog(shader) || "shader");
        }
        return shader;
      };
      try {
        const program = gl.createProgram();
        gl.attachShader(program, compile(gl.VERTEX_SHADER, DOT_VERTEX_SHADER));
        gl.attachShader(program, compile(gl.FRAGMENT_SHADER, DOT_FRAGMENT_SHADER));
        gl.linkProgram(program);
        if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
          throw new Error(gl.getProgramInfoLog(program) || "link");
        }
        return new GlDots(gl, program);
      } catch (error) {
        console.warn("live map: WebGL unusable, drawing with canvas 2D", error);
        return null;
      }
    }

    constructor(gl, program) {
      this.gl = gl;
      this.program = program;
      this.maxPoint = gl.getParameter(gl.ALIASED_POINT_SIZE_RANGE)[1];
      this.data = new Float32Array(4 * 1024);
      this.buffer = gl.createBuffer();
      this.texture = gl.createTexture();
      this.atlas = null;
      gl.useProgram(program);
      const location = (name) => gl.getAttribLocation(program, name);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffer);
      const stride = 16;
      gl.enableVertexAttribArray(location("a_position"));
      gl.vertexAttribPointer(location("a_position"), 2, gl.FLOAT, false, stride, 0);
      gl.enableVertexAttribArray(location("a_cell"));
      gl.vertexAttribPointer(location("a_cell"), 1, gl.FLOAT, false, stride, 8);
      gl.enableVertexAttribArray(location("a_alpha"));
      gl.vertexAttribPointer(location("a_alpha"), 1, gl.FLOAT, false, stride, 12);
      this.uSize = gl.getUniformLocation(program, "u_size");
      this.uPoint = gl.getUniformLocation(program, "u_point");
      this.uPlain = gl.getUniformLocation(program, "u_plain");
      this.uGrid = gl.getUniformLocation(program, "u_grid");
      gl.uniform1i(gl.getUniformLocation(program, "u_atlas"), 0);
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA); // premultiplied alpha
    }

    supports(atlas) {
      return atlas.cell <= this.maxPoint;
    }

    setAtlas(atlas) {
      if (this.atlas === atlas) {
        return;
      }
      const gl = this.gl;
      this.atlas = atlas;
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, this.texture);
      gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, true);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, atlas.canvas);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.uniform1f(this.uPoint, atlas.cell);
      gl.uniform1f(this.uPlain, atlas.plainCell);
      gl.uniform2f(this.uGrid, atlas.columns, atlas.rows);
    }

    // xs/ys: CSS px; cells/levels per point; order: paint order (indexes into them).
    draw(width, height, ratio, n, order, xs, ys, cells, levels) {
      const gl = this.gl;
      const canvas = gl.canvas;
      const deviceWidth = Math.round(width * ratio);
      const deviceHeight = Math.round(height * ratio);
      if (canvas.width !== deviceWidth || canvas.height !== deviceHeight) {
        canvas.width = deviceWidth;
        canvas.height = deviceHeight;
      }
      if (this.data.length < n * 4) {
        this.data = new Float32Array(Math.max(n * 4, this.data.length * 2));
      }
      const data = this.data;
      for (let k = 0, j = 0; k < n; k++) {
        const i = order[k];
        // Whole CSS px: with an even sprite size every texel lands on one device pixel.
        data[j++] = Math.round(xs[i]);
        data[j++] = Math.round(ys[i]);
        data[j++] = cells[i];
        data[j++] = LEVEL_ALPHA[levels[i]];
      }
      gl.viewport(0, 0, deviceWidth, deviceHeight);
      gl.uniform2f(this.uSize, width, height);
      gl.clearColor(0, 0, 0, 0);
      gl.clear(gl.COLOR_BUFFER_BIT);
      if (n > 0) {
        gl.bindBuffer(gl.ARRAY_BUFFER, this.buffer);
        gl.bufferData(gl.ARRAY_BUFFER, data.subarray(0, n * 4), gl.DYNAMIC_DRAW);
        gl.drawArrays(gl.POINTS, 0, n);
      }
    }
  }

  const LEVEL_ALPHA = Array.from({ length: ALPHA_LEVELS }, (_, level) => levelAlpha(level));

  // The vehicles layer: a WebGL canvas for the dots (a 2D fallback draws them on the overlay),
  // and a 2D overlay canvas for the selection ring, the hover ring and plate labels. Both sit in
  // one box in a map pane at the map container's top-left corner and are repainted together.
  const VehicleLayer = L.Layer.extend({
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
  });

  // ---- websocket -------------------------------------------------------------------------------

  // Connects, re-subscribes after every (re)connect, backs off 1 s doubling to 30 s, and reports
  // connecting / live / reconnecting / stale.
  class LiveConnection {
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
        this.send(this.subscription());
      };
      socket.onmessage = (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (error) {
          return;
        }
        if (["snapshot", "snapshot_more", "update"].includes(message.type)) {
          this.attempt = 0;
          this.lastFrameAt = Date.now();
          this.probedAt = 0;
          this._setState("live");
        }
        this.onMessage(message);
      };
      socket.onclose = (event) => {
        if (this.socket !== socket) {
          return;
        }
        this.socket = null;
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

  // ---- the page --------------------------------------------------------------------------------

  class LiveMapPage {
    constructor(config) {
      this.config = config;
      this.store = new VehicleStore();
      this.form = $("map-filters");
      this.interval = DEFAULT_INTERVAL;
      this.polygon = null; // GeoJSON Polygon drawn on the map
      this.selectedId = null;
      this.snapshotSeen = false;
      this.awaitingSnapshot = false;
      this.views = Array.isArray(config.savedViews) ? config.savedViews.slice() : [];
      this.currentViewId = null;
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

      const defaultView = this.views.find((view) => view.is_default);
      if (defaultView) {
        this._applyView(defaultView, { subscribe: false });
      }
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
      const state = this.connectionState;
      let text = "Connecting…";
      if (state === "live") {
        text = this.interval === 0 ? "Live" : `Live · every ${this.interval} s`;
      } else if (state === "stale") {
        text = `Stale · no data for ${formatAge(Date.now() - this.lastFrameAt)}`;
      } else if (state === "reconnecting") {
        const connection = this.connection;
        if (connection && connection.fatal) {
          text = "Disconnected";
        } else {
          const wait = connection ? Math.max(0, Math.ceil((connection.retryAt - Date.now()) / 1000)) : 0;
          text = connection && connection.socket ? "Reconnecting…" : `Reconnecting in ${wait} s`;
        }
      }
      if (label.textContent !== text) {
        label.textContent = text;
      }
    }

    _updateFrameClock() {
      const clock = $("last-frame");
      if (clock && this.lastFrameAt) {
        const date = new Date(this.lastFrameAt);
        clock.textContent = clockFormat.format(date);
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

    // ---- map

    _buildMap() {
      const config = this.config;
      const map = L.map("map", {
        center: config.center,
        zoom: config.zoom,
        zoomControl: false,
        preferCanvas: true,
        attributionControl: true,
        minZoom: 3,
        maxZoom: 19,
      });
      map.attributionControl.setPrefix("");
      L.control.zoom({ position: "topright" }).addTo(map);
      L.control.scale({ imperial: false, position: "bottomright" }).addTo(map);
      this.map = map;

      if (config.tileUrl) {
        L.tileLayer(config.tileUrl, {
          attribution: config.tileAttribution || "",
          maxZoom: 19,
          crossOrigin: true,
        }).addTo(map);
      }

      // Offline-friendly base: road network, zones and hubs as light vector layers.
      const baseRenderer = L.canvas({ padding: 0.5 });
      map.createPane("vehiclesPane").style.zIndex = 450;
      map.getPane("vehiclesPane").style.pointerEvents = "none";

      if (config.roadsUrl) {
        this._loadRoads(config.roadsUrl, baseRenderer);
      }
      this.zoneLayer = L.geoJSON(config.zones && config.zones.features ? config.zones : null, {
        renderer: baseRenderer,
        interactive: false,
        style: (feature) => this._zoneStyle(feature, false),
      }).addTo(map);
      this.zoneLayer.eachLayer((layer) => {
        const name = layer.feature && layer.feature.properties && layer.feature.properties.name;
        if (name) {
          // An element, not a string: Leaflet puts a string tooltip in as HTML, and zone names
          // are typed by tenant admins.
          const label = document.createElement("span");
          label.textContent = name;
          layer.bindTooltip(label, {
            permanent: true,
            direction: "bottom",
            offset: [0, 4],
            className: "lm-zone-label",
            interactive: false,
          });
        }
      });
      // Zone names sit at the top of the zone, and only on zones wide enough on screen to hold
      // one: in the middle, or on a hub's small yard at city zoom, they covered the hub's name.
      const fitZoneLabels = () => {
        this.zoneLayer.eachLayer((layer) => {
          if (!layer.getTooltip()) {
            return;
          }
          const bounds = layer.getBounds();
          const width =
            map.latLngToLayerPoint(bounds.getNorthEast()).x -
            map.latLngToLayerPoint(bounds.getSouthWest()).x;
          if (width >= ZONE_LABEL_MIN_WIDTH_PX) {
            // Just inside the top edge: the middle is where the hub usually is.
            layer.openTooltip(L.latLng(bounds.getNorth(), bounds.getCenter().lng));
          } else {
            layer.closeTooltip();
          }
        });
      };
      map.on("zoomend", fitZoneLabels);
      map.whenReady(fitZoneLabels);
      for (const hub of config.hubs) {
        if (hub.lat == null || hub.lon == null) {
          continue;
        }
        const icon = L.divIcon({
          className: "lm-hub",
          html:
            '<span class="lm-hub__pin"><svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3 10 12 4l9 6v10H3z" fill="currentColor"/><path d="M9 20v-6h6v6" fill="#fff"/></svg></span>' +
            `<span class="lm-hub__name"></span>`,
          iconSize: [24, 24],
          iconAnchor: [12, 12],
        });
        const marker = L.marker([hub.lat, hub.lon], {
          icon,
          title: `${hub.name}: click to show only this hub`,
          keyboard: false,
          riseOnHover: true,
        }).addTo(map);
        marker.getElement().querySelector(".lm-hub__name").textContent = hub.name;
        marker.on("click", () => this._toggleHub(hub.id));
      }

      // WebGL unless the config asks for the Canvas 2D path (benchmarks compare the two).
      this.layer = new VehicleLayer(this.store, { webgl: config.renderer !== "canvas2d" }).addTo(map);
      this.debug.map = map;
      this.debug.layer = this.layer;
      this.layer.onPainted = (t) => {
        this.debug.paintedFrames = this.layer.paintedFrames;
        if (this.debug.onPainted) {
          this.debug.onPainted(t);
        }
      };

      this.tip = L.DomUtil.create("div", "lm-tip", map.getContainer());
      this.tip.hidden = true;
      let hoverPoint = null;
      let hoverFrame = 0;
      map.on("mousemove", (event) => {
        if (this.drawing) {
          return;
        }
        hoverPoint = event;
        if (!hoverFrame) {
          hoverFrame = requestAnimationFrame(() => {
            hoverFrame = 0;
            if (hoverPoint) {
              this._hover(hoverPoint);
            }
          });
        }
      });
      map.on("mouseout", () => {
        hoverPoint = null;
        this._hover(null);
      });
      map.on("click", (event) => {
        if (this.drawing) {
          return;
        }
        const record = this.layer.hitTest(event.layerPoint);
        if (record) {
          this.select(record.id, "map");
        }
      });
      this._buildDrawTool();
    }

    async _loadRoads(url, renderer) {
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok) {
          return;
        }
        const roads = await response.json();
        const street = cssVar("--map-road", "#cdd3db");
        const arterial = cssVar("--map-road-major", "#b8c0cb");
        const layer = L.geoJSON(roads, {
          renderer,
          interactive: false,
          style: (feature) => {
            const kind = feature && feature.properties && feature.properties.kind;
            const major = kind === "arterial" || kind === "ring" || kind === "primary";
            return {
              color: major ? arterial : street,
              weight: major ? 2.4 : 1.2,
              opacity: 1,
              lineCap: "round",
              lineJoin: "round",
            };
          },
        }).addTo(this.map);
        layer.bringToBack();
      } catch (error) {
        console.warn("live map: road network unavailable", error);
      }
    }

    _zoneStyle(feature, selected) {
      const color = (feature && feature.properties && feature.properties.color) || "#6e56e8";
      const restricted = feature && feature.properties && feature.properties.kind === "restricted";
      return {
        color,
        weight: selected ? 2.5 : 1.5,
        opacity: selected ? 0.95 : 0.7,
        fillColor: color,
        fillOpacity: selected ? 0.16 : 0.07,
        dashArray: restricted ? "6 4" : null,
      };
    }

    _hover(event) {
      const record = event ? this.layer.hitTest(event.layerPoint) : null;
      const container = this.map.getContainer();
      container.classList.toggle("is-over-vehicle", record !== null);
      this.layer.setHover(record ? record.id : null);
      if (!record) {
        this.tip.hidden = true;
        return;
      }
      const age = formatAge(this.store.now() - record.fixMs);
      this.tip.innerHTML = "";
      const plate = document.createElement("strong");
      plate.textContent = record.plate;
      const meta = document.createElement("span");
      meta.textContent = `${STATUS_LABEL[record.status]} · ${formatSpeed(record.speed_kmh)} · ${age}`;
      const driver = document.createElement("span");
      driver.className = "lm-tip__driver";
      driver.textContent = record.driver || "No driver";
      this.tip.append(plate, driver, meta);
      this.tip.hidden = false;
      const point = event.containerPoint;
      const size = this.map.getSize();
      const flip = point.x > size.x - 220;
      this.tip.style.transform = `translate(${Math.round(point.x + (flip ? -14 : 14))}px, ${Math.round(point.y + 14)}px)${flip ? " translateX(-100%)" : ""}`;
    }

    // ---- drawing an area: click corners, double-click to finish, Esc cancels

    _buildDrawTool() {
      const map = this.map;
      this.drawing = false;
      this.drawPoints = [];
      this.drawPreview = L.polyline([], {
        color: cssVar("--brand-600", "#5a43d6"),
        weight: 2,
        dashArray: "5 5",
        interactive: false,
      });
      this.areaLayer = null;
      const toggle = $("draw-area");
      const clear = $("clear-area");
      if (toggle) {
        toggle.addEventListener("click", () => (this.drawing ? this._stopDrawing() : this._startDrawing()));
      }
      if (clear) {
        clear.addEventListener("click", () => {
          this._setPolygon(null);
          this._resubscribe();
        });
      }
      map.on("click", (event) => {
        if (!this.drawing) {
          return;
        }
        const last = this.drawPoints[this.drawPoints.length - 1];
        if (last && map.latLngToContainerPoint(last).distanceTo(event.containerPoint) < 4) {
          return; // second click of a double-click
        }
        this.drawPoints.push(event.latlng);
        this.drawPreview.setLatLngs(this.drawPoints.concat([event.latlng]));
      });
      map.on("mousemove", (event) => {
        if (this.drawing && this.drawPoints.length) {
          this.drawPreview.setLatLngs(this.drawPoints.concat([event.latlng, this.drawPoints[0]]));
        }
      });
      map.on("dblclick", () => {
        if (this.drawing) {
          this._finishDrawing();
        }
      });
    }

    _startDrawing() {
      this.drawing = true;
      this.drawPoints = [];
      this.drawPreview.setLatLngs([]).addTo(this.map);
      this.map.doubleClickZoom.disable();
      this.map.getContainer().classList.add("is-drawing");
      this._hover(null);
      $("draw-hint").hidden = false;
      $("draw-area").setAttribute("aria-pressed", "true");
      $("draw-area-label").textContent = "Cancel";
    }

    _stopDrawing() {
      this.drawing = false;
      this.drawPreview.remove();
      // Re-enable after the dblclick that finished the polygon has been handled.
      setTimeout(() => this.map.doubleClickZoom.enable(), 0);
      this.map.getContainer().classList.remove("is-drawing");
      $("draw-hint").hidden = true;
      $("draw-area").setAttribute("aria-pressed", "false");
      $("draw-area-label").textContent = this.polygon ? "Redraw area" : "Draw area";
    }

    _finishDrawing() {
      const points = this.drawPoints.slice();
      this._stopDrawing();
      if (points.length < 3) {
        this._toast("An area needs at least three corners.");
        return;
      }
      const ring = points.map((p) => [+p.lng.toFixed(6), +p.lat.toFixed(6)]);
      ring.push(ring[0].slice());
      this._setPolygon({ type: "Polygon", coordinates: [ring] });
      // A drawn area replaces a saved zone (the server uses one area at a time).
      $("zone-filter").value = "";
      this._highlightZone();
      this._resubscribe();
    }

    _setPolygon(polygon) {
      this.polygon = polygon;
      if (this.areaLayer) {
        this.areaLayer.remove();
        this.areaLayer = null;
      }
      if (polygon) {
        this.areaLayer = L.geoJSON(polygon, {
          interactive: false,
          style: {
            color: cssVar("--brand-600", "#5a43d6"),
            weight: 2,
            dashArray: "6 4",
            fillColor: cssVar("--brand-500", "#6e56e8"),
            fillOpacity: 0.08,
          },
        }).addTo(this.map);
      }
      $("clear-area").disabled = !polygon;
      $("draw-area-label").textContent = polygon ? "Redraw area" : "Draw area";
      this._updateFilterSummary();
    }

    // ---- filters

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

    // ---- vehicle list

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

    // ---- selection and details

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

    // ---- saved views

    _buildViews() {
      this.viewSelect = $("saved-view-select");
      this._renderViewOptions();
      this.viewSelect.addEventListener("change", () => {
        const view = this.views.find((v) => String(v.id) === this.viewSelect.value);
        if (view) {
          this._applyView(view, { subscribe: true });
        } else {
          this.currentViewId = null;
          this._updateViewControls();
        }
      });
      $("save-view").addEventListener("click", () => this._openViewDialog());
      $("view-save-cancel").addEventListener("click", () => this._closeViewDialog());
      $("view-save-confirm").addEventListener("click", () => this._saveView());
      $("view-name").addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          this._saveView();
        }
      });
      $("view-make-default").addEventListener("click", () => this._makeDefault());
      $("view-delete").addEventListener("click", () => this._deleteView());
      this._updateViewControls();
    }

    _renderViewOptions() {
      const select = this.viewSelect;
      select.innerHTML = "";
      select.append(new Option("Unsaved view", ""));
      const mine = this.views.filter((v) => v.mine);
      const shared = this.views.filter((v) => !v.mine);
      const byName = (a, b) => plateCollator.compare(a.name, b.name);
      const addGroup = (label, list) => {
        if (!list.length) {
          return;
        }
        const group = document.createElement("optgroup");
        group.label = label;
        for (const view of list.sort(byName)) {
          const marks = [view.is_default ? "★ " : "", view.name, view.mine && view.shared ? " (shared)" : ""];
          group.append(new Option(marks.join(""), String(view.id)));
        }
        select.append(group);
      };
      addGroup("My views", mine);
      addGroup("Shared with the team", shared);
      select.value = this.currentViewId === null ? "" : String(this.currentViewId);
    }

    _applyView(view, { subscribe }) {
      this.currentViewId = view.id;
      this._writeFilters(view.filters || {}, view.refresh_seconds);
      this.viewSelect.value = String(view.id);
      this._renderConnection();
      if (subscribe) {
        this._resubscribe();
      }
      this._updateViewControls();
    }

    _viewKey(filters, interval) {
      return JSON.stringify([filters, Number(interval)]);
    }

    _updateViewControls() {
      const view = this.views.find((v) => v.id === this.currentViewId) || null;
      $("view-make-default").disabled = !view || Boolean(view.is_default);
      $("view-delete").disabled = !view || !view.mine;
      $("view-delete").title = view && !view.mine ? "Only its owner can delete a shared view" : "";
      const modified =
        view !== null &&
        this._viewKey(this._normalizedFilters(view.filters), view.refresh_seconds) !==
          this._viewKey(this.currentFilters(), this.interval);
      $("view-modified").hidden = !modified;
    }

    // A saved filter as currentFilters() would produce it, to tell whether the view was changed.
    _normalizedFilters(filters) {
      const f = filters || {};
      const out = {};
      if (Array.isArray(f.status) && f.status.length && f.status.length < STATUSES.length) {
        out.status = STATUSES.filter((s) => f.status.includes(s));
      }
      if (Array.isArray(f.hubs) && f.hubs.length) {
        out.hubs = f.hubs
          .map((value) => (this.hubsById.has(String(value)) ? this.hubsById.get(String(value)).id : value))
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

    _openViewDialog() {
      const dialog = $("view-dialog");
      const current = this.views.find((v) => v.id === this.currentViewId);
      $("view-name").value = current && current.mine ? current.name : "";
      $("view-shared").checked = Boolean(current && current.mine && current.shared);
      $("view-default").checked = false;
      $("view-dialog-error").hidden = true;
      dialog.hidden = false;
      $("save-view").setAttribute("aria-expanded", "true");
      $("view-name").focus();
      $("view-name").select();
    }

    _closeViewDialog() {
      $("view-dialog").hidden = true;
      $("save-view").setAttribute("aria-expanded", "false");
    }

    async _saveView() {
      const name = $("view-name").value.trim();
      const error = $("view-dialog-error");
      if (!name) {
        error.textContent = "Give the view a name.";
        error.hidden = false;
        $("view-name").focus();
        return;
      }
      if (!this.config.viewsUrl) {
        error.textContent = "Saving views is not available here.";
        error.hidden = false;
        return;
      }
      const confirm = $("view-save-confirm");
      confirm.disabled = true;
      try {
        const view = await sendJson(this.config.viewsUrl, "POST", {
          name,
          shared: $("view-shared").checked,
          filters: this.currentFilters(),
          refresh_seconds: this.interval,
          make_default: $("view-default").checked,
        });
        this._rememberView(view);
        this._closeViewDialog();
        this._toast(`Saved view “${view.name}”.`);
      } catch (failure) {
        error.textContent = failure.message || "Couldn't save the view.";
        error.hidden = false;
      } finally {
        confirm.disabled = false;
      }
    }

    _rememberView(view) {
      if (view.is_default) {
        for (const other of this.views) {
          other.is_default = false;
        }
      }
      const at = this.views.findIndex((v) => v.id === view.id);
      if (at >= 0) {
        this.views[at] = view;
      } else {
        this.views.push(view);
      }
      this.currentViewId = view.id;
      this._renderViewOptions();
      this._updateViewControls();
    }

    async _makeDefault() {
      const view = this.views.find((v) => v.id === this.currentViewId);
      if (!view) {
        return;
      }
      try {
        const updated = await sendJson(urlFor(this.config.viewUrlTemplate, view.id), "POST", {
          make_default: true,
        });
        this._rememberView(Object.assign({}, view, updated || {}, { is_default: true }));
        this._toast(`“${view.name}” opens by default now.`);
      } catch (failure) {
        this._toast(failure.message || "Couldn't make the view the default.");
      }
    }

    async _deleteView() {
      const view = this.views.find((v) => v.id === this.currentViewId);
      if (!view || !view.mine) {
        return;
      }
      try {
        await sendJson(urlFor(this.config.viewUrlTemplate, view.id), "DELETE");
      } catch (failure) {
        this._toast(failure.message || "Couldn't delete the view.");
        return;
      }
      this.views = this.views.filter((v) => v.id !== view.id);
      this.currentViewId = null;
      this._renderViewOptions();
      this._updateViewControls();
      // Undo re-creates it: the filters on screen are still the view's.
      this._toast(`Deleted view “${view.name}”.`, "Undo", async () => {
        try {
          const restored = await sendJson(this.config.viewsUrl, "POST", {
            name: view.name,
            shared: view.shared,
            filters: view.filters,
            refresh_seconds: view.refresh_seconds,
            make_default: Boolean(view.is_default),
          });
          this._rememberView(restored);
          this._toast(`Restored view “${restored.name}”.`);
        } catch (failure) {
          this._toast(failure.message || "Couldn't restore the view.");
        }
      });
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

  // ---- the virtual list --------------------------------------------------------------------------

  // Renders only the rows in view (fixed row height) from a plate-sorted array that is rebuilt
  // only when vehicles come or go; data-driven refreshes happen at most once per second.
  class VehicleList {
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

  function start() {
    if (!$("map")) {
      return;
    }
    const page = new LiveMapPage(readConfig());
    page.start();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
