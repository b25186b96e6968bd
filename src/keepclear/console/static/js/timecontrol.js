// The time control: look back over the last hours (positions from the track history), or stay live.
import { clock } from "./dom.js";
import { t } from "./i18n.js";

export class TimeControl {
  constructor(app) {
    this.app = app;
    this.live = true;
    this.history = null;
    this.input = document.getElementById("lookback");
    this.output = document.getElementById("lookback-value");
    this.input.addEventListener("input", () => this.changed());
    document.getElementById("golive").addEventListener("click", () => { this.input.value = "0"; this.changed(); });
  }

  async changed() {
    const minutes = Number(this.input.value);
    if (minutes === 0) {
      this.live = true;
      this.output.textContent = t("time.live");
      this.app.drawTracks(this.app.tracks);
      return;
    }
    this.live = false;
    const now = this.app.clock.nowMs();
    const at = now + minutes * 60_000;
    this.output.textContent = t("time.looking_back", { time: clock(new Date(at).toISOString()), minutes });
    // History is asked for from the deployment's time (a scenario's in a demo), and read again when
    // the deployment's clock has moved on 30 s or more, or stepped back (a scenario restarted).
    const age = this.history === null ? Infinity : now - this.history.fetched;
    if (age > 30_000 || age < 0) {
      const since = new Date(now + Number(this.input.min) * 60_000).toISOString();
      const r = await this.app.api.trackHistory(since);
      if (!r.ok) {
        // Without history there is nothing to look back at: stay live and say why.
        this.input.value = "0";
        this.live = true;
        this.output.textContent = t("time.live_history_failed");
        this.app.drawTracks(this.app.tracks);
        return;
      }
      this.history = { states: r.data, fetched: now };
    }
    this.app.drawTracks(statesAt(this.history.states, at));
  }
}

/** The latest state of each unit at or before ``atMs`` (epoch milliseconds). */
export function statesAt(states, atMs) {
  const latest = new Map();
  for (const s of states) {
    const t = Date.parse(s.time);
    if (t > atMs) continue;
    const seen = latest.get(s.unit_id);
    if (!seen || Date.parse(seen.time) < t) latest.set(s.unit_id, s);
  }
  return [...latest.values()];
}
