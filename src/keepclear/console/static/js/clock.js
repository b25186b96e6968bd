// The deployment's clock, as the console shows it: the server's time (a scenario's in a demo or
// replay), read from the "me" route (Api.me) and run on between readings at the rate the server gives.

/** How often the clock is read again (wall milliseconds). */
export const RESYNC_MS = 5000;

export class DeploymentClock {
  constructor() {
    this.anchorMs = Date.now(); // deployment time at the last reading
    this.anchorWallMs = performance.now(); // wall time of that reading
    this.rate = 1; // deployment seconds per wall second
    this.shownMs = 0;
  }

  /** Take a reading: ``nowIso`` the server's clock, ``rate`` its pace (0: standing still). */
  sync(nowIso, rate) {
    const at = Date.parse(nowIso);
    if (Number.isNaN(at)) return;
    this.anchorMs = at;
    this.anchorWallMs = performance.now();
    this.rate = Number.isFinite(rate) && rate >= 0 ? rate : 1;
  }

  /** Deployment time now, epoch milliseconds; never runs backwards between two calls (a reading
   * slightly behind the extrapolation holds the shown time instead of stepping back). */
  nowMs() {
    const computed = this.anchorMs + (performance.now() - this.anchorWallMs) * this.rate;
    const back = this.shownMs - computed;
    // A small step back is held; a large one (a scenario restarted) is followed.
    if (back > 0 && back < Math.max(2000, 3 * RESYNC_MS * this.rate)) return this.shownMs;
    this.shownMs = computed;
    return computed;
  }

  /** Deployment time now as ISO 8601 UTC. */
  nowIso() { return new Date(this.nowMs()).toISOString(); }

  /** Deployment seconds from now until ``iso`` (negative: past). */
  secondsUntil(iso) { return (Date.parse(iso) - this.nowMs()) / 1000; }
}
