// The day's fixes as typed arrays, and where the vehicle was at any moment of it.

export class Track {
  constructor(fixes, gapSeconds) {
    const n = fixes.t.length;
    this.length = n;
    this.t = Float64Array.from(fixes.t);
    this.lat = Float64Array.from(fixes.lat);
    this.lon = Float64Array.from(fixes.lon);
    // NaN marks "no speed reported": the chart leaves a hole there, not a zero.
    this.speed = Float64Array.from(fixes.speed, (v) => (v == null ? NaN : v));
    this.heading = fixes.heading;
    this.gapSeconds = gapSeconds;
  }

  get start() {
    return this.length ? this.t[0] : 0;
  }

  get end() {
    return this.length ? this.t[this.length - 1] : 0;
  }

  // The last fix at or before time `t` (0 before the first): a binary search.
  indexAt(t) {
    let low = 0;
    let high = this.length - 1;
    if (high < 0 || t <= this.t[0]) {
      return 0;
    }
    if (t >= this.t[high]) {
      return high;
    }
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.t[middle] <= t) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    return low;
  }

  // Position at time t, moving smoothly between fixes; across a data gap it waits at the last
  // fix instead of gliding through buildings.
  positionAt(t) {
    const i = this.indexAt(t);
    const j = Math.min(i + 1, this.length - 1);
    const span = this.t[j] - this.t[i];
    let fraction = 0;
    if (j > i && span > 0 && span <= this.gapSeconds && t > this.t[i]) {
      fraction = Math.min(1, (t - this.t[i]) / span);
    }
    return {
      index: i,
      lat: this.lat[i] + (this.lat[j] - this.lat[i]) * fraction,
      lon: this.lon[i] + (this.lon[j] - this.lon[i]) * fraction,
      speed: this.speed[i],
      inGap: span > this.gapSeconds && t > this.t[i],
    };
  }

  latLngs(first = 0, last = this.length - 1) {
    const points = new Array(Math.max(0, last - first + 1));
    for (let i = first; i <= last; i += 1) {
      points[i - first] = [this.lat[i], this.lon[i]];
    }
    return points;
  }
}
