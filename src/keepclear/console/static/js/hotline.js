// The Hotline panel: threads with unread counts, history, standard phrases in the reader's language,
// delivery and read receipts, and messages that need acknowledgement highlighted with their deadline.
import { clear, clock, duration, h, unavailable } from "./dom.js";

export class HotlinePanel {
  constructor(app, root, badge) {
    this.app = app;
    this.root = root;
    this.badge = badge;
    this.threads = [];
    this.missing = false;
    this.current = null;
    this.messages = [];
    this.phrases = null; // code -> phrase, in the reader's language
    this.error = "";
  }

  async load() {
    const r = await this.app.api.threads();
    if (r.missing) { this.missing = true; this.render(); return; }
    if (!r.ok) return;
    this.missing = false;
    this.threads = Array.isArray(r.data) ? r.data : r.data.threads || [];
    if (this.phrases === null) await this.loadPhrases();
    const unread = this.threads.reduce((n, t) => n + (t.unread || 0), 0);
    this.badge.textContent = unread ? String(unread) : "";
    if (this.current) await this.loadMessages(); else this.render();
  }

  async loadPhrases() {
    const r = await this.app.api.phrases(this.app.language);
    const list = r.ok ? (Array.isArray(r.data) ? r.data : r.data.phrases || []) : [];
    this.phrases = new Map(list.map((p) => [p.code, p]));
  }

  async open(threadId) {
    this.current = threadId;
    this.messages = [];
    await this.loadMessages();
  }

  async loadMessages() {
    const after = this.messages.length ? Math.max(...this.messages.map((m) => m.seq || 0)) : 0;
    const r = await this.app.api.messages(this.current, after);
    if (r.ok) {
      const fresh = Array.isArray(r.data) ? r.data : r.data.messages || [];
      const bySeq = new Map(this.messages.map((m) => [m.seq ?? m.id, m]));
      for (const m of fresh) bySeq.set(m.seq ?? m.id, m);
      this.messages = [...bySeq.values()].sort((a, b) => (a.seq || 0) - (b.seq || 0));
      if (fresh.length && !document.hidden && !this.root.hidden) await this.markRead();
    }
    this.render();
  }

  async markRead() {
    const r = await this.app.api.markRead(this.current);
    if (!r.ok) return;
    const thread = this.threads.find((t) => t.id === this.current);
    if (thread) thread.unread = 0;
    const unread = this.threads.reduce((n, t) => n + (t.unread || 0), 0);
    this.badge.textContent = unread ? String(unread) : "";
  }

  onEvent(kind, data) {
    const threadId = data?.payload?.thread_id;
    if (this.current && threadId === this.current && kind.startsWith("message.")) {
      // Receipts change existing messages: reload the thread; new messages arrive through after_seq.
      if (kind === "message.posted") this.loadMessages(); else { this.messages = []; this.loadMessages(); }
    }
    this.load();
  }

  tick() {
    for (const el of this.root.querySelectorAll("[data-ack-deadline]")) el.textContent = ackText(el.dataset.ackDeadline);
  }

  /** A message's text for this reader: a phrase in the reader's language with its parameters, or the body. */
  text(m) {
    const phrase = m.phrase;
    if (phrase && this.phrases && this.phrases.has(phrase.code)) {
      const template = this.phrases.get(phrase.code).text || this.phrases.get(phrase.code).template || "";
      return template.replace(/\{(\w+)\}/g, (_, name) => String((phrase.params || {})[name] ?? `{${name}}`));
    }
    return m.rendered || m.text || m.body || (phrase ? `[${phrase.code}]` : "");
  }

  render() {
    const keepDraft = this.root.querySelector("#hotline-body")?.value || "";
    clear(this.root);
    this.root.append(h("h2", {}, "Hotline"));
    if (this.missing) { this.root.append(unavailable("The hotline")); return; }
    const list = h("ul.list#threads-list");
    for (const t of this.threads) {
      const others = (t.parties || t.participants || []).filter((p) => p !== this.app.partyId).map((p) => this.app.partyName(p));
      list.append(h("li", { dataset: { thread: t.id } },
        h("button", { type: "button", "aria-current": String(this.current === t.id), onclick: () => this.open(t.id) },
          h("strong", {}, t.subject || t.title || t.id), h("span.muted", {}, others.join(", ")),
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
      const sender = m.sender_party_id || m.party_id || m.from;
      const needsAck = m.requires_ack_s && !m.acknowledged && sender !== own;
      const deadline = m.ack_deadline || (m.requires_ack_s && m.time ? new Date(Date.parse(m.time) + m.requires_ack_s * 1000).toISOString() : null);
      box.append(h(`div.msg${sender === own ? ".own" : ""}${needsAck ? ".needs-ack" : ""}`, { dataset: { seq: m.seq } },
        h("div.meta", {}, h("strong", {}, this.app.partyName(sender)), h("span", {}, m.type || ""), h("span", {}, clock(m.time || m.posted))),
        h("div.text", { lang: m.phrase ? this.app.language : undefined }, this.text(m)),
        h("div.meta", {},
          sender === own ? h("span.receipts", {}, receipts(m, this.app)) : null,
          needsAck && deadline ? h("span.deadline", { dataset: { ackDeadline: deadline } }, ackText(deadline)) : null,
          needsAck && this.app.canAct ? h("button", { type: "button", onclick: () => this.acknowledge(m) }, "Acknowledge") : null)));
    }
    const phraseOptions = [h("option", { value: "" }, "— free text —"),
      ...[...(this.phrases || new Map()).values()].map((p) => h("option", { value: p.code }, p.text || p.template || p.code))];
    const form = h("form.stack#hotline-form", { onsubmit: (e) => { e.preventDefault(); this.send(new FormData(e.target)); } },
      h("label", {}, "Standard phrase", h("select", { name: "phrase", id: "hotline-phrase" }, phraseOptions)),
      h("label", {}, "Message", h("textarea", { name: "body", id: "hotline-body", rows: 2 }, keepDraft)),
      h("label.check", {}, h("input", { type: "checkbox", name: "needs_ack" }), " Requires acknowledgement within 5 minutes"),
      this.error ? h("p.error", { role: "alert" }, this.error) : null,
      h("button.primary", { type: "submit", disabled: !this.app.canAct }, "Send"));
    setTimeout(() => { box.scrollTop = box.scrollHeight; }, 0);
    return h("section.thread-view", { "aria-label": "Thread" }, box, form);
  }

  async send(data) {
    const code = data.get("phrase");
    const message = code
      ? { type: "notification", phrase: { code, params: paramsFrom(String(data.get("body") || "")) } }
      : { type: "text", body: String(data.get("body") || "").trim() };
    if (!code && !message.body) return;
    if (data.get("needs_ack")) message.requires_ack_s = 300;
    const r = await this.app.api.postMessage(this.current, message);
    this.error = r.ok ? "" : `Not sent: ${(r.data && (r.data.detail || r.data.title)) || r.status}`;
    if (r.ok) { const area = this.root.querySelector("#hotline-body"); if (area) area.value = ""; }
    await this.loadMessages();
  }

  async acknowledge(m) {
    await this.app.api.postMessage(this.current, { type: "reply", body: "ACK", in_reply_to: m.seq ?? m.id, acknowledges: m.seq ?? m.id });
    await this.loadMessages();
  }
}

/** "key=value; key=value" typed in the body box gives a phrase's parameters. */
function paramsFrom(text) {
  const params = {};
  for (const part of text.split(/[;\n]/)) {
    const [k, ...v] = part.split("=");
    if (k && v.length) params[k.trim()] = v.join("=").trim();
  }
  return params;
}

function receipts(m, app) {
  const read = (m.read_by || []).map((p) => app.partyName(typeof p === "string" ? p : p.party_id));
  const delivered = (m.delivered_to || []).map((p) => app.partyName(typeof p === "string" ? p : p.party_id));
  if (read.length) return `read by ${read.join(", ")}`;
  if (delivered.length) return `delivered to ${delivered.join(", ")}`;
  return "sent";
}

function ackText(iso) {
  const left = (Date.parse(iso) - Date.now()) / 1000;
  return left <= 0 ? `ACK OVERDUE ${duration(-left)}` : `ack due in ${duration(left)}`;
}
