// One map module for every page that draws a Leaflet map (the live map, the route editor, the
// driver app, the public tracking page): the same tile layer, and under it the same vector
// fallback, so a closed network (or a test machine) shows streets instead of plain grey.
//
//   createMap(element, { tileUrl, tileAttribution, baseLayerUrl, ...Leaflet map options })
//
// * tiles when `tileUrl` is set (the CSP's img-src names that host);
// * the vector base layer (GeoJSON lines, `properties.kind` = street / arterial / ring) from
//   `baseLayerUrl`, same-origin, drawn in its own pane under everything else; nothing when empty;
// * without a base layer, a faint metric grid on the neutral background (the public tracking
//   page: it may not call a console endpoint), and a scale either way.
// The element says what it drew: data-map-base = "vector" | "grid" | "none", for tests.
// Leaflet (window.L) must be loaded first; no bundler: pages import this file as an ES module.

export const BASE_PANE = "doorstepBase";
const NICE_STEPS_M = [50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
const EARTH_M_PER_PX_Z0 = 156543.03392; // Web Mercator metres per pixel at the equator, zoom 0
const M_PER_DEG_LAT = 111320;

// Grid spacing for a zoom at a latitude: the nice metric step closest to `targetPx` on screen.
// Pure (node --test imports it).
export function gridSpacing(lat, zoom, targetPx = 120) {
  const metresPerPx = (EARTH_M_PER_PX_Z0 * Math.cos((lat * Math.PI) / 180)) / 2 ** zoom;
  const wanted = metresPerPx * targetPx;
  const metres = NICE_STEPS_M.reduce((best, step) =>
    Math.abs(Math.log(step / wanted)) < Math.abs(Math.log(best / wanted)) ? step : best,
  );
  const cosLat = Math.max(0.01, Math.cos((lat * Math.PI) / 180));
  return { metres, dLat: metres / M_PER_DEG_LAT, dLon: metres / (M_PER_DEG_LAT * cosLat) };
}

// The grid's lines inside a box (south, west, north, east), one step apart, aligned to the step.
export function gridLines(box, spacing) {
  const lines = [];
  const firstLat = Math.ceil(box.south / spacing.dLat) * spacing.dLat;
  for (let lat = firstLat; lat <= box.north && lines.length < 400; lat += spacing.dLat) {
    lines.push([[lat, box.west], [lat, box.east]]);
  }
  const firstLon = Math.ceil(box.west / spacing.dLon) * spacing.dLon;
  for (let lon = firstLon; lon <= box.east && lines.length < 800; lon += spacing.dLon) {
    lines.push([[box.south, lon], [box.north, lon]]);
  }
  return lines;
}

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function roadStyle(feature) {
  const kind = feature && feature.properties && feature.properties.kind;
  const major = kind === "arterial" || kind === "ring" || kind === "primary";
  return {
    color: major ? cssVar("--map-road-major", "#b4bdc9") : cssVar("--map-road", "#ccd3dc"),
    weight: major ? 2.4 : 1.2,
    opacity: 1,
    lineCap: "round",
    lineJoin: "round",
  };
}

// Fetches and draws the vector base layer; resolves to the layer, or null when unavailable.
export async function loadBaseLayer(map, url, renderer) {
  if (!url) {
    return null;
  }
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json, application/json" } });
    if (!response.ok) {
      return null;
    }
    const data = await response.json();
    const layer = L.geoJSON(data, { pane: BASE_PANE, renderer, interactive: false, style: roadStyle }).addTo(map);
    map.getContainer().dataset.mapBase = "vector";
    map.getContainer().dataset.mapBaseFeatures = String(layer.getLayers().length);
    return layer;
  } catch (error) {
    console.warn("map: vector base layer unavailable", error);
    return null;
  }
}

function addGrid(map, renderer) {
  const layer = L.layerGroup().addTo(map);
  const color = cssVar("--map-grid", "#dfe3e9");
  const draw = () => {
    layer.clearLayers();
    const bounds = map.getBounds().pad(0.2);
    const spacing = gridSpacing(map.getCenter().lat, map.getZoom());
    const box = { south: bounds.getSouth(), west: bounds.getWest(), north: bounds.getNorth(), east: bounds.getEast() };
    for (const line of gridLines(box, spacing)) {
      L.polyline(line, { pane: BASE_PANE, renderer, interactive: false, color, weight: 1, opacity: 1 }).addTo(layer);
    }
  };
  map.on("moveend zoomend", draw);
  map.whenReady(draw);
  map.getContainer().dataset.mapBase = "grid";
  return layer;
}

export function createMap(element, options = {}) {
  const { tileUrl, tileAttribution, baseLayerUrl, scale = true, scalePosition = "bottomleft", grid = true, ...leaflet } = options;
  const map = L.map(element, { attributionControl: Boolean(tileUrl), ...leaflet });
  element.classList.add("map-base");
  element.dataset.mapBase = "none";
  if (map.attributionControl) {
    map.attributionControl.setPrefix("");
  }
  // Under the tiles' neighbours but above the background: the tile pane is 200, overlays 400.
  map.createPane(BASE_PANE).style.zIndex = 250;
  map.getPane(BASE_PANE).style.pointerEvents = "none";
  const renderer = L.canvas({ pane: BASE_PANE, padding: 0.5 });
  if (tileUrl) {
    L.tileLayer(tileUrl, { attribution: tileAttribution || "", maxZoom: 19, crossOrigin: true }).addTo(map);
  }
  if (scale) {
    L.control.scale({ imperial: false, position: scalePosition }).addTo(map);
  }
  map.doorstepBase = { renderer, ready: Promise.resolve(null) };
  if (baseLayerUrl) {
    map.doorstepBase.ready = loadBaseLayer(map, baseLayerUrl, renderer).then((layer) => {
      if (!layer && grid) {
        addGrid(map, renderer);
      }
      return layer;
    });
  } else if (grid) {
    addGrid(map, renderer);
  }
  return map;
}
