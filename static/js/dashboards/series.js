// The dashboard's chart data, DOM-free (tested with Node): day labels and the Chart.js
// datasets built from the page's json_script document.

// Days are calendar days of the organization (yyyy-mm-dd), not instants: format them as UTC
// dates so no browser time zone can move them to the day before.
const DAY_FORMAT = new Intl.DateTimeFormat("en-GB", {
  weekday: "short",
  day: "numeric",
  month: "short",
  timeZone: "UTC",
});

export function dayLabel(isoDay) {
  const [year, month, day] = isoDay.split("-").map(Number);
  return DAY_FORMAT.format(new Date(Date.UTC(year, month - 1, day)));
}

export function deliveriesDatasets(data, tones) {
  return [
    {
      type: "bar",
      label: "Delivered",
      data: data.deliveries,
      backgroundColor: tones.delivered,
      stack: "orders",
      yAxisID: "y",
      order: 2,
    },
    {
      type: "bar",
      label: "Failed",
      data: data.failures,
      backgroundColor: tones.failed,
      stack: "orders",
      yAxisID: "y",
      order: 2,
    },
    {
      type: "line",
      label: "On-time rate (%)",
      data: data.onTimeRate,
      borderColor: tones.line,
      backgroundColor: tones.line,
      yAxisID: "rate",
      spanGaps: false,
      pointRadius: data.days.length > 45 ? 0 : 3,
      borderWidth: 2.5,
      order: 1,
    },
  ];
}

export function timeDatasets(data, tones) {
  const bar = (label, values, color) => ({
    type: "bar",
    label,
    data: values,
    backgroundColor: color,
    stack: "time",
    yAxisID: "y",
    order: 2,
  });
  return [
    bar("Moving (h)", data.movingHours, tones.moving),
    bar("Idle (h)", data.idleHours, tones.idle),
    bar("Stopped (h)", data.stoppedHours, tones.stopped),
    {
      type: "line",
      label: "Utilization (%)",
      data: data.utilization,
      borderColor: tones.line,
      backgroundColor: tones.line,
      yAxisID: "rate",
      pointRadius: data.days.length > 45 ? 0 : 3,
      borderWidth: 2.5,
      order: 1,
    },
  ];
}

// A series with no value at all (a period without rollups) draws nothing worth an axis.
export function hasValues(...series) {
  return series.some((values) => values.some((value) => value !== null && value !== 0));
}
