// Speed over the day under the map (Chart.js), with a cursor line at the playback time. The
// cursor is an element moved over the canvas, so 8,640 points are not redrawn every frame.

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export class SpeedChart {
  constructor(canvas, cursor, { clock, dayStart, onSeek }) {
    this.canvas = canvas;
    this.cursor = cursor;
    this.dayStart = dayStart;
    this.chart = null;
    this.clock = clock;
    this.onSeek = onSeek;
  }

  draw(track, day) {
    const points = new Array(track.length);
    for (let i = 0; i < track.length; i += 1) {
      const speed = track.speed[i];
      points[i] = { x: track.t[i], y: Number.isNaN(speed) ? null : speed };
    }
    const moving = cssVar("--status-moving");
    const grid = cssVar("--gray-200");
    const text = cssVar("--gray-500");
    const stopBand = {
      id: "stopBands",
      beforeDatasetsDraw: (chart) => {
        const { ctx, chartArea, scales } = chart;
        ctx.save();
        ctx.fillStyle = "rgba(37, 99, 235, 0.08)";
        for (const stop of day.stops) {
          const x1 = scales.x.getPixelForValue(stop.start);
          const x2 = scales.x.getPixelForValue(stop.end);
          ctx.fillRect(x1, chartArea.top, Math.max(1, x2 - x1), chartArea.bottom - chartArea.top);
        }
        ctx.restore();
      },
    };
    this.chart = new Chart(this.canvas, {
      type: "line",
      data: {
        datasets: [
          {
            data: points,
            borderColor: moving,
            backgroundColor: "rgba(22, 163, 74, 0.12)",
            borderWidth: 1.5,
            fill: true,
            pointRadius: 0,
            spanGaps: day.settings.gapSeconds,
          },
        ],
      },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        maintainAspectRatio: false,
        responsive: true,
        events: ["click"],
        plugins: {
          legend: { display: false },
          tooltip: { enabled: false },
          decimation: { enabled: true, algorithm: "lttb", samples: 1200 },
        },
        scales: {
          x: {
            type: "linear",
            min: track.start,
            max: track.end,
            grid: { color: grid },
            // Whole hours of the local day (every second hour on a long span), not Chart.js's
            // evenly spaced odd minutes.
            afterBuildTicks: (axis) => {
              const step = axis.max - axis.min > 12 * 3600 ? 7200 : 3600;
              const ticks = [];
              for (let t = Math.ceil(axis.min / step) * step; t <= axis.max; t += step) {
                ticks.push({ value: t });
              }
              axis.ticks = ticks;
            },
            ticks: {
              color: text,
              autoSkip: false,
              callback: (value) => this.clock.short(this.dayStart + value),
            },
          },
          y: {
            beginAtZero: true,
            suggestedMax: 60,
            grid: { color: grid },
            ticks: { color: text, maxTicksLimit: 5, callback: (value) => `${value} km/h` },
          },
        },
        onClick: (event) => {
          const x = this.chart.scales.x.getValueForPixel(event.x);
          if (Number.isFinite(x)) {
            this.onSeek(x);
          }
        },
      },
      plugins: [stopBand],
    });
    this.cursor.hidden = false;
  }

  moveCursor(time) {
    if (!this.chart) {
      return;
    }
    const area = this.chart.chartArea;
    const x = this.chart.scales.x.getPixelForValue(time);
    const clamped = Math.min(area.right, Math.max(area.left, x));
    this.cursor.style.transform = `translateX(${clamped}px)`;
    this.cursor.style.top = `${area.top}px`;
    this.cursor.style.height = `${area.bottom - area.top}px`;
    this.cursor.dataset.time = String(Math.round(time));
  }
}
