// The Alerts panel: always on top of the side bar, never behind a tab.
import { clear, clock, duration, h } from "./dom.js";
import { num, t, tv } from "./i18n.js";

const LEVEL_ORDER = { warning: 0, caution: 1, advisory: 2 };

export class AlertsPanel {
  constructor(app, body, count) {
    this.app = app;
    this.body = body;
    this.count = count;
    this.alerts = [];
    this.loadedAtMs = app.clock.nowMs();
    this.errors = new Map();
    this.signature = "";
    this.order = []; // alert ids in the order shown
    this.hovering = false;
    this.reviewing = null; // the resolved alert drawn on the map, if any
    this.resolvedOpen = false;
    // Cards do not move while the pointer is over them: a re-order waits until it leaves.
    body.addEventListener("pointerenter", () => { this.hovering = true; });
    body.addEventListener("pointerleave", () => { this.hovering = false; this.render(); });
  }

  resolved() { return this.alerts.filter((a) => a.status === "resolved").sort((a, b) => Date.parse(b.updated) - Date.parse(a.updated)); }

  active() { return this.alerts.filter((a) => a.status !== "resolved"); }

  async load() {
    const r = await this.app.api.alertsWithResolved();
    if (!r.ok) return;
    this.alerts = r.data;
    this.loadedAtMs = this.app.clock.nowMs();
    this.render(); // the panel first: the map's work must not delay what the officer reads
    this.app.drawAlerts();
    if (this.app.time.live) this.app.drawTracks(this.app.tracks);
  }

  /** A live alert.* event: shown at once from its payload (same fields as the list, times in epoch s),
   * then the list is read again so the panel shows exactly what the server holds. */
  onEvent(kind, data) {
    const p = data && data.payload;
    if (p && p.alert_id) {
      const known = this.alerts.find((a) => a.alert_id === p.alert_id);
      if (kind === "alert.raised" && !known) this.alerts = [...this.alerts, alertFromEvent(p)];
      else if (kind === "alert.acknowledged" && known) {
        known.acknowledged_by = p.acknowledged_by || known.acknowledged_by;
        known.status = "acknowledged";
      } else if (kind === "alert.resolved" && known) known.status = "resolved";
      this.render();
    }
    this.app.refresh("alerts");
  }

  async acknowledge(alert) {
    const r = await this.app.api.acknowledgeAlert(alert.alert_id);
    if (!r.ok) this.errors.set(alert.alert_id, t("common.refused", { why: (r.data && (r.data.detail || r.data.title)) || r.status }));
    else this.errors.delete(alert.alert_id);
    await this.load();
  }

  /** Seconds to loss of separation now, counting down on the deployment's clock from the value the server gave. */
  timeToLos(alert) {
    if (alert.time_to_los_s === null || alert.time_to_los_s === undefined) return null;
    return alert.time_to_los_s - (this.app.clock.nowMs() - this.loadedAtMs) / 1000;
  }

  tick() {
    for (const el of this.body.querySelectorAll("[data-ttl-for]")) {
      const alert = this.alerts.find((a) => a.alert_id === el.dataset.ttlFor);
      if (alert) el.textContent = ttlText(this.timeToLos(alert));
    }
  }

  /** The active alerts in the order to show: most urgent first, except that while the pointer is over
   * the cards the order shown stays (new alerts go below) so nothing moves under it. */
  ordered() {
    const urgent = this.active().sort((a, b) => (LEVEL_ORDER[a.level] ?? 9) - (LEVEL_ORDER[b.level] ?? 9) || (a.time_to_los_s ?? 0) - (b.time_to_los_s ?? 0));
    if (!this.hovering) return urgent;
    const rank = new Map(this.order.map((id, i) => [id, i]));
    return urgent.map((a, i) => [rank.get(a.alert_id) ?? this.order.length + i, a]).sort((x, y) => x[0] - y[0]).map(([, a]) => a);
  }

  render() {
    const shown = this.ordered();
    const resolved = this.resolved();
    // Nothing changed that a card shows (the countdown ticks by itself): leave the cards as they are.
    const signature = JSON.stringify([t("alerts.title"), this.reviewing, [...this.errors], shown.map((a) => [a.alert_id, a.level, a.status, a.acknowledged_by, a.raised,
      a.cpa && [Math.round(a.cpa.dcpa_m / 18.52), Math.round(a.cpa.vsep_cpa_m), Math.round(a.cpa.tcpa_s)]]), resolved.map((a) => [a.alert_id, a.updated])]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.order = shown.map((a) => a.alert_id);
    clear(this.body);
    const unacked = shown.filter((a) => !(a.acknowledged_by || []).includes(this.app.partyId)).length;
    this.count.textContent = unacked ? String(unacked) : "";
    if (!shown.length) this.body.append(h("p.muted", {}, t("alerts.none")));
    const own = this.app.partyId;
    for (const a of shown) {
      const ackedByMe = (a.acknowledged_by || []).includes(own);
      const units = alertUnits(a).map((u) => `${this.app.callsign(u.unit_id)}${u.party_id !== own ? ` (${this.app.partyName(u.party_id)})` : ""}`);
      const who = (a.acknowledged_by || []).map((p) => this.app.partyName(p));
      const cpa = a.cpa;
      const item = h(`article.alert.${a.level}.${a.status}`, { dataset: { alert: a.alert_id }, "aria-label": t("alerts.aria", { level: tv("level", a.level), units: units.join(" ↔ ") }) },
        h("div.row", {}, h("span.level", {}, tv("level", a.level)), h("span", {}, tv("alert_status", a.status)), h("span.ttl", { dataset: { ttlFor: a.alert_id }, title: t("alerts.ttl_title") }, ttlText(this.timeToLos(a)))),
        h("div.row", {}, h("strong.units", {}, units.join(" ↔ "))),
        h("div.row.muted", {},
          cpa ? h("span", {}, t("alerts.cpa", { dcpa: num(cpa.dcpa_m / 1852, 2), vsep: num(Math.round(Math.abs(cpa.vsep_cpa_m) * 3.28084)) })) : null,
          cpa ? h("span", {}, t("alerts.cpa_in", { in: duration(cpa.tcpa_s) })) : null,
          h("span", {}, t("alerts.raised_at", { time: clock(a.raised) }))),
        h("div.row", {},
          h("span.acked-by", {}, who.length ? t("alerts.acked_by", { parties: who.join(", ") }) : t("alerts.not_acked")),
          this.app.canAct && !ackedByMe
            ? h("button.primary.ack", { type: "button", onclick: () => this.acknowledge(a) }, t("alerts.acknowledge"))
            : null,
          h("button", { type: "button", onclick: () => { const u = alertUnits(a).find((x) => x.party_id === own) || alertUnits(a)[0]; if (u && u.lat_deg !== undefined) this.app.map.flyTo(u.lon_deg, u.lat_deg); } }, t("common.show"))),
        this.errors.has(a.alert_id) ? h("p.error", { role: "alert" }, this.errors.get(a.alert_id)) : null);
      this.body.append(item);
    }
    if (resolved.length) this.body.append(this.resolvedList(resolved));
  }

  /** Recently resolved alerts, kept for review (a late arrival sees what happened), one on the map on demand. */
  resolvedList(resolved) {
    const details = h("details#resolved-alerts", { open: this.resolvedOpen },
      h("summary", {}, t("alerts.resolved_title", { n: resolved.length })),
      h("ul.list", {}, resolved.map((a) => {
        const units = alertUnits(a).map((u) => this.app.callsign(u.unit_id)).join(" ↔ ");
        const on = this.reviewing === a.alert_id;
        return h("li.resolved-alert", { dataset: { alert: a.alert_id } },
          h("div.row", {}, h(`span.level.${a.level}`, {}, tv("level", a.level)), h("strong", {}, units)),
          h("div.row.muted", {}, h("span", {}, t("alerts.raised_at", { time: clock(a.raised) })), h("span", {}, t("alerts.resolved_at", { time: clock(a.updated) })),
            h("button.review", { type: "button", "aria-pressed": String(on), onclick: () => this.review(on ? null : a) }, on ? t("alerts.hide_on_map") : t("alerts.show_on_map"))));
      })));
    details.addEventListener("toggle", () => { this.resolvedOpen = details.open; });
    return details;
  }

  review(alert) {
    this.reviewing = alert ? alert.alert_id : null;
    this.app.drawAlerts();
    if (alert) {
      const u = alertUnits(alert).find((x) => x.lat_deg !== undefined);
      if (u) this.app.map.flyTo(u.lon_deg, u.lat_deg);
    }
    this.render();
  }
}

/** An alert event's payload in the shape the alerts list has. */
function alertFromEvent(p) {
  const iso = (seconds) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    alert_id: p.alert_id, level: p.level, status: "raised",
    unit_a: p.unit_a, unit_b: p.unit_b, party_a: p.party_a, party_b: p.party_b,
    raised: iso(p.raised_s), updated: iso(p.time_s ?? p.raised_s), acknowledged_by: p.acknowledged_by || [],
    positions: p.positions || {}, cpa: p.cpa || null,
    time_to_los_s: p.cpa ? (p.cpa.los ? 0 : p.cpa.t_in_s) : null,
  };
}

/** The two units of an alert as [{unit_id, party_id, lat_deg, lon_deg, alt_m}] (position where the alert gives one). */
export function alertUnits(alert) {
  return [[alert.unit_a, alert.party_a], [alert.unit_b, alert.party_b]].map(([unitId, partyId]) => ({
    unit_id: unitId, party_id: partyId, ...((alert.positions || {})[unitId] || {}),
  }));
}

function ttlText(seconds) {
  if (seconds === null) return t("alerts.los_none");
  return seconds <= 0 ? t("alerts.los_now") : t("alerts.los_in", { in: duration(seconds) });
}
