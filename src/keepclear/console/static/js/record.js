// The Record panel: incidents this party is involved in, each party's own accounts (a liaison adds or
// amends its own party's, never another's), the joint review, the HTML report and the ledger export.
import { clear, clock, dateClock, h } from "./dom.js";
import { has, t, tv } from "./i18n.js";
import { WitnessBox } from "./witness.js";
import { PagedList } from "./pages.js";

const REVIEW = ["open", "under-review", "agreed", "disputed", "closed"];

export class RecordPanel {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.items = [];
    this.selected = null;
    this.detail = null;
    this.message = "";
    this.witness = new WitnessBox(app);
    // The incidents a page at a time (pages.js): the first at start, the next on "Load more".
    this.list = new PagedList((next) => app.api.incidents(next), (id) => app.api.incident(id));
    this.named = new Set(); // incidents the stream named since the last load
  }

  /** A change on the stream: the incident it names is read with the loaded pages. */
  onEvent(kind, data) {
    const id = data && data.payload && data.payload.incident_id;
    if (typeof id === "string") this.named.add(id);
    this.app.refresh("record");
  }

  async load() {
    const witnessed = this.witness.load(); // beside the incidents, not before them: it renders its own box
    const named = [...this.named];
    this.named.clear();
    if (!(await this.list.reload())) { named.forEach((id) => this.named.add(id)); await witnessed; return; }
    await this.list.bringIn(named);
    this.items = this.list.items;
    if (this.selected && this.items.some((i) => i.id === this.selected)) await this.loadDetail(this.selected);
    this.render();
    await witnessed;
  }

  async loadMore() {
    if (!(await this.list.loadMore())) return;
    this.items = this.list.items;
    this.render();
  }

  async loadDetail(id) {
    const r = await this.app.api.incident(id);
    this.detail = r.ok ? r.data : null;
  }

  async select(id) {
    this.selected = id;
    this.message = "";
    await this.loadDetail(id);
    this.render();
    this.root.querySelector("#incident-detail h3")?.focus();
  }

  render() {
    // Keep what a liaison is typing across live re-renders.
    const typing = this.root.querySelector("#account-text");
    const draft = typing ? typing.value : "";
    const hadFocus = typing && document.activeElement === typing;
    clear(this.root);
    this.root.append(
      h("div.toolbar", {}, h("h2", {}, t("record.title")),
        h("button", { type: "button", id: "record-download", onclick: () => this.download() }, t("record.download"))),
      h("p.muted", { id: "record-verify" }, t("record.verify_help"), " ",
        h("code", {}, "keepclear ledger verify FILE")),
      this.witness.render());
    if (this.message) this.root.append(h("p.muted", { role: "status" }, this.message));
    if (!this.items.length) this.root.append(h("p.muted", { id: "record-empty" }, t("record.none")));
    const list = h("ul.list#incidents-list", { "aria-label": t("record.incidents") });
    for (const inc of this.items) {
      list.append(h("li", { dataset: { incident: inc.id } },
        h("button", { type: "button", "aria-current": String(this.selected === inc.id), onclick: () => this.select(inc.id) },
          h("strong", {}, `${tv("incident_kind", inc.kind)} · ${dateClock(inc.time)}`),
          h(`span.review-${inc.status}`, {}, tv("review", inc.status)),
          h("span.muted", {}, inc.parties.map((p) => this.app.partyName(p)).join(", ")),
          h("span", {}, this.summary(inc)),
          inc.evidence_sha256 ? h("span.muted", { title: t("record.evidence_hash", { hash: inc.evidence_sha256 }) }, t("record.evidence_short", { hash: `${inc.evidence_sha256.slice(0, 12)}…` })) : null)));
    }
    this.root.append(list);
    if (this.list.more) this.root.append(h("button.more#incidents-more", { type: "button", onclick: () => this.loadMore() }, t("common.load_more")));
    if (this.detail && this.detail.id === this.selected) this.root.append(this.renderDetail(this.detail, draft));
    if (hadFocus) {
      const input = this.root.querySelector("#account-text");
      if (input) { input.focus(); input.setSelectionRange(draft.length, draft.length); }
    }
  }

  /** What the incident is about: a party's report in its own words; an incident keepclear opened itself
   * (no reporter) worded in the reader's language from its kind, units and zone. */
  /** Who agrees and who disputes (the joint review agrees, and closes, once every involved party agrees). */
  stances(inc) {
    const names = (ps) => ps.map((p) => this.app.partyName(p)).join(", ");
    const said = [];
    if ((inc.agreed_by || []).length) said.push(t("record.agreed_by", { parties: names(inc.agreed_by) }));
    if ((inc.disputed_by || []).length) said.push(t("record.disputed_by", { parties: names(inc.disputed_by) }));
    return said.length ? said.join(" · ") : t("record.no_stances");
  }

  summary(inc) {
    if (inc.reported_by) return inc.summary;
    const key = `record.auto.${inc.kind}`;
    if (!has(key)) return inc.summary;
    const units = inc.unit_ids.map((u) => this.app.callsign(u)).join(", ");
    return t(key, { units, zone: inc.zone_id ? this.app.map.zoneLabel(inc.zone_id) : "" });
  }

  renderDetail(inc, draft) {
    const own = this.app.partyId;
    const accounts = inc.accounts || [];
    const mine = accounts.filter((a) => a.party_id === own);
    const accountItems = accounts.map((a) => h(`li.account${a.party_id === own ? ".own" : ""}`, { dataset: { party: a.party_id, position: a.position } },
      h("div.meta", {}, h("strong", {}, this.app.partyName(a.party_id)), ` #${a.position} · ${dateClock(a.written)}`,
        a.amends !== null && a.amends !== undefined ? ` · ${t("record.amends_n", { n: a.amends })}` : ""),
      h("p.text", {}, a.text)));
    const form = this.app.canAct
      ? h("form.stack#account-form", { onsubmit: (e) => { e.preventDefault(); this.submitAccount(inc.id, new FormData(e.target)); } },
        h("label", {}, t("record.our_account"), h("textarea", { id: "account-text", name: "text", rows: 4, maxlength: 20000, required: true }, draft)),
        h("label", {}, t("record.amends"), h("select", { name: "amends", id: "account-amends" },
          h("option", { value: "" }, t("record.amends_nothing")),
          mine.map((a) => h("option", { value: a.position }, t("record.our_account_n", { n: a.position }))))),
        h("div.toolbar", {}, h("button.primary", { type: "submit" }, t("record.add_account"))))
      : null;
    const review = this.app.canAct
      ? h("div.toolbar", { role: "group", "aria-label": t("record.review") },
        h("label", {}, t("record.review"), " ", h("select", { id: "review-status" }, REVIEW.map((s) => h("option", { value: s, selected: s === inc.status }, tv("review", s))))),
        h("button", { type: "button", id: "review-set", onclick: () => this.setReview(inc.id) }, t("record.set_review")))
      : null;
    return h("section.detail#incident-detail", { "aria-label": t("record.detail") },
      h("h3", { tabindex: -1 }, `${tv("incident_kind", inc.kind)} · ${inc.id}`),
      h("p", {}, `${dateClock(inc.time)} · ${tv("review", inc.status)} · ${inc.parties.map((p) => this.app.partyName(p)).join(", ")}`),
      h("p", {}, this.summary(inc)),
      h("p.muted#review-stances", {}, this.stances(inc)),
      inc.unit_ids.length ? h("p.muted", {}, t("record.units", { units: inc.unit_ids.map((u) => this.app.callsign(u)).join(", ") })) : null,
      h("p.muted.hash", {}, inc.evidence_sha256 ? t("record.evidence_hash", { hash: inc.evidence_sha256 }) : t("record.evidence_not_frozen")),
      h("div.toolbar", {}, h("button", { type: "button", id: "incident-report", onclick: () => this.openReport(inc.id) }, t("record.open_report"))),
      review,
      h("h3", {}, t("record.accounts")),
      accounts.length ? h("ul.accounts#accounts", {}, accountItems) : h("p.muted", {}, t("record.no_accounts")),
      form,
      this.error ? h("p.error", { role: "alert" }, this.error) : null,
      inc.timeline && inc.timeline.length
        ? h("details", {}, h("summary", {}, inc.timeline_total > inc.timeline.length
          ? t("record.timeline_capped", { shown: inc.timeline.length, n: inc.timeline_total })
          : t("record.timeline", { n: inc.timeline.length })),
          h("ul", {}, inc.timeline.map((e) => h("li", {}, `${clock(e.time_s)} ${tv("event", e.kind)}${e.party_id ? ` · ${this.app.partyName(e.party_id)}` : ""}`))))
        : null);
  }

  async submitAccount(id, data) {
    const text = String(data.get("text") || "").trim();
    if (!text) return;
    const amends = data.get("amends") ? Number(data.get("amends")) : null;
    const r = await this.app.api.addAccount(id, text, amends);
    this.error = r.ok ? "" : t("common.refused", { why: (r.data && (r.data.detail || r.data.title)) || r.status });
    if (r.ok) {
      this.message = t("record.account_added", { n: r.data.position });
      const input = this.root.querySelector("#account-text");
      if (input) input.value = "";
    }
    await this.load();
  }

  async setReview(id) {
    const status = this.root.querySelector("#review-status").value;
    const r = await this.app.api.setReview(id, status);
    this.message = r.ok ? t("record.review_set", { status: tv("review", status) }) : t("common.refused", { why: (r.data && (r.data.detail || r.data.title)) || r.status });
    await this.load();
  }

  /** The report needs the key, so it is fetched here and opened from a blob in a new tab. */
  async openReport(id) {
    const r = await this.app.api.incidentReport(id);
    if (!r.ok) { this.message = t("record.report_failed", { status: r.status }); this.render(); return; }
    const url = URL.createObjectURL(new Blob([r.text], { type: "text/html" }));
    window.open(url, "_blank");
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  async download() {
    const r = await this.app.api.exportRecord();
    if (!r.ok) { this.message = t("record.export_failed", { status: r.status }); this.render(); return; }
    const url = URL.createObjectURL(new Blob([JSON.stringify(r.data, null, 1)], { type: "application/json" }));
    const a = h("a", { href: url, download: `keepclear-record-${this.app.partyId}-${this.app.clock.nowIso().slice(0, 10)}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    this.message = t("record.saved");
    this.render();
  }
}
