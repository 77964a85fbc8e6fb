// Alert markers on the live map, and the inbox's "show on map" link. Self-contained: main.js
// only calls startAlertsLayer(window.doorstepMap) once the map is built.
//
// - Active alerts with a position come from /alerts/markers/ (the member's hub scope applies)
//   and follow the alerts socket's events (static/js/alerts/badge.js dispatches them as
//   "doorstep:alert" window events): opened/updated move or add a marker, resolved removes it.
// - ?vehicle=<id>&alert=<id> (kept by url_state.js, which leaves unknown parameters alone):
//   select and centre the vehicle as soon as the feed has it, and ring the alert's marker.
// Text from the server goes into tooltips as DOM text, never as HTML.

const MARKERS_URL = "/alerts/markers/";
const WAIT_FOR_VEHICLE_MS = 30000;
const SEVERITY_VAR = { 30: "--severity-critical", 20: "--severity-warning", 10: "--severity-info" };

function tone(severity) {
  const name = SEVERITY_VAR[severity] || SEVERITY_VAR[10];
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#dc2626";
}

function tooltipContent(alert) {
  const box = document.createElement("div");
  const title = document.createElement("strong");
  title.textContent = alert.title || "Alert";
  const hint = document.createElement("div");
  hint.textContent = "Click for the alert's timeline";
  box.append(title, hint);
  return box;
}

export function startAlertsLayer(debug) {
  const L = window.L;
  const map = debug && debug.map;
  if (!L || !map) return null;
  const params = new URLSearchParams(window.location.search);
  const focusAlert = Number(params.get("alert")) || null;
  const focusVehicle = Number(params.get("vehicle")) || null;
  const layer = L.layerGroup().addTo(map);
  const markers = new Map(); // alert id -> Leaflet circle marker

  function place(alert) {
    const lat = alert.latitude;
    const lon = alert.longitude;
    const active = alert.status === "open" || alert.status === "acknowledged";
    const existing = markers.get(alert.id);
    if (!active || typeof lat !== "number" || typeof lon !== "number") {
      if (existing) {
        layer.removeLayer(existing);
        markers.delete(alert.id);
      }
      return;
    }
    const focused = alert.id === focusAlert;
    const style = {
      radius: focused ? 14 : 9,
      color: focused ? "#111827" : "#ffffff",
      weight: focused ? 3 : 2,
      fillColor: tone(alert.severity),
      fillOpacity: alert.status === "acknowledged" ? 0.55 : 0.95,
    };
    if (existing) {
      existing.setLatLng([lat, lon]);
      existing.setStyle(style);
      return;
    }
    const marker = L.circleMarker([lat, lon], { ...style, pane: "markerPane" });
    marker.bindTooltip(tooltipContent(alert), { direction: "top", offset: [0, -8] });
    marker.on("click", () => window.location.assign(`/alerts/${Number(alert.id)}/`));
    marker.addTo(layer);
    markers.set(alert.id, marker);
  }

  fetch(MARKERS_URL, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : { alerts: [] }))
    .then((data) => {
      for (const alert of data.alerts || []) place(alert);
      const marker = focusAlert && markers.get(focusAlert);
      if (marker && !focusVehicle) map.setView(marker.getLatLng(), Math.max(map.getZoom(), 16));
    })
    .catch(() => {});

  window.addEventListener("doorstep:alert", (event) => place(event.detail.alert));

  if (focusVehicle) {
    // The vehicle arrives with the feed's first snapshot: select it then (select() pans).
    const started = Date.now();
    const timer = setInterval(() => {
      const record = debug.vehicles && debug.vehicles.get(focusVehicle);
      if (record) {
        clearInterval(timer);
        debug.select(focusVehicle);
        map.setView([record.lat, record.lon], Math.max(map.getZoom(), 16));
      } else if (Date.now() - started > WAIT_FOR_VEHICLE_MS) {
        clearInterval(timer);
      }
    }, 250);
  }
  debug.alerts = { markers, place };
  return debug.alerts;
}
