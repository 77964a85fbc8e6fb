// Speed over the day under the map (Chart.js), with a cursor line at the playback time. The
// cursor is an element moved over the canvas, so 8,640 points are not redrawn every frame.

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// The chart never needs more than two points per pixel column: each column keeps its slowest
// and fastest fix (in time order), so a peak or a stop never disappears. 8,640 fixes become
// ~2,000 points, built in one pass, before Chart.js sees them.
export function chartPoints(track, columns) {
  const points = [];
  if (!track.length) {
    return points;
  }
  const start = track.start;
  const width = Math.max(1, track.end - start) / columns;
  let column = -1;
  let low = null;
  let high = null;
  const flush = () => {
    if (low === null) {
      return;
    }
    const [a, b] = low.x <= high.x ? [low, high] : [high, low];
    points.push(a);
    if (b !== a) {
      points.push(b);
    }
  };
  for (let i = 0; i < track.length; i += 1) {
    const speed = track.speed[i];
    const x = track.t[i];
    const bucket = Math.floor((x - start) / width);
    const gap = i > 0 && x - track.t[i - 1] > track.gapSeconds;
    if (bucket !== column || gap) {
      flush();
      if (gap) {
        points.push({ x: track.t[i - 1] + 1, y: null }); // a hole in the line, not a slope
      }
      column = bucket;
      low = null;
      high = null;
    }
    if (Number.isNaN(speed)) {
      continue;
    }
    const point = { x, y: speed };
    if (low === null || speed < low.y) {
      low = point;
    }
    if (high === null || speed > high.y) {
      high = point;
    }
  }
  flush();
  return points;
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
    const points = chartPoints(track, Math.max(200, this.canvas.clientWidth || 1200));
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
            spanGaps: false,
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
          decimation: { enabled: false },
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
