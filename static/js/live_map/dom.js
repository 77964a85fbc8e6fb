// Reading the page: elements by id, CSS custom properties, the map-config JSON.

export function $(id) {
  return document.getElementById(id);
}

// A json_script element's value, or null.
function readJson(id) {
  const script = $(id);
  try {
    return script ? JSON.parse(script.textContent || "null") : null;
  } catch (error) {
    return null;
  }
}

// The map-config JSON (docs/live-map.md); the organization's time zone comes from the map-timezone
// JSON when the config has no `timeZone`.
export function readConfig() {
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
  const merged = Object.assign(defaults, config);
  if (!merged.timeZone) {
    merged.timeZone = readJson("map-timezone") || "";
  }
  return merged;
}

export function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}
