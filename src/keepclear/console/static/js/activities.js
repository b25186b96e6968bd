// The Activities panel: notified activities, their detail and responses, and notifying a new one
// by drawing a polygon or a route on the map.
import { clear, dateClock, duration, h } from "./dom.js";
import { t, tv } from "./i18n.js";
import { activityGeometries } from "./map.js";
import { PagedList } from "./pages.js";

const KINDS = ["air-operation", "ground-movement", "naval-movement", "surveillance-flight", "humanitarian-movement", "humanitarian-site", "other"];

export class ActivitiesPanel {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.items = [];
    this.selected = null;
    this.mode = "list"; // list | draft
    this.message = "";
    // The list a page at a time (pages.js): the first at start, the next on "Load more".
    this.list = new PagedList((next) => app.api.activities(next), (id) => app.api.activity(id));
    this.named = new Set(); // activities the stream named since the last load
  }

  /** Read again the pages loaded, and alone each activity the stream named that they do not hold. */
  async load() {
    const named = [...this.named];
    this.named.clear();
    if (!(await this.list.reload())) { named.forEach((id) => this.named.add(id)); return; }
    await this.list.bringIn(named);
    this.show();
  }

  async loadMore() {
    if (await this.list.loadMore()) this.show();
  }

  /** A change on the stream: the activities it names are read with the loaded pages. */
  onEvent(kind, data) {
    for (const id of activityIds(data && data.payload)) this.named.add(id);
    this.app.refresh("activities");
  }

  show() {
    const items = this.list.items;
    // Unchanged lists are not drawn again: a row must not be replaced under the officer's pointer.
    const signature = JSON.stringify([items, this.list.more]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.items = items;
    this.app.map.setActivities(this.items);
    if (this.mode === "list") this.render();
  }

  tick() {
    for (const el of this.root.querySelectorAll("[data-deadline]")) {
      el.textContent = deadlineText(el.dataset.deadline, this.app.clock);
    }
  }

  render() {
    clear(this.root);
    if (this.mode === "draft") { this.renderDraft(); return; }
    this.root.append(h("div.toolbar", {},
      h("h2", {}, t("activities.title")),
      this.app.canAct ? h("button.primary", { type: "button", id: "notify-polygon", onclick: () => this.startDraft("polygon") }, t("activities.notify_area")) : null,
      this.app.canAct ? h("button", { type: "button", id: "notify-route", onclick: () => this.startDraft("route") }, t("activities.notify_route")) : null));
    if (this.message) this.root.append(h("p.muted", { role: "status" }, this.message));
    if (!this.items.length) this.root.append(h("p.muted", {}, t("activities.none")));
    const list = h("ul.list#activities-list");
    for (const act of this.items) {
      const mine = act.party === this.app.partyId;
      list.append(h("li", { dataset: { activity: act.id } },
        h("button", { type: "button", "aria-current": String(this.selected === act.id), onclick: () => this.select(act.id) },
          h("strong", {}, activityName(act)),
          h("span.muted", {}, mine ? t("activities.ours") : t("activities.from", { party: this.app.partyName(act.party) })),
          h("span.muted", {}, `${dateClock(act.start)} – ${dateClock(act.end)}`),
          h("span", {}, statusLine(act, this.app.partyId)))));
    }
    this.root.append(list);
    if (this.list.more) this.root.append(h("button.more#activities-more", { type: "button", onclick: () => this.loadMore() }, t("common.load_more")));
    const act = this.items.find((a) => a.id === this.selected);
    if (act) this.root.append(this.amending === act.id ? this.amendForm(act) : this.detail(act));
  }

  async select(id) {
    this.selected = id;
    const r = await this.app.api.activity(id);
    if (r.ok) {
      this.list.replace({ id, ...r.data });
      this.items = this.list.items;
    }
    this.render();
  }

  detail(act) {
    const own = this.app.partyId;
    const mine = act.party === own;
    const respond = (what) => async () => {
      let reason = "";
      if (what === "object" || what === "cancel") {
        reason = (window.prompt(what === "object" ? t("activities.reason_object") : t("activities.reason_cancel")) || "").trim();
        if (what === "object" && !reason) return;
      }
      const r = await this.app.api.respondActivity(act.id, what, act.version, reason);
      this.message = r.ok ? t("activities.response_sent", { what: tv("response", what), version: act.version }) : t("common.refused", { why: (r.data && r.data.detail) || r.status });
      this.signature = "";
      await this.load();
      await this.select(act.id);
    };
    const mineAck = act.your_acknowledgement;
    const table = mine
      ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("activities.addressee")), h("th", {}, t("activities.status")), h("th", {}, t("activities.deadline")))),
        h("tbody", {}, (act.acknowledgements || []).map((a) => h("tr", { dataset: { party: a.party } },
          h("td", {}, this.app.partyName(a.party)),
          h(`td.status-${a.state}`, {}, tv("ack_state", a.state) + (a.reason ? `: ${a.reason}` : "") + (a.escalation_level ? ` ${t("activities.escalated", { n: a.escalation_level })}` : "")),
          h("td", a.due && a.state === "pending" ? { dataset: { deadline: a.due } } : {}, a.due && a.state === "pending" ? deadlineText(a.due, this.app.clock) : a.answered ? t("activities.answered_at", { time: dateClock(a.answered) }) : "—")))))
      : mineAck
        ? h("p", { dataset: mineAck.due && mineAck.state === "pending" ? {} : {} },
          t("activities.your_answer", { state: tv("ack_state", mineAck.state) }),
          mineAck.state === "pending" && mineAck.due ? h("span", { dataset: { deadline: mineAck.due } }, ` · ${deadlineText(mineAck.due, this.app.clock)}`) : null)
        : null;
    // conflicts holds the first its check found (activity_view_max_conflicts), overlapped_by the most
    // recently found of what overlaps it (activity_view_max_overlaps); each total counts them all.
    const counted = (shown, total) => (total ?? shown.length) > shown.length
      ? [...shown, t("activities.overlapped_more", { more: total - shown.length, total })]
      : shown;
    const conflicts = counted((act.conflicts || []).map((c) => `${tv("conflict_kind", c.kind)}: ${c.reason || c.target_id || ""}`), act.conflicts_total);
    // Another party's activity that overlaps ours: where, when, which band; never which activity.
    const overlaps = counted((act.overlapped_by || []).map((o) => t("activities.overlap_at", { version: o.your_activity_version, start: dateClock(o.start), end: dateClock(o.end), lower: o.lower_ft, upper: o.upper_ft })), act.overlapped_by_total);
    const canAnswer = this.app.canAct && !mine && mineAck && act.status !== "cancelled";
    return h("section.detail", { "aria-label": t("activities.detail") },
      h("h3", {}, activityName(act)),
      h("p.muted", {}, act.id),
      h("p", {}, t("activities.window", { start: dateClock(act.start), end: dateClock(act.end), priority: tv("priority", act.priority), version: act.version, status: tv("activity_status", act.status) })),
      act.text ? h("p", {}, act.text) : null,
      act.contact ? h("p.muted", {}, t("activities.contact_is", { contact: act.contact })) : null,
      conflicts.length ? h("p.error", {}, t("activities.conflicts", { list: conflicts.join("; ") })) : null,
      overlaps.length ? h("p.error.overlapped", {}, t("activities.overlapped_by", { list: overlaps.join("; ") })) : null,
      act.notice && act.notice.late ? h("p.error", {}, t("activities.late_notice")) : null,
      table,
      h("div.toolbar", {},
        canAnswer ? h("button.primary", { type: "button", onclick: respond("acknowledge") }, t("activities.acknowledge")) : null,
        canAnswer ? h("button.danger", { type: "button", onclick: respond("object") }, t("activities.object")) : null,
        this.app.canAct && mine && act.status === "notified" ? h("button.primary", { type: "button", id: "activity-activate", onclick: respond("activate") }, t("activities.activate")) : null,
        this.app.canAct && mine && act.status === "active" ? h("button.primary", { type: "button", id: "activity-complete", onclick: respond("complete") }, t("activities.complete")) : null,
        this.app.canAct && mine && ["notified", "active"].includes(act.status) ? h("button", { type: "button", id: "activity-amend", onclick: () => { this.amending = act.id; this.render(); } }, t("activities.amend")) : null,
        this.app.canAct && mine && !["cancelled", "completed"].includes(act.status) ? h("button.danger", { type: "button", onclick: respond("cancel") }, t("activities.cancel")) : null,
        h("button", { type: "button", onclick: () => this.showOnMap(act) }, t("activities.show_on_map"))));
  }

  /** Amending one's own activity: its window, band, text and contact (the shape stays); a new version. */
  amendForm(act) {
    const local = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16) : "");
    const band = (act.volumes && act.volumes[0]) || (act.route) || {};
    return h("form.stack.detail#amend-form", { onsubmit: (e) => { e.preventDefault(); this.amend(act, new FormData(e.target)); } },
      h("h3", {}, t("activities.amend_title", { name: activityName(act), version: act.version })),
      h("label", {}, t("activities.text"), h("input", { name: "text", maxlength: 4000, value: act.text || "" })),
      h("label", {}, t("activities.contact"), h("input", { name: "contact", required: true, value: act.contact || "" })),
      h("label", {}, t("activities.start_utc"), h("input", { name: "start", type: "datetime-local", required: true, value: local(act.start) })),
      h("label", {}, t("activities.end_utc"), h("input", { name: "end", type: "datetime-local", required: true, value: local(act.end) })),
      h("label", {}, t("activities.lower_ft"), h("input", { name: "lower_ft", type: "number", min: 0, value: band.lower_ft ?? 0 })),
      h("label", {}, t("activities.upper_ft"), h("input", { name: "upper_ft", type: "number", min: 0, value: band.upper_ft ?? 0 })),
      this.error ? h("p.error", { role: "alert" }, this.error) : null,
      h("div.toolbar", {},
        h("button.primary", { type: "submit" }, t("activities.send_amendment")),
        h("button", { type: "button", onclick: () => { this.amending = null; this.error = ""; this.render(); } }, t("common.cancel"))));
  }

  async amend(act, data) {
    const utc = (v) => `${v}:00Z`;
    const lower = Number(data.get("lower_ft"));
    const upper = Number(data.get("upper_ft"));
    const doc = {};
    for (const key of ["kind", "priority", "units", "share_units", "volumes", "route"]) if (act[key] !== undefined && act[key] !== null) doc[key] = act[key];
    if (!act.addressed_to_all && act.addressees) doc.addressees = act.addressees;
    // A time left as it was keeps its seconds (the form shows minutes only).
    const when = (field) => (new Date(act[field]).toISOString().slice(0, 16) === data.get(field) ? act[field] : utc(data.get(field)));
    Object.assign(doc, { text: String(data.get("text") || ""), contact: String(data.get("contact") || "").trim(), start: when("start"), end: when("end") });
    // A volume with the activity's own window moves with it.
    const window = (v) => ({ ...(v.start === act.start ? { start: doc.start } : {}), ...(v.end === act.end ? { end: doc.end } : {}) });
    if (doc.volumes) doc.volumes = doc.volumes.map((v) => ({ ...v, lower_ft: lower, upper_ft: upper, ...window(v) }));
    if (doc.route) doc.route = { ...doc.route, lower_ft: lower, upper_ft: upper };
    const r = await this.app.api.amendActivity(act.id, act.version, doc);
    if (!r.ok) { this.error = t("common.refused", { why: (r.data && (r.data.detail || r.data.title)) || r.status }); this.render(); return; }
    this.error = "";
    this.amending = null;
    this.message = t("activities.amended", { name: activityName(r.data.activity), version: r.data.activity.version });
    this.signature = "";
    await this.load();
    await this.select(act.id);
  }

  showOnMap(act) {
    const g = activityGeometries(act)[0];
    const first = g && (g.type === "Polygon" ? g.coordinates[0][0] : g.type === "LineString" ? g.coordinates[0] : null);
    if (first) this.app.map.flyTo(first[0], first[1]);
  }

  startDraft(kind) {
    this.mode = "draft";
    this.draft = { kind, geometry: null };
    this.app.map.startDraft(kind === "route" ? "route" : "polygon", (geometry) => { this.draft.geometry = geometry; this.render(); });
    this.render();
  }

  renderDraft() {
    const d = this.draft;
    const now = new Date(this.app.clock.nowMs());
    const iso = (ms) => new Date(ms).toISOString().slice(0, 16);
    const others = this.app.parties.filter((p) => p.id !== this.app.partyId);
    const form = h("form.stack#activity-form", { onsubmit: (e) => { e.preventDefault(); this.submit(new FormData(e.target)); } },
      h("h2", {}, d.kind === "route" ? t("activities.new_route") : t("activities.new_area")),
      h("p.muted", {}, d.geometry ? t("activities.shape_drawn") : d.kind === "route" ? t("activities.draw_route_help") : t("activities.draw_area_help")),
      d.geometry ? null : h("div.toolbar", {},
        h("label", {}, t("activities.point"), h("input", { id: "draft-point", placeholder: "35.20, 38.90", onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); this.typedPoint(); } } })),
        h("button", { type: "button", onclick: () => this.typedPoint() }, t("activities.add_point")),
        h("button", { type: "button", id: "draft-finish", onclick: () => this.app.map.finishDraft() }, t("activities.finish_shape"))),
      h("label", {}, t("activities.kind"), h("select", { name: "kind" }, KINDS.map((k) => h("option", { value: k }, tv("activity_kind", k))))),
      h("label", {}, t("activities.contact"), h("input", { name: "contact", required: true, placeholder: t("activities.contact_hint") })),
      h("label", {}, t("activities.text"), h("input", { name: "text", maxlength: 4000, placeholder: t("activities.text_hint") })),
      h("label", {}, t("activities.start_utc"), h("input", { name: "start", type: "datetime-local", required: true, value: iso(now.getTime() + 2 * 3600_000) })),
      h("label", {}, t("activities.end_utc"), h("input", { name: "end", type: "datetime-local", required: true, value: iso(now.getTime() + 4 * 3600_000) })),
      h("label", {}, t("activities.lower_ft"), h("input", { name: "lower_ft", type: "number", value: 0, min: 0 })),
      h("label", {}, t("activities.upper_ft"), h("input", { name: "upper_ft", type: "number", value: 20000, min: 0 })),
      d.kind === "route" ? h("label", {}, t("activities.half_width_m"), h("input", { name: "half_width_m", type: "number", value: 2000, min: 1 })) : null,
      h("fieldset", {}, h("legend", {}, t("activities.addressees")),
        others.map((p) => h("label.check", {}, h("input", { type: "checkbox", name: "addressees", value: p.id, checked: true }), ` ${p.name}`))),
      this.error ? h("p.error", { role: "alert" }, this.error) : null,
      h("div.toolbar", {},
        h("button.primary", { type: "submit", disabled: !d.geometry }, t("activities.notify")),
        h("button", { type: "button", onclick: () => this.endDraft() }, t("common.cancel"))));
    this.root.append(form);
  }

  /** Keyboard entry of a vertex: "lat, lon" in degrees. */
  typedPoint() {
    const input = this.root.querySelector("#draft-point");
    const [lat, lon] = input.value.split(/[ ,;]+/).map(Number);
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      input.setCustomValidity(t("activities.point_invalid"));
      input.reportValidity();
      return;
    }
    input.setCustomValidity("");
    this.app.map.addDraftPoint(lon, lat);
    input.value = "";
  }

  endDraft() {
    this.app.map.cancelDraft();
    this.app.map.showDraft(null);
    this.mode = "list";
    this.error = "";
    this.render();
  }

  async submit(data) {
    const utc = (v) => `${v}:00Z`;
    const draft = {
      kind: data.get("kind"), contact: String(data.get("contact") || "").trim(), text: String(data.get("text") || ""),
      start: utc(data.get("start")), end: utc(data.get("end")),
      lower_ft: Number(data.get("lower_ft")), upper_ft: Number(data.get("upper_ft")),
      half_width_m: data.get("half_width_m") ? Number(data.get("half_width_m")) : undefined,
      addressees: data.getAll("addressees"), geometry: this.draft.geometry,
    };
    const r = await this.app.api.notifyActivity(draft);
    if (!r.ok) {
      this.error = t("common.refused", { why: (r.data && (r.data.detail || r.data.title)) || r.status });
      this.render();
      return;
    }
    const conflicts = r.data.conflicts_total ?? (r.data.conflicts || []).length;
    this.message = [t("activities.notified", { name: activityName(r.data.activity) }), conflicts ? t("activities.with_conflicts", { n: conflicts }) : "", r.data.late_notice ? t("activities.late_notice") : ""].filter(Boolean).join(" · ");
    this.selected = r.data.activity.id;
    this.named.add(this.selected); // shown even where the loaded pages do not reach it
    this.endDraft();
    await this.load();
  }
}

/** The activities a stream event names: its activity's, or those its conflicts name (an activity.conflict,
 * schema 2, holds at most activity_event_max_conflicts across a batch's activities, each naming its
 * activity_id, or the party's own your_activity_id it overlaps; the rest are read with the pages). */
function activityIds(payload) {
  if (!payload) return [];
  const named = Array.isArray(payload.conflicts) ? payload.conflicts.flatMap((c) => (c ? [c.activity_id, c.your_activity_id] : [])) : [];
  return [payload.activity_id, payload.activity && payload.activity.id, ...named].filter((id) => typeof id === "string");
}

/** The status shown in the list: the activity's, and where this party stands. */
function statusLine(act, own) {
  if (!act.kind) return t("activities.conflict");
  const status = tv("activity_status", act.status);
  if (act.party === own) {
    const pending = (act.not_acknowledged || []).length;
    return pending ? `${status} · ${t("activities.not_acked_count", { n: pending })}` : status;
  }
  const mine = act.your_acknowledgement;
  return mine ? `${status} · ${t("activities.you", { state: tv("ack_state", mine.state) })}` : status;
}

/** An activity as people name it: its kind and short label (or text), not its id. */
export function activityName(act) {
  if (!act || !act.kind) return (act && act.id) || "";
  const label = (act.text || "").trim().split(/\n/)[0];
  const short = label.length > 40 ? `${label.slice(0, 39).replace(/\s+\S*$/, "")}…` : label;
  return short ? `${tv("activity_kind", act.kind)} · ${short}` : tv("activity_kind", act.kind);
}

function deadlineText(iso, clock) {
  const left = clock.secondsUntil(iso);
  return Number.isNaN(left) ? iso : left <= 0 ? t("activities.overdue", { by: duration(-left) }) : t("activities.left", { left: duration(left) });
}
