// What the map shows of the day: the track, its trips and stops, the delivery and alert
// events, and the vehicle's marker at the playback time (followed when asked).

const EVENT_TONE = {
  arrived: "--delivery-arrived",
  delivered: "--delivery-delivered",
  failed: "--delivery-failed",
  alert: "--severity-warning",
};

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function tooltipText(lines) {
  // An element, not a string: Leaflet inserts a string tooltip as HTML.
  const box = document.createElement("span");
  lines.forEach((line, i) => {
    if (i) {
      box.appendChild(document.createElement("br"));
    }
    box.appendChild(document.createTextNode(line));
  });
  return box;
}

export class HistoryMap {
  constructor(map, config) {
    this.map = map;
    this.follow = true;
    map.attributionControl.setPrefix("");
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, {
        attribution: config.tileAttribution || "",
        maxZoom: 19,
        crossOrigin: true,
      }).addTo(map);
    }
    this.renderer = L.canvas({ padding: 0.5 });
    this.roadsUrl = config.roadsUrl;
    this.layers = L.layerGroup().addTo(map);
    this.marker = null;
  }

  // After the day is drawn and playing: the road network is scenery, the track comes first.
  loadRoadsLater() {
    if (!this.roadsUrl) {
      return;
    }
    const load = () => this._loadRoads(this.roadsUrl);
    if (window.requestIdleCallback) {
      window.requestIdleCallback(load, { timeout: 1000 });
    } else {
      setTimeout(load, 200);
    }
  }

  async _loadRoads(url) {
    // The demo road network, drawn under the track so a map without tiles still reads.
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) {
        return;
      }
      const roads = await response.json();
      const layer = L.geoJSON(roads, {
        renderer: this.renderer,
        interactive: false,
        style: () => ({ color: "#ccd3dc", weight: 2, opacity: 0.9 }),
      });
      layer.addTo(this.map);
      layer.bringToBack();
    } catch (error) {
      // No road layer is fine: the track is what matters.
    }
  }

  draw(track, day, clock) {
    this.layers.clearLayers();
    if (!track.length) {
      return;
    }
    const all = L.polyline(track.latLngs(), {
      renderer: this.renderer,
      color: cssVar("--gray-400"),
      weight: 3,
      opacity: 0.8,
      interactive: false,
    }).addTo(this.layers);
    const moving = cssVar("--status-moving");
    for (const trip of day.trips) {
      L.polyline(track.latLngs(trip.startIndex, trip.endIndex), {
        renderer: this.renderer,
        color: moving,
        weight: 4,
        opacity: 0.9,
        interactive: false,
      }).addTo(this.layers);
    }
    const stopped = cssVar("--status-stopped");
    const idle = cssVar("--status-idle");
    for (const stop of day.stops) {
      L.circleMarker([stop.lat, stop.lon], {
        renderer: this.renderer,
        radius: 7,
        color: "#fff",
        weight: 2,
        fillColor: stop.engineOn ? idle : stopped,
        fillOpacity: 1,
      })
        .bindTooltip(
          tooltipText([
            stop.engineOn ? "Stop, engine running" : "Stop",
            `${clock.short(day.dayStart + stop.start)}–${clock.short(day.dayStart + stop.end)}`,
          ]),
        )
        .addTo(this.layers);
    }
    for (const event of day.events) {
      if (event.lat == null || event.lon == null) {
        continue;
      }
      L.circleMarker([event.lat, event.lon], {
        renderer: this.renderer,
        radius: 6,
        color: "#fff",
        weight: 2,
        fillColor: cssVar(EVENT_TONE[event.kind] || "--gray-500"),
        fillOpacity: 1,
      })
        .bindTooltip(tooltipText([event.label, clock.short(day.dayStart + event.t)]))
        .addTo(this.layers);
    }
    this.marker = L.circleMarker([track.lat[0], track.lon[0]], {
      renderer: this.renderer,
      radius: 9,
      color: "#fff",
      weight: 3,
      fillColor: cssVar("--brand-600"),
      fillOpacity: 1,
      interactive: false,
    }).addTo(this.layers);
    this.map.fitBounds(all.getBounds(), { padding: [40, 40], maxZoom: 16, animate: false });
  }

  moveTo(position) {
    if (!this.marker) {
      return;
    }
    const latLng = [position.lat, position.lon];
    this.marker.setLatLng(latLng);
    if (this.follow) {
      // Pan only when the marker nears the edge: recentring on every frame makes the map swim.
      const inner = this.map.getBounds().pad(-0.25);
      if (!inner.contains(latLng)) {
        this.map.panTo(latLng, { animate: false });
      }
    }
  }

  fitSpan(track, first, last) {
    const bounds = L.latLngBounds(track.latLngs(first, last));
    if (bounds.isValid()) {
      this.map.fitBounds(bounds, { padding: [60, 60], maxZoom: 17 });
    }
  }
}
