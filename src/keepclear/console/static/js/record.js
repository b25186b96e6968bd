// The Record panel: incidents this party is involved in, each party's own accounts (a liaison adds or
// amends its own party's, never another's), the joint review, the HTML report and the ledger export.
import { clear, clock, h, unavailable } from "./dom.js";

const REVIEW = ["open", "under-review", "agreed", "disputed", "closed"];

export class RecordPanel {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.items = [];
    this.missing = false;
    this.selected = null;
    this.detail = null;
    this.message = "";
  }

  async load() {
    const r = await this.app.api.incidents();
    if (r.missing) { this.missing = true; this.render(); return; }
    if (!r.ok) return;
    this.missing = false;
    this.items = r.data;
    if (this.selected && this.items.some((i) => i.id === this.selected)) await this.loadDetail(this.selected);
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
    if (this.missing) { this.root.append(h("h2", {}, "Record"), unavailable("The shared record")); return; }
    this.root.append(
      h("div.toolbar", {}, h("h2", {}, "Record"),
        h("button", { type: "button", id: "record-download", onclick: () => this.download() }, "Download record")),
      h("p.muted", { id: "record-verify" }, "The download is this party's copy of the signed shared record; check it offline with ",
        h("code", {}, "keepclear ledger verify FILE"), "."));
    if (this.message) this.root.append(h("p.muted", { role: "status" }, this.message));
    if (!this.items.length) this.root.append(h("p.muted", { id: "record-empty" }, "No incidents involve your party."));
    const list = h("ul.list#incidents-list", { "aria-label": "Incidents" });
    for (const inc of this.items) {
      list.append(h("li", { dataset: { incident: inc.id } },
        h("button", { type: "button", "aria-current": String(this.selected === inc.id), onclick: () => this.select(inc.id) },
          h("strong", {}, `${inc.kind} · ${clock(inc.time)}`),
          h(`span.review-${inc.status}`, {}, inc.status),
          h("span.muted", {}, inc.parties.map((p) => this.app.partyName(p)).join(", ")),
          h("span", {}, inc.summary),
          inc.evidence_sha256 ? h("span.muted", { title: `evidence SHA-256 ${inc.evidence_sha256}` }, `evidence ${inc.evidence_sha256.slice(0, 12)}…`) : null)));
    }
    this.root.append(list);
    if (this.detail && this.detail.id === this.selected) this.root.append(this.renderDetail(this.detail, draft));
    if (hadFocus) {
      const input = this.root.querySelector("#account-text");
      if (input) { input.focus(); input.setSelectionRange(draft.length, draft.length); }
    }
  }

  renderDetail(inc, draft) {
    const own = this.app.partyId;
    const accounts = inc.accounts || [];
    const mine = accounts.filter((a) => a.party_id === own);
    const accountItems = accounts.map((a) => h(`li.account${a.party_id === own ? ".own" : ""}`, { dataset: { party: a.party_id, position: a.position } },
      h("div.meta", {}, h("strong", {}, this.app.partyName(a.party_id)), ` #${a.position} · ${clock(a.written)}`,
        a.amends !== null && a.amends !== undefined ? ` · amends #${a.amends}` : ""),
      h("p.text", {}, a.text)));
    const form = this.app.canAct
      ? h("form.stack#account-form", { onsubmit: (e) => { e.preventDefault(); this.submitAccount(inc.id, new FormData(e.target)); } },
        h("label", {}, "Our account", h("textarea", { id: "account-text", name: "text", rows: 4, maxlength: 20000, required: true }, draft)),
        h("label", {}, "Amends", h("select", { name: "amends", id: "account-amends" },
          h("option", { value: "" }, "nothing (a new account)"),
          mine.map((a) => h("option", { value: a.position }, `our account #${a.position}`)))),
        h("div.toolbar", {}, h("button.primary", { type: "submit" }, "Add our account")))
      : null;
    const review = this.app.canAct
      ? h("div.toolbar", { role: "group", "aria-label": "Review" },
        h("label", {}, "Review ", h("select", { id: "review-status" }, REVIEW.map((s) => h("option", { value: s, selected: s === inc.status }, s)))),
        h("button", { type: "button", id: "review-set", onclick: () => this.setReview(inc.id) }, "Set review"))
      : null;
    return h("section.detail#incident-detail", { "aria-label": "Incident detail" },
      h("h3", { tabindex: -1 }, `${inc.kind} · ${inc.id}`),
      h("p", {}, `${clock(inc.time)} · ${inc.status} · ${inc.parties.map((p) => this.app.partyName(p)).join(", ")}`),
      h("p", {}, inc.summary),
      inc.unit_ids.length ? h("p.muted", {}, `Units: ${inc.unit_ids.map((u) => this.app.callsign(u)).join(", ")}`) : null,
      h("p.muted.hash", {}, inc.evidence_sha256 ? `Evidence SHA-256 ${inc.evidence_sha256}` : "Evidence not frozen yet"),
      h("div.toolbar", {}, h("button", { type: "button", id: "incident-report", onclick: () => this.openReport(inc.id) }, "Open report")),
      review,
      h("h3", {}, "Accounts"),
      accounts.length ? h("ul.accounts#accounts", {}, accountItems) : h("p.muted", {}, "No accounts yet."),
      form,
      this.error ? h("p.error", { role: "alert" }, this.error) : null,
      inc.timeline && inc.timeline.length
        ? h("details", {}, h("summary", {}, `Timeline (${inc.timeline.length})`),
          h("ul", {}, inc.timeline.map((t) => h("li", {}, `${clock(t.time_s)} ${t.kind}${t.party_id ? ` · ${this.app.partyName(t.party_id)}` : ""}`))))
        : null);
  }

  async submitAccount(id, data) {
    const text = String(data.get("text") || "").trim();
    if (!text) return;
    const amends = data.get("amends") ? Number(data.get("amends")) : null;
    const r = await this.app.api.addAccount(id, text, amends);
    this.error = r.ok ? "" : `Refused: ${(r.data && (r.data.detail || r.data.title)) || r.status}`;
    if (r.ok) {
      this.message = `Account #${r.data.position} added.`;
      const input = this.root.querySelector("#account-text");
      if (input) input.value = "";
    }
    await this.load();
  }

  async setReview(id) {
    const status = this.root.querySelector("#review-status").value;
    const r = await this.app.api.setReview(id, status);
    this.message = r.ok ? `Review set to ${status}.` : `Refused: ${(r.data && (r.data.detail || r.data.title)) || r.status}`;
    await this.load();
  }

  /** The report needs the key, so it is fetched here and opened from a blob in a new tab. */
  async openReport(id) {
    const r = await this.app.api.incidentReport(id);
    if (!r.ok) { this.message = `The report could not be read (${r.status}).`; this.render(); return; }
    const url = URL.createObjectURL(new Blob([r.text], { type: "text/html" }));
    window.open(url, "_blank");
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  async download() {
    const r = await this.app.api.exportRecord();
    if (!r.ok) { this.message = `The record could not be exported (${r.status}).`; this.render(); return; }
    const url = URL.createObjectURL(new Blob([JSON.stringify(r.data, null, 1)], { type: "application/json" }));
    const a = h("a", { href: url, download: `keepclear-record-${this.app.partyId}-${this.app.clock.nowIso().slice(0, 10)}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    this.message = "Record saved; verify it with keepclear ledger verify FILE.";
    this.render();
  }
}
