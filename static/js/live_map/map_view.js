// The Leaflet map: base layers (roads, zones, hubs), the vehicle layer, hover and clicks, and
// the area drawing tool (mixed into the page).

import { createMap } from "../maps/base.js";
import { $, cssVar } from "./dom.js";
import { formatAge, formatSpeed } from "./format.js";
import { VehicleLayer } from "./vehicle_layer.js";
import { STATUS_LABEL } from "./vehicles.js";

export const ZONE_LABEL_MIN_WIDTH_PX = 160;

export class MapMethods {
  _buildMap() {
    const config = this.config;
    // Tiles, the vector base layer (roads) and the scale: the module every map page shares.
    const map = createMap($("map"), {
      tileUrl: config.tileUrl,
      tileAttribution: config.tileAttribution,
      baseLayerUrl: config.roadsUrl,
      scalePosition: "bottomright",
      center: config.center,
      zoom: config.zoom,
      zoomControl: false,
      preferCanvas: true,
      attributionControl: true,
      minZoom: 3,
      maxZoom: 19,
    });
    L.control.zoom({ position: "topright" }).addTo(map);
    this.map = map;

    // Zones and hubs above the base layer; vehicles above everything.
    const baseRenderer = L.canvas({ padding: 0.5 });
    map.createPane("vehiclesPane").style.zIndex = 450;
    map.getPane("vehiclesPane").style.pointerEvents = "none";

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
}
