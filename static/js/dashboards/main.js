// The dashboard's trend charts (Chart.js, served from static/vendor). The numbers come from
// the page's json_script document; the tiles and tables are server-rendered HTML already.
import { dayLabel, deliveriesDatasets, hasValues, timeDatasets } from "./series.js";

const Chart = window.Chart;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function tones() {
  return {
    delivered: cssVar("--delivery-delivered"),
    failed: cssVar("--delivery-failed"),
    moving: cssVar("--status-moving"),
    idle: cssVar("--status-idle"),
    stopped: cssVar("--status-stopped"),
    line: cssVar("--brand-500"),
    grid: cssVar("--gray-100"),
    text: cssVar("--gray-600"),
  };
}

function emptyNote(canvas, text) {
  const note = document.createElement("div");
  note.className = "state state--compact";
  const title = document.createElement("h3");
  title.className = "state__title";
  title.textContent = text;
  note.append(title);
  canvas.replaceWith(note);
}

function axes(colours, yTitle, rateTitle) {
  const ticks = { color: colours.text, font: { size: 13 } };
  return {
    x: { stacked: true, grid: { display: false }, ticks: { ...ticks, maxRotation: 0, autoSkipPadding: 12 } },
    y: {
      stacked: true,
      beginAtZero: true,
      grid: { color: colours.grid },
      ticks,
      title: { display: true, text: yTitle, color: colours.text, font: { size: 13 } },
    },
    rate: {
      position: "right",
      min: 0,
      max: 100,
      grid: { display: false },
      ticks: { ...ticks, callback: (value) => `${value} %` },
      title: { display: true, text: rateTitle, color: colours.text, font: { size: 13 } },
    },
  };
}

function baseOptions(data, colours, yTitle, rateTitle) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    scales: axes(colours, yTitle, rateTitle),
    plugins: {
      legend: { display: false },
      tooltip: { titleFont: { size: 14 }, bodyFont: { size: 13 } },
    },
    // A day's bar drills down to the dashboard of that one day.
    onClick: (event, elements) => {
      if (elements.length) {
        window.location.assign(data.dayUrls[elements[0].index]);
      }
    },
    onHover: (event, elements) => {
      event.native.target.style.cursor = elements.length ? "pointer" : "default";
    },
  };
}

function rendered(canvas, chart) {
  canvas.dataset.rendered = "true";
  return chart;
}

function deliveriesChart(canvas, data, colours) {
  if (!hasValues(data.deliveries, data.failures)) {
    emptyNote(canvas, "No deliveries in this period");
    return null;
  }
  return rendered(canvas, new Chart(canvas, {
    data: { labels: data.days.map(dayLabel), datasets: deliveriesDatasets(data, colours) },
    options: baseOptions(data, colours, "Orders", "On time"),
  }));
}

function timeChart(canvas, data, colours) {
  if (!hasValues(data.movingHours, data.idleHours, data.stoppedHours)) {
    emptyNote(canvas, "No vehicle time in this period");
    return null;
  }
  return rendered(canvas, new Chart(canvas, {
    data: { labels: data.days.map(dayLabel), datasets: timeDatasets(data, colours) },
    options: baseOptions(data, colours, "Hours", "Utilization"),
  }));
}

function reasonsChart(canvas, data, colours) {
  const ticks = { color: colours.text, font: { size: 13 } };
  return rendered(canvas, new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.reasons.map((reason) => reason.label),
      datasets: [{ label: "Failed", data: data.reasons.map((r) => r.failures), backgroundColor: colours.failed }],
    },
    options: {
      indexAxis: "y",
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: false } },
      scales: {
        x: { beginAtZero: true, grid: { color: colours.grid }, ticks: { ...ticks, precision: 0 } },
        y: { grid: { display: false }, ticks },
      },
    },
  }));
}

function start() {
  const source = document.getElementById("dashboard-data");
  if (!source || !Chart) {
    return;
  }
  const data = JSON.parse(source.textContent);
  const colours = tones();
  Chart.defaults.font.family = cssVar("--font-sans");
  const charts = {};
  const builders = { deliveries: deliveriesChart, time: timeChart, reasons: reasonsChart };
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const build = builders[canvas.dataset.chart];
    if (build) {
      charts[canvas.dataset.chart] = build(canvas, data, colours);
    }
  });
  window.doorstepDashboard = { charts, data };
}

start();
