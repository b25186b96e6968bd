// The Zone proposals panel (docs/console.md, "Zone proposals"): shapes a party proposed as zones (drawn on
// its TAK: docs/interop/tak.md) and what became of them. A party's keys see their own party's only,
// pending and decided (the zone it became, or why it was refused); the admin sees every party's, the
// pending ones first, and accepts one as an agreed zone or refuses it with a reason. Names, sources and
// remarks are another party's words: they are only ever put in the page as text (dom.js).
import { clear, dateClock, h } from "./dom.js";
import { num, t, tv } from "./i18n.js";
import { bounds } from "./map.js";
import { PagedList } from "./pages.js";

/** The list's filter: the API's ``state`` (null for every state). */
const FILTERS = { pending: "proposals.filter_pending", accepted: "proposals.filter_accepted", refused: "proposals.filter_refused", all: "proposals.filter_all" };
/** A geometry's type in the reader's words. */
const SHAPES = { Polygon: "proposals.polygon", LineString: "proposals.line", Point: "proposals.circle" };
const AREA_KINDS = ["de-escalation-zone", "special-caution-area", "restricted-operating-zone", "protected-site"];
/** The zone kinds a proposal's geometry may become (domain/zones.py, GEOMETRY_TYPES_BY_KIND). */
const KINDS_BY_TYPE = { Polygon: AREA_KINDS, Point: AREA_KINDS, LineString: ["deconfliction-line"] };

export class ProposalsPanel {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.items = [];
    this.selected = null;
    this.message = "";
    this.error = ""; // the API's refusal of the reader's last decision
    this.unread = false; // the last read of the list failed (what was shown stays)
    // The admin decides what waits; a party reads what became of everything it proposed.
    this.filter = app.isAdmin ? "pending" : "all";
    this.list = this.pagedList();
    this.named = new Set(); // proposals the stream named since the last load
  }

  pagedList() {
    const state = this.filter === "all" ? null : this.filter;
    return new PagedList((next) => this.app.api.zoneProposals(state, next), (id) => this.app.api.zoneProposal(id));
  }

  /** A proposal.* event (the proposing party's stream only): the proposal it names is read again. */
  onEvent(kind, data) {
    const id = data && data.payload && data.payload.proposal_id;
    if (typeof id === "string") this.named.add(id);
    this.app.refresh("proposals");
  }

  /** Read again the pages loaded, and alone each proposal the stream named that they do not hold. */
  async load() {
    const named = [...this.named];
    this.named.clear();
    const read = await this.list.reload();
    if (!read) {
      named.forEach((id) => this.named.add(id));
      this.unread = true;
      this.render();
      return;
    }
    this.unread = false;
    await this.list.bringIn(named);
    this.show();
  }

  async loadMore() {
    this.unread = !(await this.list.loadMore());
    if (this.unread) this.render(); else this.show();
  }

  show() {
    // One brought in live that no longer matches the filter (decided meanwhile) is not listed under it.
    this.items = this.list.items.filter((p) => this.filter === "all" || p.state === this.filter);
    const shown = this.items.find((p) => p.id === this.selected);
    this.app.map.setProposal(shown || null);
    if (!shown) this.selected = null;
    this.render();
  }

  setFilter(value) {
    this.filter = value in FILTERS ? value : "all";
    this.list = this.pagedList();
    this.selected = null;
    this.app.refresh("proposals");
  }

  select(id) {
    this.selected = this.selected === id ? null : id;
    this.error = "";
    this.app.map.setProposal(this.items.find((p) => p.id === this.selected) || null);
    this.render();
  }

  render() {
    clear(this.root);
    this.root.append(h("div.toolbar", {},
      h("h2", {}, this.app.isAdmin ? t("proposals.title_admin") : t("proposals.title")),
      h("label", {}, t("proposals.filter"), " ",
        h("select", { id: "proposals-filter", onchange: (e) => this.setFilter(e.target.value) },
          Object.entries(FILTERS).map(([f, key]) => h("option", { value: f, selected: f === this.filter }, t(key))))),
      h("button", { type: "button", id: "proposals-reload", onclick: () => this.app.refresh("proposals") }, t("proposals.reload"))));
    this.root.append(h("p.muted", {}, this.app.isAdmin ? t("proposals.help_admin") : t("proposals.help")));
    if (this.message) this.root.append(h("p.muted#proposals-message", { role: "status" }, this.message));
    if (this.error) this.root.append(h("p.error#proposals-error", { role: "alert" }, this.error));
    if (this.unread) this.root.append(h("p.error#proposals-unread", { role: "alert" }, t("proposals.load_failed")));
    if (!this.items.length) this.root.append(h("p.muted#proposals-empty", {}, t("proposals.none")));
    const list = h("ul.list#proposals-list", { "aria-label": t("proposals.title") });
    for (const p of this.items) {
      list.append(h("li", { dataset: { proposal: p.id, state: p.state } },
        h("button", { type: "button", "aria-current": String(this.selected === p.id), onclick: () => this.select(p.id) },
          h("strong.proposal-name", {}, p.name),
          h(`span.proposal-state.state-${p.state}`, {}, tv("proposal_state", p.state)),
          this.app.isAdmin ? h("span.muted", {}, this.app.partyName(p.party_id)) : null,
          h("span.muted", {}, t("proposals.proposed_at", { time: dateClock(isoOf(p.proposed_s)) })),
          p.state !== "pending" ? h("span.muted", {}, decision(p)) : null)));
    }
    this.root.append(list);
    if (this.list.more) this.root.append(h("button.more#proposals-more", { type: "button", onclick: () => this.loadMore() }, t("common.load_more")));
    const p = this.items.find((x) => x.id === this.selected);
    if (p) this.root.append(this.detail(p));
  }

  detail(p) {
    const g = p.geometry;
    const box = g ? bounds([g]) : null;
    const corner = ([lon, lat]) => `${num(lat, 3)}, ${num(lon, 3)}`;
    return h("section.detail#proposal-detail", { "aria-label": t("proposals.detail") },
      h("h3", {}, p.name),
      h("p.muted", {}, p.id),
      h("p", {}, t("proposals.from", { party: this.app.partyName(p.party_id), source: p.source })),
      h("p", {}, `${tv("proposal_state", p.state)} · ${t("proposals.proposed_at", { time: dateClock(isoOf(p.proposed_s)) })}`),
      p.state !== "pending" ? h("p#proposal-decision", {}, decision(p)) : null,
      p.remarks ? h("p", {}, t("proposals.remarks", { text: p.remarks })) : null,
      g ? h("p.muted#proposal-shape", {}, t("proposals.shape", { type: SHAPES[g.type] ? t(SHAPES[g.type]) : g.type, n: positions(g) }),
        p.radius_m ? ` · ${t("proposals.radius", { km: num(p.radius_m / 1000, 1) })}` : "") : null,
      box ? h("p.muted#proposal-bounds", {}, t("proposals.bounds", { sw: corner(box[0]), ne: corner(box[1]) })) : null,
      (p.problems || []).length ? h("p.error", {}, t("proposals.problems", { list: p.problems.join("; ") })) : null,
      this.app.isAdmin && p.state === "pending" ? this.decideForm(p) : null);
  }

  /** The admin's decision: accept as a zone (its id, kind, a line's buffer) or refuse with a reason. */
  decideForm(p) {
    const type = p.geometry ? p.geometry.type : null;
    const kinds = KINDS_BY_TYPE[type] || [];
    const accept = kinds.length
      ? h("form.stack#proposal-accept-form", { onsubmit: (e) => { e.preventDefault(); this.accept(p, new FormData(e.target)); } },
        h("h3", {}, t("proposals.accept_title")),
        h("label", {}, t("proposals.zone_id"), h("input", { name: "zone_id", id: "proposal-zone-id", required: true, maxlength: 200, value: p.id.replace(/^zp-/, "zone-") })),
        h("label", {}, t("proposals.kind"), h("select", { name: "kind", id: "proposal-kind" }, kinds.map((k) => h("option", { value: k }, tv("zone_kind", k))))),
        type === "LineString" ? h("label", {}, t("proposals.buffer_m"), h("input", { name: "buffer_m", id: "proposal-buffer", type: "number", min: 1, required: true, value: 1000 })) : null,
        h("div.toolbar", {}, h("button.primary", { type: "submit", id: "proposal-accept" }, t("proposals.accept"))))
      : null;
    const refuse = h("form.stack#proposal-refuse-form", { onsubmit: (e) => { e.preventDefault(); this.refuse(p, new FormData(e.target)); } },
      h("label", {}, t("proposals.reason"), h("input", { name: "reason", id: "proposal-reason", required: true, maxlength: 2000, placeholder: t("proposals.reason_hint") })),
      h("div.toolbar", {}, h("button.danger", { type: "submit", id: "proposal-refuse" }, t("proposals.refuse"))));
    return h("div", {}, accept, refuse);
  }

  async accept(p, data) {
    const properties = {};
    if (data.get("buffer_m")) properties.buffer_m = Number(data.get("buffer_m"));
    const zoneId = String(data.get("zone_id") || "").trim();
    const r = await this.app.api.acceptZoneProposal(p.id, zoneId, String(data.get("kind")), properties);
    await this.decided(r, () => t("proposals.accepted", { name: p.name, zone: r.data.zone_id }));
    if (r.ok) this.app.refresh("zones");
  }

  async refuse(p, data) {
    const reason = String(data.get("reason") || "").trim();
    if (!reason) return;
    const r = await this.app.api.refuseZoneProposal(p.id, reason);
    await this.decided(r, () => t("proposals.refused", { name: p.name }));
  }

  /** After a decision: what happened (or the API's refusal: a 409 when another admin decided first,
   * a 422 naming the field, a 429 when too fast), then the list as the server now holds it. */
  async decided(r, said) {
    if (r.ok) { this.message = said(); this.error = ""; this.selected = null; }
    else { this.message = ""; this.error = refusal(r); }
    this.render();
    await this.app.refresh("proposals");
  }
}

/** The API's refusal in the reader's words: its detail (each field's problem), else its title or status. */
function refusal(r) {
  const data = r.data || {};
  const errors = Array.isArray(data.errors) && data.errors.length && !data.errors.every((e) => e === data.detail) ? data.errors.join("; ") : "";
  return t("common.refused", { why: [r.status, data.detail || data.title, errors].filter(Boolean).join(" · ") });
}

/** What became of a decided proposal: the zone it became, or why it was refused, and when. */
function decision(p) {
  const when = dateClock(isoOf(p.decided_s));
  if (p.state === "accepted") return t("proposals.became", { zone: p.zone_id || "", time: when });
  if (p.state === "refused") return t("proposals.refused_because", { reason: p.reason || "", time: when });
  return "";
}

/** How many positions a GeoJSON geometry has (a Point one). */
function positions(g) {
  if (g.type === "Point") return 1;
  if (g.type === "LineString") return g.coordinates.length;
  if (g.type === "Polygon") return g.coordinates.reduce((n, ring) => n + ring.length, 0);
  return 0;
}

function isoOf(seconds) {
  return seconds === null || seconds === undefined ? "" : new Date(seconds * 1000).toISOString();
}
