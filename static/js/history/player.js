// The playback clock: a time in the day that advances at `rate` x real time while playing.
// Listeners get every change (a frame, a seek), so the map, chart and timeline stay in step.

export const RATES = [1, 2, 4, 8, 16, 32, 64];

export class Player {
  constructor({ start, end, rate = 32 }) {
    this.start = start;
    this.end = end;
    this.time = start;
    this.rate = rate;
    this.playing = false;
    this.listeners = [];
    this.frames = 0;
    this._lastFrame = null;
    this._tick = this._tick.bind(this);
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  _emit() {
    for (const listener of this.listeners) {
      listener(this);
    }
  }

  play() {
    if (this.playing) {
      return;
    }
    if (this.time >= this.end) {
      this.time = this.start; // play again from the start, like every media player
    }
    this.playing = true;
    this._lastFrame = null;
    requestAnimationFrame(this._tick);
    this._emit();
  }

  pause() {
    this.playing = false;
    this._emit();
  }

  toggle() {
    if (this.playing) {
      this.pause();
    } else {
      this.play();
    }
  }

  seek(time) {
    this.time = Math.min(this.end, Math.max(this.start, time));
    this._emit();
  }

  setRate(rate) {
    this.rate = rate;
    this._emit();
  }

  _tick(now) {
    if (!this.playing) {
      return;
    }
    if (this._lastFrame !== null) {
      // A tab in the background gets no frames; don't jump hours when it comes back.
      const elapsed = Math.min(0.25, (now - this._lastFrame) / 1000);
      this.time = Math.min(this.end, this.time + elapsed * this.rate);
    }
    this._lastFrame = now;
    this.frames += 1;
    if (this.frames === 1) {
      performance.mark("history:first-frame");
    }
    if (this.time >= this.end) {
      this.playing = false;
    }
    this._emit();
    if (this.playing) {
      requestAnimationFrame(this._tick);
    }
  }
}
