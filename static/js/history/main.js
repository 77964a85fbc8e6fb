// The history page: one vehicle's local day. Loads the day's JSON once, then the player drives
// the map marker, the speed chart's cursor, the timeline and the clock from one time.

import { renderEntries, eventLabel } from "./entries.js";
import { clockFormatter, formatDistance, formatDuration, formatSpeed } from "./format.js";
import { HistoryMap } from "./map_layers.js";
import { Player } from "./player.js";
import { SpeedChart } from "./speed_chart.js";
import { Timeline } from "./timeline.js";
import { Track } from "./track.js";

const $ = (id) => document.getElementById(id);

function showState(name, text) {
  for (const state of ["loading", "empty", "error"]) {
    $(`history-${state}`).hidden = state !== name;
  }
  if (name === "error" && text) {
    $("history-error-text").textContent = text;
  }
}

function enablePicker() {
  // The vehicle and day pickers go as soon as they change (the form is their no-JS fallback).
  for (const control of document.querySelectorAll("[data-history-autosubmit]")) {
    control.addEventListener("change", () => {
      if (control.type !== "date" || control.value) {
        control.form.requestSubmit();
      }
    });
  }
}

function fillStats(summary) {
  const values = {
    distance: formatDistance(summary.distanceM),
    moving: formatDuration(summary.movingSeconds),
    idle: formatDuration(summary.idleSeconds),
    stopped: formatDuration(summary.stoppedSeconds),
    trips: `${summary.trips} · ${summary.stops} stops`,
    maxSpeed: `${Math.round(summary.maxSpeedKmh)} km/h`,
  };
  for (const [key, value] of Object.entries(values)) {
    document.querySelector(`[data-stat="${key}"]`).textContent = value;
  }
}

async function loadDay(url) {
  performance.mark("history:fetch-start");
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) {
    throw new Error(`The server answered ${response.status}.`);
  }
  const day = await response.json();
  performance.mark("history:data-loaded");
  return day;
}

function start(config, day) {
  const clock = clockFormatter(config.timezone);
  for (const event of day.events) {
    event.label = eventLabel(event);
  }
  const track = new Track(day.fixes, day.settings.gapSeconds);
  fillStats(day.summary);
  const historyMap = new HistoryMap(window.doorstepMap, config);
  const player = new Player({ start: track.start, end: track.end });
  player.setRate(Number($("history-rate").value));
  const page = { day, track, player, map: historyMap, chart: null, config };
  window.doorstepHistory = page;

  if (!track.length) {
    showState("empty");
    historyMap.loadRoadsLater();
    renderEntries($("history-entries"), $("history-entries-empty"), day, clock, {});
    return page;
  }
  showState(null);
  historyMap.draw(track, day, clock);
  const chart = new SpeedChart($("history-speed-chart"), $("history-chart-cursor"), {
    clock,
    dayStart: day.dayStart,
    onSeek: (t) => player.seek(t),
  });
  const timeline = new Timeline({
    range: $("history-scrub"),
    bands: $("history-bands"),
    onSeek: (t) => player.seek(t),
    onScrubStart: () => player.pause(),
  });
  timeline.draw(track, day, clock);

  const playButton = $("history-play");
  const follow = $("history-follow");
  playButton.disabled = false;
  playButton.addEventListener("click", () => player.toggle());
  $("history-rate").addEventListener("change", (event) => player.setRate(Number(event.target.value)));
  follow.addEventListener("change", () => {
    historyMap.follow = follow.checked;
  });
  // Dragging the map is a wish to look around: stop following until asked again.
  window.doorstepMap.on("dragstart", () => {
    follow.checked = false;
    historyMap.follow = false;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === " " && event.target === document.body) {
      event.preventDefault();
      player.toggle();
    }
  });

  const readout = $("history-readout");
  const clockOut = $("history-clock");
  player.onChange(() => {
    const position = track.positionAt(player.time);
    historyMap.moveTo(position);
    chart.moveCursor(player.time);
    timeline.show(player.time);
    clockOut.textContent = clock.long(day.dayStart + player.time);
    readout.textContent = position.inGap ? "No data" : formatSpeed(Number.isNaN(position.speed) ? null : position.speed);
    playButton.classList.toggle("is-playing", player.playing);
    playButton.setAttribute("aria-label", player.playing ? "Pause" : "Play");
  });
  player.seek(track.start);
  performance.mark("history:ready");
  if (new URLSearchParams(window.location.search).has("autoplay")) {
    player.play();
  }
  // The speed chart and the side list come right after the first frame: the van starts
  // moving first, the rest fills in a frame later (about a tenth of a second).
  requestAnimationFrame(() =>
    setTimeout(() => {
      chart.draw(track, day);
      page.chart = chart;
      chart.moveCursor(player.time);
      renderEntries($("history-entries"), $("history-entries-empty"), day, clock, {
        onSelectSpan: (span) => {
          player.pause();
          player.seek(span.start);
          historyMap.fitSpan(track, span.startIndex, span.endIndex);
        },
        onSelectTime: (t) => {
          player.pause();
          player.seek(t);
        },
      });
      performance.mark("history:complete");
      historyMap.loadRoadsLater();
    }, 0),
  );
  return page;
}

async function boot() {
  enablePicker();
  const config = JSON.parse($("history-config").textContent);
  const retry = $("history-retry");
  const run = async () => {
    showState("loading");
    try {
      start(config, await loadDay(config.dataUrl));
    } catch (error) {
      showState("error", error.message);
    }
  };
  retry.addEventListener("click", run);
  await run();
}

boot();
