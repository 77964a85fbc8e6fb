// A synthetic fleet for the live-map benchmark and UI test: deterministic, and every frame is
// shaped exactly like the websocket's (docs/live-map.md), so the page code cannot tell the
// difference. Also the timing loop shared by the Doorstep page and the Leaflet baseline page.
(function () {
  "use strict";

  // mulberry32: small, fast, seedable.
  function rng(seed) {
    let state = seed >>> 0;
    return function () {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const FIRST = ["Anna", "Bram", "Chloé", "Daan", "Emma", "Finn", "Guus", "Hanna", "Isa", "Jesse",
    "Lotte", "Milan", "Noor", "Olaf", "Sanne", "Tim", "Vera", "Yara", "Zoë", "Luuk", "Mehmet",
    "Fatima", "Priya", "Jonas", "Sofia"];
  const LAST = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
    "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Brouwer", "van Dijk", "Yilmaz", "El Amrani"];
  const LETTERS = "BDFGHJKLNPRSTVXZ";
  const TAGS = ["cold", "express", "bulky", "ev", "pharma"];
  const M_PER_DEG = 111320;

  function pick(random, list) {
    return list[Math.floor(random() * list.length)];
  }

  function plateFor(random) {
    const l = () => LETTERS[Math.floor(random() * LETTERS.length)];
    return `${l()}${l()}-${String(Math.floor(random() * 1000)).padStart(3, "0")}-${l()}`;
  }

  function makeFleet({ count, hubs, seed = 7, now = Date.now(), spreadM = 5000 }) {
    const random = rng(seed);
    const fleet = [];
    for (let i = 0; i < count; i++) {
      const hub = hubs[i % hubs.length];
      const distance = Math.sqrt(random()) * spreadM;
      const angle = random() * Math.PI * 2;
      const lat = hub.lat + (Math.cos(angle) * distance) / M_PER_DEG;
      const lon = hub.lon + (Math.sin(angle) * distance) / (M_PER_DEG * Math.cos((lat * Math.PI) / 180));
      const roll = random();
      const status = roll < 0.56 ? "moving" : roll < 0.7 ? "idle" : roll < 0.9 ? "stopped" : "offline";
      let ageMs = random() * 8000;
      if (status === "stopped") {
        ageMs = random() < 0.5 ? random() * 60000 : 60000 + random() * 540000;
      } else if (status === "offline") {
        ageMs = 11 * 60000 + random() * 80 * 60000;
      }
      const tags = [];
      if (random() < 0.25) tags.push(pick(random, TAGS));
      if (random() < 0.08) tags.push(pick(random, TAGS));
      fleet.push({
        id: i + 1,
        plate: plateFor(random),
        name: `Van ${i + 1}`,
        hub_id: hub.id,
        hub: hub.name,
        driver: random() < 0.04 ? "" : `${pick(random, FIRST)} ${pick(random, LAST)}`,
        device: `trk-${String(100000 + i)}`,
        tags: [...new Set(tags)],
        homeLat: hub.lat,
        homeLon: hub.lon,
        lat,
        lon,
        speed_kmh: status === "moving" ? 12 + random() * 38 : 0,
        heading: random() * 360,
        status,
        fixMs: now - ageMs,
        battery_pct: Math.round(20 + random() * 80),
      });
    }
    return fleet;
  }

  // Advance the fleet: moving vehicles drive on, the rest jitter like real GPS fixes do.
  function step(fleet, seconds, now, random) {
    const r = random || Math.random;
    for (const v of fleet) {
      if (v.status === "offline") {
        continue; // an offline vehicle reports nothing new
      }
      if (v.status === "moving") {
        v.heading = (v.heading + (r() - 0.5) * 30 + 360) % 360;
        const fromHomeM = Math.hypot(
          (v.lat - v.homeLat) * M_PER_DEG,
          (v.lon - v.homeLon) * M_PER_DEG * Math.cos((v.lat * Math.PI) / 180),
        );
        if (fromHomeM > 6000) {
          const back = Math.atan2(v.homeLon - v.lon, v.homeLat - v.lat) * (180 / Math.PI);
          v.heading = (back + 360) % 360;
        }
        v.speed_kmh = Math.max(5, Math.min(60, v.speed_kmh + (r() - 0.5) * 6));
        const d = (v.speed_kmh / 3.6) * seconds;
        const h = (v.heading * Math.PI) / 180;
        v.lat += (Math.cos(h) * d) / M_PER_DEG;
        v.lon += (Math.sin(h) * d) / (M_PER_DEG * Math.cos((v.lat * Math.PI) / 180));
        v.fixMs = now;
      } else {
        v.lat += ((r() - 0.5) * 4) / M_PER_DEG;
        v.lon += ((r() - 0.5) * 4) / M_PER_DEG;
        if (v.status === "idle" || r() < 0.3) {
          v.fixMs = now;
        }
      }
      if (r() < 0.004) {
        v.status = v.status === "moving" ? "idle" : v.status === "idle" ? "moving" : v.status;
      }
    }
  }

  function toV(v) {
    return {
      id: v.id,
      plate: v.plate,
      name: v.name,
      hub_id: v.hub_id,
      hub: v.hub,
      driver: v.driver,
      device: v.device,
      tags: v.tags,
      lat: v.lat,
      lon: v.lon,
      speed_kmh: Math.round(v.speed_kmh * 10) / 10,
      heading: Math.round(v.heading),
      status: v.status,
      fix_time: new Date(v.fixMs).toISOString(),
      battery_pct: v.battery_pct,
    };
  }

  function snapshot(fleet, now) {
    return { type: "snapshot", vehicles: fleet.map(toV), server_time: new Date(now).toISOString() };
  }

  function update(fleet, now, removed) {
    return {
      type: "update",
      vehicles: fleet.map(toV),
      removed: removed || [],
      server_time: new Date(now).toISOString(),
    };
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())));

  // Apply one update frame per second for `seconds` seconds. `apply(frame)` applies it and
  // returns a promise of the time the result was painted (and, optionally, extra numbers).
  async function timeFrames({ hubs, count, seconds, apply, applySnapshot }) {
    const random = rng(99);
    const fleet = makeFleet({ count, hubs });
    await applySnapshot(snapshot(fleet, Date.now()));
    await sleep(1000);
    const samples = [];
    const started = performance.now();
    for (let k = 1; k <= seconds; k++) {
      const now = Date.now();
      step(fleet, 1, now, random);
      const frame = update(fleet, now); // built outside the timed window
      await sleep(started + k * 1000 - performance.now());
      samples.push(await apply(frame));
    }
    return samples;
  }

  // How long the socket's JSON.parse of one such frame takes (paid identically by any client).
  function parseCost(count, hubs) {
    const fleet = makeFleet({ count, hubs });
    const text = JSON.stringify(update(fleet, Date.now()));
    const t0 = performance.now();
    JSON.parse(text);
    return { ms: performance.now() - t0, bytes: text.length };
  }

  window.benchFrames = { rng, makeFleet, step, snapshot, update, timeFrames, nextFrame, sleep, parseCost };
})();
