// The Activities panel: notified activities, their detail and responses, and notifying a new one
// by drawing a polygon or a route on the map.
import { clear, clock, duration, h, unavailable } from "./dom.js";

const KINDS = ["air-operation", "ground-movement", "convoy", "strike", "humanitarian", "exercise", "other"];

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
      el.textContent = deadlineText(el.dataset.deadline);
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
      const mine = notifierOf(act) === this.app.partyId;
      list.append(h("li", { dataset: { activity: act.id } },
        h("button", { type: "button", "aria-current": String(this.selected === act.id), onclick: () => this.select(act.id) },
          h("strong", {}, act.name || act.kind || act.id),
          h("span.muted", {}, mine ? "ours" : `from ${this.app.partyName(notifierOf(act))}`),
          h("span.muted", {}, `${clock(startOf(act))}–${clock(endOf(act))}`),
          h("span", {}, act.status || ""))));
    }
    this.root.append(list);
    const act = this.items.find((a) => a.id === this.selected);
    if (act) this.root.append(this.detail(act));
  }

  async select(id) {
    this.selected = id;
    const r = await this.app.api.activity(id);
    if (r.ok) this.items = this.items.map((a) => (a.id === id ? r.data : a));
    this.render();
  }

  detail(act) {
    const mine = notifierOf(act) === this.app.partyId;
    const addressees = addresseesOf(act);
    const myEntry = addressees.find((a) => a.party_id === this.app.partyId);
    const rows = addressees.map((a) => h("tr", {},
      h("td", {}, this.app.partyName(a.party_id)),
      h(`td.status-${a.status || "pending"}`, {}, a.status || "pending"),
      h("td", a.deadline && (a.status || "pending") === "pending" ? { dataset: { deadline: a.deadline } } : {}, a.deadline ? deadlineText(a.deadline) : "—")));
    const respond = (what) => async () => {
      const reason = what === "object" ? window.prompt("Reason for the objection") || "" : "";
      const r = await this.app.api.respondActivity(act.id, what, reason);
      this.message = r.ok ? `${what} sent` : `refused: ${(r.data && r.data.detail) || r.status}`;
      await this.load();
      await this.select(act.id);
    };
    return h("section.detail", { "aria-label": "Activity detail" },
      h("h3", {}, act.name || act.kind),
      h("p", {}, `${act.kind || ""} · ${clock(startOf(act))} to ${clock(endOf(act))}`),
      act.conflicts && act.conflicts.length ? h("p.error", {}, `Conflicts: ${act.conflicts.map((c) => c.description || c.id || c.kind).join("; ")}`) : null,
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Addressee"), h("th", {}, "Status"), h("th", {}, "Deadline"))), h("tbody", {}, rows)),
      h("div.toolbar", {},
        this.app.canAct && myEntry && !mine ? h("button.primary", { type: "button", onclick: respond("acknowledge") }, "Acknowledge") : null,
        this.app.canAct && myEntry && !mine ? h("button.danger", { type: "button", onclick: respond("object") }, "Object") : null,
        this.app.canAct && mine && act.status !== "cancelled" ? h("button.danger", { type: "button", onclick: respond("cancel") }, "Cancel activity") : null,
        h("button", { type: "button", onclick: () => this.showOnMap(act) }, "Show on map")));
  }

  showOnMap(act) {
    const first = JSON.stringify((act.volumes || [])[0] || act.route || {}).match(/\[(-?\d+\.?\d*),(-?\d+\.?\d*)\]/);
    if (first) this.app.map.flyTo(Number(first[1]), Number(first[2]));
  }

  startDraft(kind) {
    this.mode = "draft";
    this.draft = { kind, geometry: null };
    this.app.map.startDraft(kind === "route" ? "route" : "polygon", (geometry) => { this.draft.geometry = geometry; this.render(); });
    this.render();
  }

  renderDraft() {
    const d = this.draft;
    const now = new Date();
    const iso = (ms) => new Date(ms).toISOString().slice(0, 16);
    const others = this.app.parties.filter((p) => p.id !== this.app.partyId);
    const form = h("form.stack#activity-form", { onsubmit: (e) => { e.preventDefault(); this.submit(new FormData(e.target)); } },
      h("h2", {}, d.kind === "route" ? "New activity: route" : "New activity: area"),
      h("p.muted", {}, d.geometry ? "Shape drawn." : `Click the map to place points; double-click or press Finish to close the ${d.kind === "route" ? "route" : "area"}.`),
      d.geometry ? null : h("div.toolbar", {},
        h("label", {}, "Point (lat, lon)", h("input", { id: "draft-point", placeholder: "35.20, 38.90", onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); this.typedPoint(); } } })),
        h("button", { type: "button", onclick: () => this.typedPoint() }, "Add point"),
        h("button", { type: "button", id: "draft-finish", onclick: () => this.app.map.finishDraft() }, "Finish shape")),
      h("label", {}, "Name", h("input", { name: "name", required: true })),
      h("label", {}, "Kind", h("select", { name: "kind" }, KINDS.map((k) => h("option", { value: k }, k)))),
      h("label", {}, "Start (UTC)", h("input", { name: "start", type: "datetime-local", required: true, value: iso(now.getTime() + 2 * 3600_000) })),
      h("label", {}, "End (UTC)", h("input", { name: "end", type: "datetime-local", required: true, value: iso(now.getTime() + 4 * 3600_000) })),
      h("label", {}, "Lower (ft)", h("input", { name: "lower_ft", type: "number", value: 0, min: 0 })),
      h("label", {}, "Upper (ft)", h("input", { name: "upper_ft", type: "number", value: 20000, min: 0 })),
      d.kind === "route" ? h("label", {}, "Corridor width (m)", h("input", { name: "width_m", type: "number", value: 5000, min: 1 })) : null,
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
      name: data.get("name"), kind: data.get("kind"), start: utc(data.get("start")), end: utc(data.get("end")),
      lower_ft: Number(data.get("lower_ft")), upper_ft: Number(data.get("upper_ft")),
      width_m: data.get("width_m") ? Number(data.get("width_m")) : undefined,
      addressees: data.getAll("addressees"), geometry: this.draft.geometry,
    };
    const r = await this.app.api.notifyActivity(draft);
    if (!r.ok) {
      this.error = r.missing ? "Notifying activities is not available on this server yet." : `Refused: ${(r.data && (r.data.detail || r.data.title)) || r.status}`;
      this.render();
      return;
    }
    this.message = `Notified ${draft.name}.`;
    this.selected = r.data && r.data.id;
    this.endDraft();
    await this.load();
  }
}

function notifierOf(act) { return act.notifier || act.party_id || act.notifier_party_id; }
function startOf(act) { return act.start || act.window?.start || act.valid_from; }
function endOf(act) { return act.end || act.window?.end || act.valid_until; }
function addresseesOf(act) {
  const list = act.addressees || act.responses || [];
  return list.map((a) => (typeof a === "string" ? { party_id: a } : a));
}

function deadlineText(iso) {
  const left = (Date.parse(iso) - Date.now()) / 1000;
  return Number.isNaN(left) ? iso : left <= 0 ? `overdue ${duration(-left)}` : `${duration(left)} left`;
}
