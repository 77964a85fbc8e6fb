// The driver app: stop list and map, stop panels, an offline-first action queue and phone GPS.
//
// Every tap becomes a queued action in IndexedDB (photos and signatures as Blobs) with a UUID
// idempotency key made at the tap. The page updates at once; a sender posts the queue in order
// whenever the phone is online and retries with backoff. An item leaves the queue only after a
// definite answer (2xx, or a 4xx that is shown to the driver); the server stores the answer per
// key, so a retry after a lost answer is never applied twice.
//
// An ES module: the map (tiles, the vector base layer, scale) comes from the shared map module.
import { createMap } from "../js/maps/base.js";

(function () {
  "use strict";

  const root = document.querySelector("[data-driver-app]");
  const configNode = document.getElementById("driver-config");
  if (!root || !configNode) return;
  const config = JSON.parse(configNode.textContent);

  const STATUS_LABELS = {
    created: "Created", assigned: "Assigned", out_for_delivery: "Out for delivery",
    arrived: "Arrived", delivered: "Delivered", failed: "Failed",
    returned_to_hub: "Returned to hub", cancelled: "Cancelled",
  };
  const ACTION_STATUS = { arrive: "arrived", deliver: "delivered", fail: "failed" };
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 30000;
  const FIX_MIN_GAP_MS = 10000; // one stored fix per 10 s is plenty for the live map
  const FIX_BATCH = 200;
  const FIX_QUEUE_MAX = 5000; // about 14 hours of fixes; older ones give way first

  // --- IndexedDB: one database per user and organization, so a shared phone never mixes queues.
  const dbReady = new Promise(function (resolve, reject) {
    const request = indexedDB.open("doorstep-driver-" + config.userKey, 1);
    request.onupgradeneeded = function () {
      request.result.createObjectStore("actions", { keyPath: "seq", autoIncrement: true });
      request.result.createObjectStore("fixes", { keyPath: "seq", autoIncrement: true });
    };
    request.onsuccess = function () { resolve(request.result); };
    request.onerror = function () { reject(request.error); };
  });

  function store(name, mode, work) {
    return dbReady.then(function (db) {
      return new Promise(function (resolve, reject) {
        const transaction = db.transaction(name, mode);
        const result = work(transaction.objectStore(name));
        transaction.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        transaction.onerror = function () { reject(transaction.error); };
        transaction.onabort = function () { reject(transaction.error); };
      });
    });
  }
  const queue = {
    add: function (name, item) { return store(name, "readwrite", function (s) { return s.add(item); }); },
    all: function (name) { return store(name, "readonly", function (s) { return s.getAll(); }); },
    count: function (name) { return store(name, "readonly", function (s) { return s.count(); }); },
    remove: function (name, seqs) {
      return store(name, "readwrite", function (s) { seqs.forEach(function (seq) { s.delete(seq); }); });
    },
  };

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (error) { return ""; }
  }

  // --- Status on screen -----------------------------------------------------------------------
  function setStopStatus(stopId, status, pending) {
    document.querySelectorAll('[data-stop-status="' + stopId + '"]').forEach(function (badge) {
      badge.className = "badge delivery-" + (status === "returned_to_hub" ? "returned" : status);
      badge.textContent = (STATUS_LABELS[status] || status) + (pending ? " · waiting to send" : "");
      badge.dataset.pending = pending ? "true" : "false";
    });
    document.querySelectorAll('[data-stop-seq="' + stopId + '"]').forEach(function (seq) {
      seq.className = "driver-seq delivery-" + (status === "returned_to_hub" ? "returned" : status);
    });
    const panel = document.getElementById("stop-" + stopId);
    if (panel) {
      panel.dataset.orderStatus = status;
      showActions(panel);
    }
    const row = document.querySelector('[data-stop-row="' + stopId + '"]');
    if (row) row.classList.toggle("is-done", ["delivered", "failed", "returned_to_hub", "cancelled"].includes(status));
    map.update(stopId, status);
  }

  function showActions(panel) {
    const status = panel.dataset.orderStatus;
    panel.querySelectorAll("[data-actions] [data-when]").forEach(function (node) {
      node.hidden = !node.dataset.when.split(" ").includes(status);
    });
    panel.querySelectorAll("[data-form]").forEach(function (form) {
      if (status !== "arrived") form.hidden = true;
    });
  }

  function showProblem(text) {
    const box = root.querySelector("[data-problem]");
    box.textContent = text;
    box.hidden = !text;
  }

  async function renderSync(note) {
    const waiting = await queue.count("actions");
    const text = root.querySelector("[data-sync-text]");
    root.querySelector("[data-sync]").dataset.state = waiting ? "waiting" : "sent";
    if (waiting) {
      text.textContent = waiting + " action" + (waiting === 1 ? "" : "s") + " waiting to send" + (note ? " · " + note : "");
    } else {
      text.textContent = navigator.onLine ? "All sent" : "All sent · offline";
    }
  }

  // --- Views: the list and one stop at a time (by #stop-<id>), so it all works offline. -----
  function route() {
    const match = location.hash.match(/^#stop-(\d+)$/);
    const single = root.querySelectorAll('[data-view="stop"]').length === 1 && !root.querySelector('[data-view="list"]');
    root.querySelectorAll("[data-view]").forEach(function (view) {
      if (view.dataset.view === "list") view.hidden = Boolean(match);
      else view.hidden = !single && !(match && view.id === "stop-" + match[1]);
    });
    if (!match) map.resize();
    window.scrollTo(0, 0);
  }

  // Leaflet reads a string tooltip as HTML; names come from the database, so give it an element.
  function textNode(text) {
    const span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  // --- Map: stops as numbered vector pins over tiles, or the vector base layer without them. --
  const map = (function () {
    const node = document.getElementById("driver-map");
    const pins = {};
    let leaflet = null;
    function icon(stop, status) {
      const tone = status === "returned_to_hub" ? "returned" : status;
      const label = document.createElement("span");
      label.textContent = String(stop.sequence);
      return L.divIcon({
        className: "driver-pin delivery-" + tone,
        html: label,
        iconSize: [28, 28],
        iconAnchor: [14, 14],
      });
    }
    function init() {
      if (!node || typeof L === "undefined") return;
      const located = config.stops.filter(function (s) { return s.lat !== null && s.lon !== null; });
      const points = located.map(function (s) { return [s.lat, s.lon]; });
      if (config.hub) points.unshift([config.hub.lat, config.hub.lon]);
      if (!points.length) { node.hidden = true; return; }
      leaflet = createMap(node, {
        tileUrl: node.dataset.tileUrl,
        tileAttribution: node.dataset.tileAttribution,
        baseLayerUrl: node.dataset.baseLayerUrl,
        zoomControl: true,
      });
      window.doorstepDriverMap = leaflet; // for browser tests
      if (config.hub) {
        L.circleMarker([config.hub.lat, config.hub.lon], { radius: 7, color: "#0f172a", fillColor: "#fff", fillOpacity: 1, weight: 3 })
          .addTo(leaflet).bindTooltip(textNode("Hub " + config.hub.name));
      }
      L.polyline(points, { color: "#2563eb", weight: 3, opacity: 0.5, dashArray: "6 6" }).addTo(leaflet);
      located.forEach(function (stop) {
        pins[stop.id] = { stop: stop, marker: L.marker([stop.lat, stop.lon], { icon: icon(stop, stop.status), keyboard: false })
          .addTo(leaflet).on("click", function () { location.hash = "stop-" + stop.id; }) };
      });
      leaflet.fitBounds(L.latLngBounds(points).pad(0.15));
    }
    return {
      init: init,
      update: function (stopId, status) {
        const pin = pins[stopId];
        if (pin) pin.marker.setIcon(icon(pin.stop, status));
      },
      resize: function () { if (leaflet) setTimeout(function () { leaflet.invalidateSize(); }, 0); },
    };
  })();

  // --- Phone position: the last fix stamps actions; while the route runs, fixes are queued. --
  let lastFix = null;
  let lastStoredAt = 0;
  let watching = null;
  let routeActive = Boolean(config.routeActive);

  function onPosition(position) {
    lastFix = position;
    if (!routeActive || !config.phone) return;
    if (position.timestamp - lastStoredAt < FIX_MIN_GAP_MS) return;
    lastStoredAt = position.timestamp;
    const c = position.coords;
    queue.add("fixes", {
      device_id: config.phone.identifier,
      timestamp: new Date(position.timestamp).toISOString(),
      lat: c.latitude,
      lon: c.longitude,
      accuracy_m: c.accuracy,
      speed_kmh: c.speed === null || c.speed === undefined ? null : c.speed * 3.6,
      heading: c.heading === null || Number.isNaN(c.heading) ? null : c.heading,
      altitude_m: c.altitude,
      attributes: { source: "driver_app" },
    });
  }

  function watchPosition() {
    if (watching !== null || !navigator.geolocation) return;
    watching = navigator.geolocation.watchPosition(onPosition, function () {}, {
      enableHighAccuracy: true, maximumAge: 15000, timeout: 30000,
    });
  }

  function geoStamp() {
    if (!lastFix) return {};
    return {
      latitude: lastFix.coords.latitude,
      longitude: lastFix.coords.longitude,
      accuracy_m: lastFix.coords.accuracy,
    };
  }

  let fixTimer = null;
  async function flushFixes() {
    if (!config.phone || !navigator.onLine) return;
    const items = (await queue.all("fixes"));
    if (items.length > FIX_QUEUE_MAX) {
      await queue.remove("fixes", items.slice(0, items.length - FIX_QUEUE_MAX).map(function (i) { return i.seq; }));
    }
    const batch = items.slice(-FIX_QUEUE_MAX).slice(0, FIX_BATCH);
    if (!batch.length) return;
    try {
      const response = await fetch(config.batchUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + config.phone.token },
        body: JSON.stringify({ fixes: batch.map(function (item) { const copy = Object.assign({}, item); delete copy.seq; return copy; }) }),
        credentials: "omit",
      });
      // 401 can be a freshly rotated token the ingest directory has not reloaded yet: keep them.
      if (response.ok || response.status === 400 || response.status === 413) {
        await queue.remove("fixes", batch.map(function (item) { return item.seq; }));
      }
    } catch (error) { /* offline: the next tick retries */ }
  }

  // --- The action queue -----------------------------------------------------------------------
  async function enqueue(kind, fields, files) {
    const item = {
      key: uuid(),
      kind: kind,
      fields: Object.assign({ kind: kind, captured_at: new Date().toISOString() }, geoStamp(), fields),
      files: files || {},
      createdAt: Date.now(),
    };
    await queue.add("actions", item);
    if (fields.stop_id && ACTION_STATUS[kind]) setStopStatus(fields.stop_id, ACTION_STATUS[kind], true);
    await renderSync();
    sender.kick();
    return item;
  }

  function formData(item) {
    const data = new FormData();
    Object.keys(item.fields).forEach(function (name) {
      const value = item.fields[name];
      if (value !== null && value !== undefined && value !== "") data.append(name, value);
    });
    Object.keys(item.files).forEach(function (name) {
      const blob = item.files[name];
      if (blob) data.append(name, blob, name + (blob.type === "image/png" ? ".png" : ".jpg"));
    });
    return data;
  }

  const sender = (function () {
    let sending = false;
    let delay = RETRY_MIN_MS;
    let timer = null;

    function later(note) {
      clearTimeout(timer);
      timer = setTimeout(flush, delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
      renderSync(note);
    }

    async function flush() {
      if (sending) return;
      sending = true;
      clearTimeout(timer);
      try {
        for (;;) {
          const items = await queue.all("actions");
          if (!items.length) break;
          const item = items[0];
          let response;
          try {
            response = await fetch(config.actionsUrl, {
              method: "POST",
              headers: { "Idempotency-Key": item.key, "X-CSRFToken": csrfToken(), Accept: "application/json" },
              body: formData(item),
              credentials: "same-origin",
              redirect: "manual",
            });
          } catch (error) {
            return later(navigator.onLine ? "retrying" : "offline");
          }
          if (response.status === 401 || response.status === 403) {
            showProblem("Sign in again to send your actions; they stay on this phone until then.");
            return later("sign in again");
          }
          if (!(response.status >= 200 && response.status < 500) || response.type === "opaqueredirect") {
            return later("server busy, retrying");
          }
          let body = {};
          try { body = await response.json(); } catch (error) { body = {}; }
          await queue.remove("actions", [item.seq]);
          delay = RETRY_MIN_MS;
          settle(item, response.ok, body);
        }
      } finally {
        sending = false;
        await renderSync();
      }
    }

    return { flush: flush, kick: function () { delay = RETRY_MIN_MS; flush(); } };
  })();

  function settle(item, ok, body) {
    const stopId = item.fields.stop_id;
    if (ok) {
      if (stopId && body.order_status) setStopStatus(stopId, body.order_status, false);
      if (item.kind === "start") markRouteStarted(item.fields.route_id, body.route_status);
      return;
    }
    showProblem((body.detail || "The server refused this action.") + " (" + describe(item) + ")");
    if (stopId && body.order_status) setStopStatus(stopId, body.order_status, false);
  }

  function describe(item) {
    const stop = config.stops.find(function (s) { return String(s.id) === String(item.fields.stop_id); });
    const names = { start: "start route", arrive: "arrival", deliver: "delivery", fail: "failed delivery" };
    return (names[item.kind] || item.kind) + (stop ? " at stop " + stop.sequence : "");
  }

  function markRouteStarted(routeId, status) {
    routeActive = true;
    watchPosition();
    document.querySelectorAll('[data-start-route="' + routeId + '"]').forEach(function (b) { b.hidden = true; });
    document.querySelectorAll('[data-route-status="' + routeId + '"]').forEach(function (badge) {
      const done = status === "completed";
      badge.textContent = done ? "Completed" : "In progress";
      badge.className = "badge " + (done ? "delivery-delivered" : "delivery-arrived"); // as ROUTE_STATUS_TONES
    });
  }

  // Pending actions survive a reload: show what they will do as soon as the page is back.
  async function replayPending() {
    const items = await queue.all("actions");
    items.forEach(function (item) {
      const stopId = item.fields.stop_id;
      if (stopId && ACTION_STATUS[item.kind]) setStopStatus(stopId, ACTION_STATUS[item.kind], true);
      if (item.kind === "start") markRouteStarted(item.fields.route_id, "in_progress");
    });
  }

  // --- Signature pad ----------------------------------------------------------------------------
  function signaturePad(canvas) {
    const context = canvas.getContext("2d");
    let drawing = false;
    let inked = false;
    function point(event) {
      const box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left) * (canvas.width / box.width), (event.clientY - box.top) * (canvas.height / box.height)];
    }
    function clear() {
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.lineWidth = 3;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.strokeStyle = "#0f172a";
      inked = false;
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      const [x, y] = point(event);
      context.beginPath();
      context.moveTo(x, y);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      const [x, y] = point(event);
      context.lineTo(x, y);
      context.stroke();
      inked = true;
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      canvas.addEventListener(name, function () { drawing = false; });
    });
    clear();
    return {
      clear: clear,
      blob: function () {
        if (!inked) return Promise.resolve(null);
        return new Promise(function (resolve) { canvas.toBlob(resolve, "image/png"); });
      },
    };
  }

  // A phone camera's JPEG is often 4-8 MB: shrink it before it waits in the queue on 3G.
  async function shrinkPhoto(file) {
    if (!file) return null;
    try {
      const bitmap = await createImageBitmap(file);
      const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.85); });
      return blob || file;
    } catch (error) {
      return file; // not decodable here: let the server say what is wrong with it
    }
  }

  // --- Wiring -----------------------------------------------------------------------------------
  // iOS has no handler for geo: links; Apple Maps takes the same destination.
  function appleMapsLink(link) {
    if (!link || !/iPhone|iPad|iPod/.test(navigator.userAgent)) return;
    const match = link.getAttribute("href").match(/^geo:([^?]*)\?q=(.*)$/);
    if (match) link.href = "https://maps.apple.com/?daddr=" + (match[1] === "0,0" ? match[2] : match[1]);
  }

  function wirePanel(panel) {
    const stopId = panel.dataset.stop;
    appleMapsLink(panel.querySelector('[data-testid="navigate"]'));
    const pad = signaturePad(panel.querySelector("[data-signature]"));
    showActions(panel);
    panel.querySelector('[data-act="arrive"]').addEventListener("click", function () {
      enqueue("arrive", { stop_id: stopId });
    });
    panel.querySelectorAll("[data-open]").forEach(function (button) {
      button.addEventListener("click", function () {
        panel.querySelectorAll("[data-form]").forEach(function (form) {
          form.hidden = form.dataset.form !== button.dataset.open;
        });
      });
    });
    panel.querySelectorAll("[data-close]").forEach(function (button) {
      button.addEventListener("click", function () { button.closest("form").hidden = true; });
    });
    panel.querySelector("[data-signature-clear]").addEventListener("click", pad.clear);
    const photoInput = panel.querySelector('input[name="photo"]');
    const preview = panel.querySelector("[data-photo-preview]");
    photoInput.addEventListener("change", function () {
      const file = photoInput.files[0];
      preview.hidden = !file;
      if (file) preview.src = URL.createObjectURL(file);
    });

    panel.querySelector('[data-form="deliver"]').addEventListener("submit", async function (event) {
      event.preventDefault();
      const form = event.target;
      const [photo, signature] = await Promise.all([shrinkPhoto(photoInput.files[0]), pad.blob()]);
      await enqueue("deliver", {
        stop_id: stopId,
        recipient_name: form.elements.recipient_name.value.trim(),
        notes: form.elements.notes.value.trim(),
      }, { photo: photo, signature: signature });
      form.reset();
      pad.clear();
      preview.hidden = true;
      form.hidden = true;
      if (!root.querySelector('[data-view="list"]')) return;
      location.hash = "";
    });

    panel.querySelector('[data-form="fail"]').addEventListener("change", function (event) {
      if (event.target.name === "reason_code") event.currentTarget.querySelector("[data-form-error]").hidden = true;
    });
    panel.querySelector('[data-form="fail"]').addEventListener("submit", async function (event) {
      event.preventDefault();
      const form = event.target;
      const reason = form.querySelector('input[name="reason_code"]:checked');
      const error = form.querySelector("[data-form-error]");
      if (!reason) {
        error.textContent = "Pick a reason.";
        error.hidden = false;
        return;
      }
      error.hidden = true;
      await enqueue("fail", { stop_id: stopId, reason_code: reason.value, notes: form.elements.notes.value.trim() });
      form.reset();
      form.hidden = true;
      if (root.querySelector('[data-view="list"]')) location.hash = "";
    });
  }

  root.querySelectorAll('[data-view="stop"]').forEach(wirePanel);
  root.querySelectorAll("[data-start-route]").forEach(function (button) {
    button.addEventListener("click", function () {
      enqueue("start", { route_id: button.dataset.startRoute });
      markRouteStarted(button.dataset.startRoute, "in_progress");
    });
  });
  root.addEventListener("click", function (event) {
    const back = event.target.closest(".driver-back");
    if (back && back.getAttribute("href") === "#") {
      event.preventDefault();
      history.pushState(null, "", location.pathname + location.search);
      route();
    }
  });

  window.addEventListener("hashchange", route);
  window.addEventListener("online", function () { sender.kick(); flushFixes(); });
  window.addEventListener("offline", function () { renderSync(); });

  map.init();
  route();
  replayPending().then(function () { renderSync(); sender.flush(); });
  // Stamps need a position even before the route starts; the fixes are only sent while it runs.
  if (config.stops.length) watchPosition();
  fixTimer = setInterval(flushFixes, 15000);
  setInterval(function () { if (navigator.onLine) sender.flush(); }, 20000);
})();
