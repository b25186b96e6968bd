// keepclear's own notices in the hotline (alert changes, activity and incident notices, alert storms),
// worded in the reader's language from the code and parameters the server puts in the message's
// ``data.say``; the server's English text stays for clients that do not know the code.
import { clock, duration } from "./dom.js";
import { has, num, t, tv } from "./i18n.js";

/** The notice ``m`` in the reader's words, or null when it is not one keepclear words by code. */
export function systemText(m, app) {
  const say = m && m.data && m.data.say;
  if (!say || typeof say.code !== "string") return null;
  const p = say.params || {};
  const family = say.code.split(".")[0];
  const key = has(`system.${say.code}`) ? `system.${say.code}` : has(`system.${family}.other`) ? `system.${family}.other` : null;
  if (!key) return null;
  const unit = (id, party) => (id ? t("system.unit", { unit: app.callsign(id), party: app.partyName(party) }) : "");
  const level = (value) => tv("level", value).toUpperCase();
  const params = {
    ref: p.ref ?? "",
    by: p.by ? app.partyName(p.by) : "keepclear",
    event: tv("event", say.code),
    level: level(p.level),
    previous: level(p.previous_level),
    a: unit(p.unit_a, p.party_a),
    b: unit(p.unit_b, p.party_b),
    acked_by: (p.acknowledged_by || []).map((x) => app.partyName(x)).join(", "),
    activity: p.activity_kind ? `${tv("activity_kind", p.activity_kind)} ${p.ref ?? ""}`.trim() : p.ref ?? "",
    version: p.version ?? "",
    kind: tv("incident_kind", p.kind),
    status: tv("review", p.status),
    time: p.time_s !== undefined ? clock(p.time_s) : "",
    units: (p.unit_ids || []).map((u) => app.callsign(u)).join(", "),
    position: p.position ?? "",
    count: p.count ?? "",
    party_a: app.partyName(p.party_a),
    party_b: app.partyName(p.party_b),
    first: p.first_s !== undefined ? clock(p.first_s) : "",
    last: p.last_s !== undefined ? clock(p.last_s) : "",
  };
  let text = t(key, params);
  if (p.tcpa_s !== undefined && p.dcpa_m !== undefined) {
    text += t("system.cpa", { in: duration(p.tcpa_s), dcpa: num(p.dcpa_m / 1852, 1), vsep: num(Math.round((p.vsep_m || 0) / 0.3048)) });
  }
  if (say.code === "alert.storm") {
    const raised = Object.entries(p.raised || {}).map(([lv, n]) => `${n} ${tv("level", lv)}`).join(", ");
    if (raised) text += t("system.storm_raised", { list: raised });
  }
  return text;
}
