// The Activities panel: notified activities, their detail and responses, and notifying a new one
// by drawing a polygon or a route on the map.
import { clear, clock, duration, h, unavailable } from "./dom.js";
import { activityGeometries } from "./map.js";

const KINDS = ["air-operation", "ground-movement", "naval-movement", "surveillance-flight", "humanitarian-movement", "humanitarian-site", "other"];

export class ActivitiesPanel {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.items = [];
    this.missing = false;
    this.selected = null;
    this.mode = "list"; // list | draft
    this.message = "";
  }

  async load() {
    const r = await this.app.api.activities();
    if (r.missing) { this.missing = true; this.render(); return; }
    if (!r.ok) return;
    this.missing = false;
    this.items = Array.isArray(r.data) ? r.data : r.data.activities || [];
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
    if (this.missing) { this.root.append(h("h2", {}, "Activities"), unavailable("Strategic deconfliction (activities)")); return; }
    if (this.mode === "draft") { this.renderDraft(); return; }
    this.root.append(h("div.toolbar", {},
      h("h2", {}, "Activities"),
      this.app.canAct ? h("button.primary", { type: "button", id: "notify-polygon", onclick: () => this.startDraft("polygon") }, "Notify: draw area") : null,
      this.app.canAct ? h("button", { type: "button", id: "notify-route", onclick: () => this.startDraft("route") }, "Notify: draw route") : null));
    if (this.message) this.root.append(h("p.muted", { role: "status" }, this.message));
    if (!this.items.length) this.root.append(h("p.muted", {}, "No activities notified to or by your party."));
    const list = h("ul.list#activities-list");
    for (const act of this.items) {
      const mine = act.party === this.app.partyId;
      const overlapOnly = !act.kind;
      list.append(h("li", { dataset: { activity: act.id } },
        h("button", { type: "button", "aria-current": String(this.selected === act.id), onclick: () => this.select(act.id) },
          h("strong", {}, overlapOnly ? "Conflict with one of ours" : `${act.kind} · ${act.id}`),
          h("span.muted", {}, overlapOnly ? "another party's activity (overlap only)" : mine ? "ours" : `from ${this.app.partyName(act.party)}`),
          overlapOnly ? null : h("span.muted", {}, `${clock(act.start)}–${clock(act.end)}`),
          h("span", {}, statusLine(act, this.app.partyId)))));
    }
    this.root.append(list);
    const act = this.items.find((a) => a.id === this.selected);
    if (act) this.root.append(this.detail(act));
  }

  async select(id) {
    this.selected = id;
    const r = await this.app.api.activity(id);
    if (r.ok) this.items = this.items.map((a) => (a.id === id ? { id, ...r.data } : a));
    this.render();
  }

  detail(act) {
    const own = this.app.partyId;
    if (!act.kind) return this.overlapDetail(act);
    const mine = act.party === own;
    const respond = (what) => async () => {
      let reason = "";
      if (what === "object" || what === "cancel") {
        reason = (window.prompt(what === "object" ? "Reason for the objection" : "Reason for cancelling") || "").trim();
        if (what === "object" && !reason) return;
      }
      const r = await this.app.api.respondActivity(act.id, what, act.version, reason);
      this.message = r.ok ? `${what} sent (version ${act.version})` : `refused: ${(r.data && r.data.detail) || r.status}`;
      await this.load();
      await this.select(act.id);
    };
    const mineAck = act.your_acknowledgement;
    const table = mine
      ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Addressee"), h("th", {}, "Status"), h("th", {}, "Deadline"))),
        h("tbody", {}, (act.acknowledgements || []).map((a) => h("tr", { dataset: { party: a.party } },
          h("td", {}, this.app.partyName(a.party)),
          h(`td.status-${a.state}`, {}, a.state + (a.reason ? `: ${a.reason}` : "") + (a.escalation_level ? ` (escalated ×${a.escalation_level})` : "")),
          h("td", a.due && a.state === "pending" ? { dataset: { deadline: a.due } } : {}, a.due && a.state === "pending" ? deadlineText(a.due, this.app.clock) : a.answered ? `answered ${clock(a.answered)}` : "—")))))
      : mineAck
        ? h("p", { dataset: mineAck.due && mineAck.state === "pending" ? {} : {} },
          `Your answer: ${mineAck.state}`,
          mineAck.state === "pending" && mineAck.due ? h("span", { dataset: { deadline: mineAck.due } }, ` · ${deadlineText(mineAck.due, this.app.clock)}`) : null)
        : null;
    const conflicts = (act.conflicts || []).map((c) => `${c.kind}: ${c.reason || c.target_id || ""}`);
    const canAnswer = this.app.canAct && !mine && mineAck && act.status !== "cancelled";
    return h("section.detail", { "aria-label": "Activity detail" },
      h("h3", {}, `${act.kind} · ${act.id}`),
      h("p", {}, `${clock(act.start)} to ${clock(act.end)} · ${act.priority || ""} · version ${act.version} · ${act.status}`),
      act.text ? h("p", {}, act.text) : null,
      act.contact ? h("p.muted", {}, `Contact: ${act.contact}`) : null,
      conflicts.length ? h("p.error", {}, `Conflicts: ${conflicts.join("; ")}`) : null,
      act.notice && act.notice.late ? h("p.error", {}, "Late notice") : null,
      table,
      h("div.toolbar", {},
        canAnswer ? h("button.primary", { type: "button", onclick: respond("acknowledge") }, "Acknowledge") : null,
        canAnswer ? h("button.danger", { type: "button", onclick: respond("object") }, "Object") : null,
        this.app.canAct && mine && !["cancelled", "completed"].includes(act.status) ? h("button.danger", { type: "button", onclick: respond("cancel") }, "Cancel activity") : null,
        h("button", { type: "button", onclick: () => this.showOnMap(act) }, "Show on map")));
  }

  /** A party not addressed sees only where, when and in which band another party's activity overlaps its own. */
  overlapDetail(act) {
    return h("section.detail", { "aria-label": "Activity detail" },
      h("h3", {}, "Conflict with one of our activities"),
      h("ul", {}, (act.conflicts || []).map((c) => h("li", {},
        `our ${c.your_activity_id} (v${c.your_activity_version}): ${clock(c.start)}–${clock(c.end)}, ${c.lower_ft}–${c.upper_ft} ft`))),
      h("button", { type: "button", onclick: () => this.showOnMap(act) }, "Show on map"));
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
      h("h2", {}, d.kind === "route" ? "New activity: route" : "New activity: area"),
      h("p.muted", {}, d.geometry ? "Shape drawn." : `Click the map to place points; double-click or press Finish to close the ${d.kind === "route" ? "route" : "area"}.`),
      d.geometry ? null : h("div.toolbar", {},
        h("label", {}, "Point (lat, lon)", h("input", { id: "draft-point", placeholder: "35.20, 38.90", onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); this.typedPoint(); } } })),
        h("button", { type: "button", onclick: () => this.typedPoint() }, "Add point"),
        h("button", { type: "button", id: "draft-finish", onclick: () => this.app.map.finishDraft() }, "Finish shape")),
      h("label", {}, "Kind", h("select", { name: "kind" }, KINDS.map((k) => h("option", { value: k }, k)))),
      h("label", {}, "Contact", h("input", { name: "contact", required: true, placeholder: "duty officer, hotline" })),
      h("label", {}, "Text", h("input", { name: "text", maxlength: 4000 })),
      h("label", {}, "Start (UTC)", h("input", { name: "start", type: "datetime-local", required: true, value: iso(now.getTime() + 2 * 3600_000) })),
      h("label", {}, "End (UTC)", h("input", { name: "end", type: "datetime-local", required: true, value: iso(now.getTime() + 4 * 3600_000) })),
      h("label", {}, "Lower (ft)", h("input", { name: "lower_ft", type: "number", value: 0, min: 0 })),
      h("label", {}, "Upper (ft)", h("input", { name: "upper_ft", type: "number", value: 20000, min: 0 })),
      d.kind === "route" ? h("label", {}, "Corridor half-width (m)", h("input", { name: "half_width_m", type: "number", value: 2000, min: 1 })) : null,
      h("fieldset", {}, h("legend", {}, "Addressees"),
        others.map((p) => h("label.check", {}, h("input", { type: "checkbox", name: "addressees", value: p.id, checked: true }), ` ${p.name}`))),
      this.error ? h("p.error", { role: "alert" }, this.error) : null,
      h("div.toolbar", {},
        h("button.primary", { type: "submit", disabled: !d.geometry }, "Notify"),
        h("button", { type: "button", onclick: () => this.endDraft() }, "Cancel")));
    this.root.append(form);
  }

  /** Keyboard entry of a vertex: "lat, lon" in degrees. */
  typedPoint() {
    const input = this.root.querySelector("#draft-point");
    const [lat, lon] = input.value.split(/[ ,;]+/).map(Number);
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      input.setCustomValidity("give latitude and longitude in degrees, e.g. 35.20, 38.90");
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
      this.error = r.missing ? "Notifying activities is not available on this server yet." : `Refused: ${(r.data && (r.data.detail || r.data.title)) || r.status}`;
      this.render();
      return;
    }
    const conflicts = (r.data.conflicts || []).length;
    this.message = `Notified ${r.data.activity.id}${conflicts ? ` with ${conflicts} conflict(s)` : ""}${r.data.late_notice ? " (late notice)" : ""}.`;
    this.selected = r.data.activity.id;
    this.endDraft();
    await this.load();
  }
}

/** The status shown in the list: the activity's, and where this party stands. */
function statusLine(act, own) {
  if (!act.kind) return "conflict";
  if (act.party === own) {
    const pending = (act.not_acknowledged || []).length;
    return `${act.status}${pending ? ` · ${pending} not acknowledged` : ""}`;
  }
  const mine = act.your_acknowledgement;
  return `${act.status}${mine ? ` · you: ${mine.state}` : ""}`;
}

function deadlineText(iso, clock) {
  const left = clock.secondsUntil(iso);
  return Number.isNaN(left) ? iso : left <= 0 ? `overdue ${duration(-left)}` : `${duration(left)} left`;
}
