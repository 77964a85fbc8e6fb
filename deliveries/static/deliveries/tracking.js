// The customer's tracking page: draws the vehicle and the destination when the page shows them,
// and polls status.json. Small changes (the ETA, the vehicle moving) are patched in place; a
// change of what the page shows (status, stops ahead, map, proof) reloads it, so the server's
// template stays the one place that decides what the customer sees.
//
// The map comes from the shared map module. The page is public, so it asks for no base layer
// (that endpoint is the organization's members'): without tiles it shows the two places and the
// line between them on a neutral background with a metric grid and a scale.
import { createMap } from "../js/maps/base.js";

(function () {
  "use strict";

  var root = document.querySelector("[data-tracking]");
  var configElement = document.getElementById("tracking-config");
  if (!root || !configElement) {
    return;
  }
  var config = JSON.parse(configElement.textContent);
  var vehicleMarker = null;
  var approachLine = null;

  function drawMap() {
    var element = document.getElementById("tracking-map");
    if (!element || !window.L || !config.vehicle || !config.destination) {
      return;
    }
    var map = createMap(element, {
      tileUrl: config.tileUrl,
      tileAttribution: config.tileAttribution,
      baseLayerUrl: "",
      zoomControl: true,
    });
    var styles = getComputedStyle(document.documentElement);
    var home = [config.destination.lat, config.destination.lon];
    var vehicle = [config.vehicle.lat, config.vehicle.lon];
    L.circleMarker(home, {
      radius: 9, weight: 3, color: "#fff", fillOpacity: 1,
      fillColor: styles.getPropertyValue("--brand-600").trim() || "#5a43d6",
    }).bindTooltip("Your address", { permanent: true, direction: "top", offset: [0, -8] }).addTo(map);
    approachLine = L.polyline([vehicle, home], {
      color: styles.getPropertyValue("--brand-500").trim() || "#6e56e8",
      weight: 3, opacity: 0.6, dashArray: "6 6", interactive: false,
    }).addTo(map);
    vehicleMarker = L.circleMarker(vehicle, {
      radius: 10, weight: 3, color: "#fff", fillOpacity: 1,
      fillColor: styles.getPropertyValue("--status-moving").trim() || "#16a34a",
    }).bindTooltip("Driver", { permanent: true, direction: "bottom", offset: [0, 8] }).addTo(map);
    map.fitBounds(L.latLngBounds([home, vehicle]), { padding: [48, 48], maxZoom: 16 });
    window.doorstepTrackingMap = map; // for browser tests
  }

  function setText(field, value) {
    var element = root.querySelector('[data-field="' + field + '"]');
    if (element && value !== null && value !== undefined) {
      element.textContent = String(value);
    }
  }

  function shapeChanged(data) {
    return (
      data.status !== root.dataset.status ||
      (data.vehicle ? "1" : "0") !== root.dataset.vehicle ||
      (data.proof ? "1" : "0") !== root.dataset.proof ||
      Boolean(data.eta_window) !== Boolean(root.querySelector('[data-field="eta_window"]')) ||
      String(data.stops_before === null ? "" : data.stops_before) !== root.dataset.stops
    );
  }

  function apply(data) {
    if (shapeChanged(data)) {
      window.location.reload();
      return;
    }
    setText("eta_window", data.eta_window);
    setText("updated", data.updated);
    if (vehicleMarker && data.vehicle) {
      vehicleMarker.setLatLng([data.vehicle.lat, data.vehicle.lon]);
      if (approachLine) {
        approachLine.setLatLngs([[data.vehicle.lat, data.vehicle.lon], [config.destination.lat, config.destination.lon]]);
      }
    }
  }

  function poll() {
    var delay = config.pollSeconds * 1000;
    fetch(config.statusUrl, { cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (response.status === 429) {
          delay = Math.max(delay, Number(response.headers.get("Retry-After") || 60) * 1000);
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) {
          apply(data);
        }
      })
      .catch(function () {
        // Offline for a moment: the next poll tries again.
      })
      .finally(function () {
        window.setTimeout(poll, delay);
      });
  }

  drawMap();
  if (root.dataset.final !== "1") {
    window.setTimeout(poll, config.pollSeconds * 1000);
  }
})();
