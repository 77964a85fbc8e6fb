// Times, durations and distances as the history page shows them: clock times in the
// organization's zone (never the browser's), durations as "1 h 05 min".

export function clockFormatter(timeZone) {
  const format = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  const short = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  return {
    // epochSeconds -> "14:05:09"
    long: (epochSeconds) => format.format(new Date(epochSeconds * 1000)),
    short: (epochSeconds) => short.format(new Date(epochSeconds * 1000)),
  };
}

export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(seconds / 60));
  const hours = Math.floor(total / 60);
  const minutes = total % 60;
  if (hours === 0) {
    return `${minutes} min`;
  }
  return `${hours} h ${String(minutes).padStart(2, "0")} min`;
}

export function formatDistance(metres) {
  if (metres < 1000) {
    return `${Math.round(metres)} m`;
  }
  return `${(metres / 1000).toFixed(metres < 10000 ? 2 : 1)} km`;
}

export function formatSpeed(kmh) {
  return kmh == null ? "— km/h" : `${Math.round(kmh)} km/h`;
}
