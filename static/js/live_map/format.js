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
