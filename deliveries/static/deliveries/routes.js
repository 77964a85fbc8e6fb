// The route editor: let htmx swap the editor's own error answers (400/404/409 carry the reason),
// and draw the hub and the stops, in order, on a small Leaflet map that follows every change.
// An ES module: the map (tiles, vector base layer, scale) comes from the shared map module.
import { createMap } from "../js/maps/base.js";

(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (event.detail.target.id === "route-editor" && [400, 404, 409].indexOf(status) !== -1) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  var map = null;
  var layer = null;

  function points() {
    var data = document.getElementById("route-stop-points");
    return data ? JSON.parse(data.textContent) : [];
  }

  function draw() {
    var element = document.getElementById("route-map");
    if (!element || typeof L === "undefined") return;
    var hub = [parseFloat(element.dataset.hubLat), parseFloat(element.dataset.hubLon)];
    if (!map) {
      map = createMap(element, {
        tileUrl: element.dataset.tileUrl,
        tileAttribution: element.dataset.tileAttribution,
        baseLayerUrl: element.dataset.baseLayerUrl,
        zoomControl: true,
      });
      window.doorstepRouteMap = map; // for browser tests
    }
    if (layer) layer.remove();
    layer = L.layerGroup().addTo(map);
    var line = [hub];
    L.circleMarker(hub, { radius: 8, color: "#1f2937", fillColor: "#1f2937", fillOpacity: 1 })
      .bindTooltip("Hub")
      .addTo(layer);
    points().forEach(function (stop) {
      var at = [stop.lat, stop.lon];
      line.push(at);
      // Colours and shape live in doorstep.css (.route-stop-marker): the CSP allows no inline
      // style attributes, and the sequence goes in as text.
      var label = document.createElement("span");
      label.className = "route-stop-marker__pin" + (stop.done ? " is-done" : stop.late ? " is-late" : "");
      label.textContent = String(stop.sequence);
      L.marker(at, {
        icon: L.divIcon({
          className: "route-stop-marker",
          html: label,
          iconSize: [22, 22],
          iconAnchor: [11, 11],
        }),
        title: stop.sequence + ". " + stop.reference,
      }).addTo(layer);
    });
    L.polyline(line, { color: "#6e56e8", weight: 2, opacity: 0.7, dashArray: "4 4" }).addTo(layer);
    map.fitBounds(L.latLngBounds(line).pad(0.15));
  }

  document.addEventListener("DOMContentLoaded", draw);
  // The editor is swapped with outerHTML, so redraw after any swap rather than match targets.
  document.addEventListener("htmx:afterSwap", draw);
})();
