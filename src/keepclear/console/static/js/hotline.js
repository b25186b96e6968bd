// The Hotline panel: threads with unread counts, history, standard phrases in the reader's language,
// delivery and read receipts, and messages that need acknowledgement highlighted with their deadline.
// Messages come rendered by the server in this party's language (``text``); live changes arrive as
// message.posted / message.receipt events on the stream and are read back through the HTTP routes.
import { clear, clock, duration, h, unavailable } from "./dom.js";

/** Receipts are looked up for this many of the party's own latest messages in the open thread. */
const RECEIPTS_FOR_LAST = 5;

export class HotlinePanel {
  constructor(app, root, badge) {
    this.app = app;
    this.root = root;
    this.badge = badge;
    this.threads = [];
    this.missing = false;
    this.current = null;
    this.messages = [];
    this.receipts = new Map(); // seq -> [{party_id, kind, time, person}]
    this.phrases = null; // code -> phrase, in the reader's language
    this.error = "";
  }

  async load() {
    const r = await this.app.api.threads();
    if (r.missing) { this.missing = true; this.render(); return; }
    if (!r.ok) return;
    this.missing = false;
    this.threads = r.data;
    if (this.phrases === null) await this.loadPhrases();
    this.showUnread();
    if (this.current) await this.loadMessages(); else this.render();
  }

  showUnread() {
    const unread = this.threads.reduce((n, t) => n + (t.unread || 0), 0);
    this.badge.textContent = unread ? String(unread) : "";
  }

  async loadPhrases() {
    const r = await this.app.api.phrases(this.app.language);
    this.phrases = new Map((r.ok ? r.data : []).map((p) => [p.code, p]));
  }

  async open(threadId) {
    this.current = threadId;
    this.messages = [];
    this.receipts = new Map();
    await this.loadMessages();
  }

  get lastSeq() { return this.messages.length ? this.messages[this.messages.length - 1].seq : 0; }

  async loadMessages() {
    const threadId = this.current;
    const r = await this.app.api.messages(threadId, this.lastSeq);
    if (threadId !== this.current) return;
    if (r.ok && r.data.length) {
      const bySeq = new Map(this.messages.map((m) => [m.seq, m]));
      for (const m of r.data) bySeq.set(m.seq, m);
      this.messages = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    }
    const thread = this.threads.find((t) => t.id === threadId);
    if (thread && thread.unread && !document.hidden && !this.root.hidden) await this.markRead();
    await this.loadReceipts();
    this.render();
  }

  async markRead() {
    const r = await this.app.api.markRead(this.current, this.lastSeq);
    if (!r.ok) return;
    const thread = this.threads.find((t) => t.id === this.current);
    if (thread) thread.unread = 0;
    this.showUnread();
  }

  async loadReceipts() {
    const own = this.messages.filter((m) => m.sender_party === this.app.partyId).slice(-RECEIPTS_FOR_LAST);
    const answers = await Promise.all(own.map((m) => this.app.api.receipts(this.current, m.seq)));
    own.forEach((m, i) => { if (answers[i].ok) this.receipts.set(m.seq, answers[i].data.receipts); });
  }

  onEvent(kind, data) {
    const threadId = data?.payload?.thread_id;
    if (this.current && threadId === this.current && kind === "message.receipt") {
      this.loadReceipts().then(() => this.render());
      return;
    }
    this.app.refresh("threads"); // unread counts, and the open thread reads on from its last seq
  }

  tick() {
    for (const el of this.root.querySelectorAll("[data-ack-deadline]")) el.textContent = ackText(el.dataset.ackDeadline, this.app.clock);
  }

  /** Whether this party has acknowledged message ``seq`` (an acknowledgement replying to it). */
  acknowledged(seq) {
    return this.messages.some((m) => m.kind === "acknowledgement" && m.reply_to_seq === seq && m.sender_party === this.app.partyId);
  }

  render() {
    const keepDraft = this.root.querySelector("#hotline-body")?.value || "";
    clear(this.root);
    this.root.append(h("h2", {}, "Hotline"));
    if (this.missing) { this.root.append(unavailable("The hotline")); return; }
    const list = h("ul.list#threads-list");
    for (const t of this.threads) {
      const others = t.parties.filter((p) => p !== this.app.partyId).map((p) => this.app.partyName(p));
      list.append(h("li", { dataset: { thread: t.id } },
        h("button", { type: "button", "aria-current": String(this.current === t.id), onclick: () => this.open(t.id) },
          h("strong", {}, t.standing ? `Standing line: ${others.join(", ")}` : t.title), h("span.muted", {}, others.join(", ")),
          t.unread ? h("span.count", { "aria-label": `${t.unread} unread` }, String(t.unread)) : null)));
    }
    if (!this.threads.length) this.root.append(h("p.muted", {}, "No threads."));
    this.root.append(list);
    if (this.current) this.root.append(this.threadView(keepDraft));
  }

  threadView(keepDraft) {
    const own = this.app.partyId;
    const box = h("div.messages#messages", { role: "log", "aria-live": "polite" });
    for (const m of this.messages) {
      const sender = m.sender_party;
      const needsAck = Boolean(m.ack_deadline) && sender !== own && !this.acknowledged(m.seq);
      box.append(h(`div.msg${sender === own ? ".own" : ""}${needsAck ? ".needs-ack" : ""}`, { dataset: { seq: m.seq } },
        h("div.meta", {}, h("strong", {}, sender ? this.app.partyName(sender) : "keepclear"), h("span", {}, m.kind), h("span", {}, clock(m.time)),
          m.reply_to_seq ? h("span", {}, `re #${m.reply_to_seq}`) : null),
        h("div.text", { lang: m.language }, m.text || (m.kind === "acknowledgement" ? "Acknowledged." : "")),
        h("div.meta", {},
          sender === own ? h("span.receipts", {}, receiptText(this.receipts.get(m.seq), this.app)) : null,
          needsAck ? h("span.deadline", { dataset: { ackDeadline: m.ack_deadline } }, ackText(m.ack_deadline, this.app.clock)) : null,
          needsAck && this.app.canAct ? h("button.ack-msg", { type: "button", onclick: () => this.acknowledge(m) }, "Acknowledge") : null)));
    }
    const phraseOptions = [h("option", { value: "" }, "— free text —"),
      ...[...(this.phrases || new Map()).values()].map((p) => h("option", { value: p.code, title: p.meaning }, `${p.code}: ${p.text}`))];
    const form = h("form.stack#hotline-form", { onsubmit: (e) => { e.preventDefault(); this.send(new FormData(e.target)); } },
      h("label", {}, "Standard phrase", h("select", { name: "phrase", id: "hotline-phrase" }, phraseOptions)),
      h("label", {}, "Message (with a phrase: its parameters as name=value; …)", h("textarea", { name: "body", id: "hotline-body", rows: 2 }, keepDraft)),
      h("label.check", {}, h("input", { type: "checkbox", name: "needs_ack" }), " Requires acknowledgement within 5 minutes"),
      this.error ? h("p.error", { role: "alert" }, this.error) : null,
      h("button.primary", { type: "submit", disabled: !this.app.canAct }, "Send"));
    setTimeout(() => { box.scrollTop = box.scrollHeight; }, 0);
    return h("section.thread-view", { "aria-label": "Thread" }, box, form);
  }

  async send(data) {
    const code = data.get("phrase");
    const text = String(data.get("body") || "").trim();
    const message = code
      ? { kind: "notification", phrase: { code, params: paramsFrom(text) } }
      : { kind: "text", body: text };
    if (!code && !text) return;
    if (data.get("needs_ack")) message.ack_within_s = 300;
    const r = await this.app.api.postMessage(this.current, message);
    this.error = r.ok ? "" : `Not sent: ${(r.data && (r.data.detail || r.data.title)) || r.status}`;
    if (r.ok) { const area = this.root.querySelector("#hotline-body"); if (area) area.value = ""; }
    await this.loadMessages();
  }

  async acknowledge(m) {
    const r = await this.app.api.acknowledgeMessage(this.current, m.seq);
    this.error = r.ok ? "" : `Acknowledgement not sent: ${(r.data && (r.data.detail || r.data.title)) || r.status}`;
    await this.loadMessages();
  }
}

/** "name=value; name=value" typed in the body box gives a phrase's parameters. */
function paramsFrom(text) {
  const params = {};
  for (const part of text.split(/[;\n]/)) {
    const [k, ...v] = part.split("=");
    if (k && v.length) params[k.trim()] = v.join("=").trim();
  }
  return params;
}

function receiptText(receipts, app) {
  if (!receipts) return "sent";
  const of = (kind) => [...new Set(receipts.filter((r) => r.kind === kind).map((r) => app.partyName(r.party_id)))];
  const read = of("read");
  const delivered = of("delivered").filter((p) => !read.includes(p));
  const parts = [];
  if (read.length) parts.push(`read by ${read.join(", ")}`);
  if (delivered.length) parts.push(`delivered to ${delivered.join(", ")}`);
  return parts.length ? parts.join("; ") : "sent";
}

function ackText(iso, clock) {
  const left = clock.secondsUntil(iso);
  return left <= 0 ? `ACK OVERDUE ${duration(-left)}` : `ack due in ${duration(left)}`;
}
