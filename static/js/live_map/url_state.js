// The screen in the query string: filters, refresh interval and saved view, so that a reload or a
// shared link opens the same map. Pure (no DOM): node --test imports it.
//
//   ?view=3&status=moving,idle&hubs=2,5&zone=11&stale=10&tags=cold,ev&q=gt-5&every=5
//   &area=4.88,52.37;4.91,52.37;4.90,52.35   (a drawn polygon's corners, lon,lat; ring closed)

import { STATUSES } from "./vehicles.js";

const LIST_KEYS = ["status", "hubs", "tags"];
const KEYS = ["view", "status", "hubs", "zone", "area", "stale", "tags", "q", "every"];

// An id as the config spells it: a number when it reads as one, else the string.
function idValue(text) {
  return /^\d+$/.test(text) ? Number(text) : text;
}

function areaText(polygon) {
  const ring = polygon.coordinates[0].slice(0, -1); // the closing corner repeats the first
  return ring.map(([lon, lat]) => `${lon},${lat}`).join(";");
}

function areaPolygon(text) {
  const ring = [];
  for (const pair of text.split(";")) {
    const [lon, lat] = pair.split(",").map(Number);
    if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      return null;
    }
    ring.push([lon, lat]);
  }
  if (ring.length < 3) {
    return null;
  }
  ring.push(ring[0].slice());
  return { type: "Polygon", coordinates: [ring] };
}

// filters: the contract's F (as currentFilters() builds it); interval in seconds; viewId or null.
// Returns "" or "?...", ready for history.replaceState.
export function screenToQuery(filters, interval, viewId, defaultInterval) {
  const params = new URLSearchParams();
  const f = filters || {};
  if (viewId !== null && viewId !== undefined) {
    params.set("view", String(viewId));
  }
  for (const key of ["status", "hubs"]) {
    if (Array.isArray(f[key]) && f[key].length) {
      params.set(key, f[key].join(","));
    }
  }
  if (f.polygon && f.polygon.type === "Polygon") {
    params.set("area", areaText(f.polygon));
  } else if (f.zone !== undefined && f.zone !== null && f.zone !== "") {
    params.set("zone", String(f.zone));
  }
  if (f.stale_minutes) {
    params.set("stale", String(f.stale_minutes));
  }
  if (Array.isArray(f.tags) && f.tags.length) {
    // Tags are free text: one parameter each, so a comma in a tag survives.
    for (const tag of f.tags) {
      params.append("tags", tag);
    }
  }
  if (typeof f.q === "string" && f.q) {
    params.set("q", f.q);
  }
  // With a view, the interval is always written: its presence says the query holds the whole
  // screen (even filters cleared since), not just "open this view".
  const withView = params.has("view");
  if (interval !== undefined && interval !== null && (withView || Number(interval) !== defaultInterval)) {
    params.set("every", String(interval));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

// The reverse: { filters, interval (or null), viewId (or null), present } from location.search.
// `present` is false when the query says nothing about the screen (the default view applies);
// `interval` is null when the query leaves it (and, with a view, the filters) to the view.
export function queryToScreen(search) {
  const params = new URLSearchParams(search || "");
  const present = KEYS.some((key) => params.has(key));
  const filters = {};
  for (const key of LIST_KEYS) {
    const values =
      key === "tags" ? params.getAll("tags") : (params.get(key) || "").split(",");
    const clean = values.map((v) => v.trim()).filter(Boolean);
    const known = key === "status" ? STATUSES.filter((s) => clean.includes(s)) : clean;
    if (known.length) {
      filters[key] = key === "hubs" ? known.map(idValue) : known;
    }
  }
  const area = params.get("area");
  const polygon = area ? areaPolygon(area) : null;
  if (polygon) {
    filters.polygon = polygon;
  } else if (params.get("zone")) {
    filters.zone = idValue(params.get("zone"));
  }
  const stale = Number(params.get("stale"));
  if (Number.isInteger(stale) && stale > 0) {
    filters.stale_minutes = stale;
  }
  const q = (params.get("q") || "").trim();
  if (q) {
    filters.q = q;
  }
  const every = params.get("every");
  const interval = every !== null && every !== "" && Number.isFinite(Number(every)) ? Number(every) : null;
  const view = params.get("view");
  return { filters, interval, viewId: view ? idValue(view) : null, present };
}

// The page's own URL with this query, keeping any parameter that is not the screen's.
export function withScreenQuery(search, query) {
  const ours = new URLSearchParams(query);
  const others = new URLSearchParams(search || "");
  for (const key of KEYS) {
    others.delete(key);
  }
  for (const [key, value] of others) {
    ours.append(key, value);
  }
  const text = ours.toString();
  return text ? `?${text}` : "";
}
