// Live map, first cut: an empty Leaflet map on #map, centred from its data attributes.
// The live-tracking issue replaces this with tiles, vehicle markers and the websocket feed.
(function () {
  "use strict";

  var element = document.getElementById("map");
  if (!element || !window.L) {
    return;
  }
  var center = (element.dataset.center || "52.3676,4.9041").split(",").map(Number);
  var zoom = Number(element.dataset.zoom || 12);

  var map = L.map(element, { preferCanvas: true }).setView(center, zoom);
  L.control.scale({ imperial: false }).addTo(map);

  // Exposed for debugging and browser tests.
  window.doorstepMap = map;
})();
