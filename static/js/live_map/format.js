// Numbers, ages, speeds and clocks as the page shows them. No DOM: node --test imports it.

export const numberFormat = new Intl.NumberFormat();

// Clocks show the organization's time (the details panel's server-side times do too), labelled
// with the zone's abbreviation, so a dispatcher in another zone never mixes the two.
// An unknown or missing zone falls back to the browser's, labelled as well.
export function clockFormatter(timeZone) {
  let format;
  try {
    format = new Intl.DateTimeFormat(undefined, {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hour12: false,
      timeZone: timeZone || undefined,
    });
  } catch (error) {
    format = new Intl.DateTimeFormat(undefined, {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hour12: false,
    });
  }
  const zone = format.resolvedOptions().timeZone;
  return {
    timeZone: zone,
    format: (date) => `${format.format(date)} ${zoneAbbreviation(zone, date)}`,
  };
}

// "CET", "CEST", "EST", "UTC"; "GMT+3" where no locale knows a letter abbreviation. English
// names first: Django's "T" format (the server's templates) prints the same abbreviations.
export function zoneAbbreviation(timeZone, date) {
  let fallback = "";
  for (const locale of ["en-US", "en-GB"]) {
    try {
      const parts = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: "short" }).formatToParts(date);
      const name = (parts.find((part) => part.type === "timeZoneName") || {}).value || "";
      if (name && !/^(GMT|UTC)[+-]/.test(name)) {
        return name;
      }
      fallback = fallback || name;
    } catch (error) {
      return timeZone || "";
    }
  }
  return fallback || timeZone || "";
}
export const plateCollator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

// 12 s, 4 min, 3 h, 2 d
export function formatAge(ms) {
  if (!Number.isFinite(ms)) {
    return "never";
  }
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) {
    return `${seconds} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    return `${hours} h`;
  }
  return `${Math.floor(hours / 24)} d`;
}

export function formatSpeed(kmh) {
  return kmh === null || kmh === undefined || !Number.isFinite(+kmh) ? "—" : `${Math.round(kmh)} km/h`;
}

// "Wed 2 Dec, 07:12:33 CET" in the organization's zone: the details panel's "last update" line,
// the same shape as the server's `D j M, H:i:s T`.
export function fixClockFormatter(timeZone) {
  const options = {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  };
  let format;
  try {
    format = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: timeZone || undefined });
  } catch (error) {
    format = new Intl.DateTimeFormat("en-GB", options);
  }
  const zone = format.resolvedOptions().timeZone;
  return (date) => {
    const parts = Object.fromEntries(format.formatToParts(date).map((part) => [part.type, part.value]));
    const clock = `${parts.hour}:${parts.minute}:${parts.second}`;
    return `${parts.weekday} ${parts.day} ${parts.month}, ${clock} ${zoneAbbreviation(zone, date)}`;
  };
}

// 52.37020, 4.89520: the fragment's `floatformat:5`.
export function formatPosition(lat, lon) {
  return Number.isFinite(lat) && Number.isFinite(lon) ? `${lat.toFixed(5)}, ${lon.toFixed(5)}` : "—";
}
