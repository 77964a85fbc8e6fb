// The vehicles as the page holds them: one record per vehicle, updated in place, with its
// position pre-projected to Web-Mercator units, and the age fading shared by map and list.

export const STATUSES = ["moving", "idle", "stopped", "offline"];
export const STATUS_LABEL = { moving: "Moving", idle: "Idle", stopped: "Stopped", offline: "Offline" };
// Paint order: quiet vehicles first, moving ones on top.
export const STATUS_RANK = { offline: 0, stopped: 1, idle: 2, moving: 3 };


// Age fading: full colour for a minute, then linearly down to MIN_ALPHA at ten minutes.
export const FRESH_MS = 60 * 1000;
export const FADED_MS = 10 * 60 * 1000;
export const MIN_ALPHA = 0.35;
export const ALPHA_LEVELS = 8;

export const MAX_LATITUDE = 85.0511287798;
export const DEG = Math.PI / 180;

export function ageAlpha(ageMs) {
  if (!(ageMs > FRESH_MS)) {
    return 1; // fresh, or a clock slightly ahead of the server's
  }
  if (ageMs >= FADED_MS) {
    return MIN_ALPHA;
  }
  return 1 - ((1 - MIN_ALPHA) * (ageMs - FRESH_MS)) / (FADED_MS - FRESH_MS);
}

export function alphaLevel(ageMs) {
  return Math.round(((ageAlpha(ageMs) - MIN_ALPHA) / (1 - MIN_ALPHA)) * (ALPHA_LEVELS - 1));
}

export function levelAlpha(level) {
  return MIN_ALPHA + ((1 - MIN_ALPHA) * level) / (ALPHA_LEVELS - 1);
}

// Web Mercator (EPSG:3857) in zoom-independent units: world = [0, 1) x [0, 1), so a container
// point at zoom z is (unit * 256 * 2^z - pixelOrigin). Same numbers as map.project().
export function mercatorX(lon) {
  return 0.5 + lon / 360;
}

export function mercatorY(lat) {
  const clamped = Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, lat));
  const sin = Math.sin(clamped * DEG);
  return 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI);
}

// One vehicle as the contract's `V`, plus what the renderer derives from it once per update.
export class VehicleRecord {
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

export class VehicleStore {
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
