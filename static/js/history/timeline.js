// The scrubbable timeline: a range input over the day's span, with the trips drawn as bands
// and the delivery and alert events as ticks beneath it.

const EVENT_CLASS = {
  arrived: "delivery-arrived",
  delivered: "delivery-delivered",
  failed: "delivery-failed",
  alert: "severity-warning",
};

export class Timeline {
  constructor({ range, bands, onSeek, onScrubStart }) {
    this.range = range;
    this.bands = bands;
    this.scrubbing = false;
    range.addEventListener("pointerdown", () => {
      this.scrubbing = true;
      onScrubStart();
    });
    const release = () => {
      this.scrubbing = false;
    };
    range.addEventListener("pointerup", release);
    range.addEventListener("change", release);
    range.addEventListener("input", () => onSeek(Number(range.value)));
  }

  draw(track, day, clock) {
    const start = track.start;
    const span = Math.max(1, track.end - start);
    this.range.min = String(start);
    this.range.max = String(track.end);
    this.range.disabled = false;
    this.bands.replaceChildren();
    const place = (element, from, to) => {
      element.style.left = `${((from - start) / span) * 100}%`;
      if (to !== undefined) {
        element.style.width = `${Math.max(0.2, ((to - from) / span) * 100)}%`;
      }
    };
    for (const trip of day.trips) {
      const band = document.createElement("span");
      band.className = "hist-band hist-band--trip";
      place(band, trip.start, trip.end);
      this.bands.appendChild(band);
    }
    for (const stop of day.stops) {
      const band = document.createElement("span");
      band.className = `hist-band hist-band--stop${stop.engineOn ? " hist-band--idle" : ""}`;
      place(band, stop.start, stop.end);
      this.bands.appendChild(band);
    }
    for (const event of day.events) {
      const tick = document.createElement("span");
      tick.className = `hist-tick ${EVENT_CLASS[event.kind] || ""}`;
      tick.title = `${event.label} · ${clock.short(day.dayStart + event.t)}`;
      place(tick, event.t);
      this.bands.appendChild(tick);
    }
  }

  show(time) {
    if (!this.scrubbing) {
      this.range.value = String(Math.round(time));
    }
  }
}
