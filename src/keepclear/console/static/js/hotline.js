// The Hotline panel: threads with unread counts, history, standard phrases in the reader's language,
// delivery and read receipts, and messages that need acknowledgement highlighted with their deadline.
// Messages come rendered by the server in this party's language (``text``); live changes arrive as
// message.posted / message.receipt events on the stream and are read back through the HTTP routes.
import { clear, clock, duration, h } from "./dom.js";
import { systemText } from "./system.js";
import { currentLanguage, t, tv } from "./i18n.js";
import { PagedList } from "./pages.js";

/** Receipts are looked up for this many of the party's own latest messages in the open thread. */
const RECEIPTS_FOR_LAST = 5;

export class HotlinePanel {
  constructor(app, root, badge) {
    this.app = app;
    this.root = root;
    this.badge = badge;
    this.threads = [];
    // The threads a page at a time (pages.js): the first at start, the next on "Load more"; a thread
    // the stream names (a message posted in it) is read alone where no loaded page holds it.
    this.list = new PagedList((next) => app.api.threads(next), (id) => app.api.thread(id));
    this.named = new Set(); // threads the stream named since the last load
    // The server's figure of what the party has not read in all its threads (api.unread()),
    // read again with the list on every event that may change it: not a sum over the loaded pages.
    this.unread = null; // {threads, messages}
    this.current = null;
    this.messages = [];
    this.receipts = new Map(); // seq -> [{party_id, kind, time, person}]
    this.phrases = null; // code -> phrase, in the reader's language
    this.error = "";
  }

  async load() {
    const named = [...this.named];
    this.named.clear();
    if (!(await this.list.reload())) { named.forEach((id) => this.named.add(id)); return; }
    await this.list.bringIn(named);
    this.threads = this.list.items;
    if (this.phrases === null) await this.loadPhrases();
    await this.loadUnread();
    if (this.current) await this.loadMessages(); else this.render();
  }

  async loadMore() {
    if (!(await this.list.loadMore())) return;
    this.threads = this.list.items;
    this.render();
  }

  /** What the party has not read in all its threads, loaded here or not, as the server counts it; a
   * failed read keeps the last figure. */
  async loadUnread() {
    const r = await this.app.api.unread();
    if (r.ok && r.data) this.unread = r.data;
    this.showUnread();
  }

  showUnread() {
    const { threads = 0, messages = 0 } = this.unread || {};
    this.badge.textContent = messages ? String(messages) : "";
    if (messages) this.badge.setAttribute("aria-label", t("hotline.unread_total", { messages, threads }));
    else this.badge.removeAttribute("aria-label");
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
    await this.loadUnread();
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
    // A thread no loaded page holds is read alone when a message is posted in it (a receipt alone
    // brings none in).
    if (typeof threadId === "string" && (kind !== "message.receipt" || this.list.find(threadId))) this.named.add(threadId);
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
    // What the officer is composing survives live re-renders: the text, the phrase, the ack box, the focus.
    const keepDraft = this.root.querySelector("#hotline-body")?.value || "";
    const keepPhrase = this.root.querySelector("#hotline-phrase")?.value || "";
    const keepAck = Boolean(this.root.querySelector('#hotline-form input[name="needs_ack"]')?.checked);
    const focused = document.activeElement && this.root.contains(document.activeElement) ? document.activeElement.id : "";
    clear(this.root);
    this.root.append(h("h2", {}, t("hotline.title")));
    const list = h("ul.list#threads-list");
    for (const th of this.threads) {
      const others = th.parties.filter((p) => p !== this.app.partyId).map((p) => this.app.partyName(p));
      list.append(h("li", { dataset: { thread: th.id } },
        h("button", { type: "button", "aria-current": String(this.current === th.id), onclick: () => this.open(th.id) },
          h("strong", {}, th.standing ? t("hotline.standing_line", { parties: others.join(", ") }) : th.title), h("span.muted", {}, others.join(", ")),
          th.unread ? h("span.count", { "aria-label": t("hotline.unread", { n: th.unread }) }, String(th.unread)) : null)));
    }
    if (!this.threads.length) this.root.append(h("p.muted", {}, t("hotline.no_threads")));
    this.root.append(list);
    if (this.list.more) this.root.append(h("button.more#threads-more", { type: "button", onclick: () => this.loadMore() }, t("common.load_more")));
    if (this.current) {
      this.root.append(this.threadView(keepDraft));
      const phrase = this.root.querySelector("#hotline-phrase");
      if (phrase && keepPhrase) phrase.value = keepPhrase;
      this.showPhraseHelp();
      const ack = this.root.querySelector('#hotline-form input[name="needs_ack"]');
      if (ack) ack.checked = keepAck;
      if (focused) document.getElementById(focused)?.focus();
    }
  }

  threadView(keepDraft) {
    const own = this.app.partyId;
    const box = h("div.messages#messages", { role: "log", "aria-live": "polite" });
    for (const m of this.messages) {
      const sender = m.sender_party;
      const needsAck = Boolean(m.ack_deadline) && sender !== own && !this.acknowledged(m.seq);
      box.append(h(`div.msg${sender === own ? ".own" : ""}${needsAck ? ".needs-ack" : ""}`, { dataset: { seq: m.seq } },
        h("div.meta", {}, h("strong", {}, sender ? this.app.partyName(sender) : "keepclear"), h("span", { dataset: { kind: m.kind } }, tv("message_kind", m.kind)), h("span", {}, clock(m.time)),
          m.reply_to_seq ? h("span", {}, t("hotline.re", { seq: m.reply_to_seq })) : null),
        messageText(m, this.app),
        h("div.meta", {},
          sender === own ? h("span.receipts", {}, receiptText(this.receipts.get(m.seq), this.app)) : null,
          needsAck ? h("span.deadline", { dataset: { ackDeadline: m.ack_deadline } }, ackText(m.ack_deadline, this.app.clock)) : null,
          needsAck && this.app.canAct ? h("button.ack-msg", { type: "button", onclick: () => this.acknowledge(m) }, t("hotline.acknowledge")) : null)));
    }
    const phraseOptions = [h("option", { value: "" }, t("hotline.free_text")),
      ...[...(this.phrases || new Map()).values()].map((p) => h("option", { value: p.code, title: p.meaning }, `${p.code}: ${p.text}`))];
    const form = h("form.stack#hotline-form", { onsubmit: (e) => { e.preventDefault(); this.send(new FormData(e.target)); } },
      h("label", {}, t("hotline.phrase"), h("select", { name: "phrase", id: "hotline-phrase", onchange: () => this.showPhraseHelp() }, phraseOptions)),
      h("p.muted.phrase-help#phrase-help", { "aria-live": "polite" }),
      h("label", {}, t("hotline.message"), h("textarea", { name: "body", id: "hotline-body", rows: 2 }, keepDraft)),
      h("label.check", {}, h("input", { type: "checkbox", name: "needs_ack" }), " ", t("hotline.needs_ack")),
      this.error ? h("p.error", { role: "alert" }, this.error) : null,
      h("button.primary", { type: "submit", disabled: !this.app.canAct }, t("hotline.send")));
    setTimeout(() => { box.scrollTop = box.scrollHeight; }, 0);
    return h("section.thread-view", { "aria-label": t("hotline.thread") }, box, form);
  }

  /** The chosen phrase in full (a select cuts long options short): its text, what it means, what answer
   * it expects and the parameters to type. */
  showPhraseHelp() {
    const help = this.root.querySelector("#phrase-help");
    const code = this.root.querySelector("#hotline-phrase")?.value;
    if (!help) return;
    const p = code && this.phrases ? this.phrases.get(code) : null;
    // The catalogue explains its phrases in English only: the explanation is shown to English readers.
    const english = currentLanguage() === "en";
    help.textContent = p ? [p.text, english ? p.meaning : "", english && p.expected_response ? t("hotline.expects", { what: p.expected_response }) : "",
      (p.parameters || []).length ? t("hotline.parameters", { list: p.parameters.map((x) => `${x}=…`).join("; ") }) : ""].filter(Boolean).join(" — ") : "";
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
    this.error = r.ok ? "" : t("hotline.not_sent", { why: (r.data && (r.data.detail || r.data.title)) || r.status });
    if (r.ok) {
      const area = this.root.querySelector("#hotline-body");
      if (area) area.value = "";
      const phrase = this.root.querySelector("#hotline-phrase");
      if (phrase) phrase.value = "";
      this.showPhraseHelp();
      const ack = this.root.querySelector('#hotline-form input[name="needs_ack"]');
      if (ack) ack.checked = false;
    }
    await this.loadMessages();
  }

  async acknowledge(m) {
    const r = await this.app.api.acknowledgeMessage(this.current, m.seq);
    this.error = r.ok ? "" : t("hotline.ack_not_sent", { why: (r.data && (r.data.detail || r.data.title)) || r.status });
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

/** What a message says, in the reader's language: keepclear's own notices from their code and
 * parameters, an acknowledgement as such, anything else as the server rendered it for this party. */
function messageText(m, app) {
  const own = systemText(m, app);
  const text = own ?? (m.text || (m.kind === "acknowledgement" ? t("hotline.acknowledged") : ""));
  return h("div.text", { lang: own === null ? m.language : undefined, title: own === null ? undefined : m.text }, text);
}

function receiptText(receipts, app) {
  if (!receipts) return t("hotline.sent");
  const of = (kind) => [...new Set(receipts.filter((r) => r.kind === kind).map((r) => app.partyName(r.party_id)))];
  const read = of("read");
  const delivered = of("delivered").filter((p) => !read.includes(p));
  const parts = [];
  if (read.length) parts.push(t("hotline.read_by", { parties: read.join(", ") }));
  if (delivered.length) parts.push(t("hotline.delivered_to", { parties: delivered.join(", ") }));
  return parts.length ? parts.join("; ") : t("hotline.sent");
}

function ackText(iso, clock) {
  const left = clock.secondsUntil(iso);
  return left <= 0 ? t("hotline.ack_overdue", { by: duration(-left) }) : t("hotline.ack_due", { in: duration(left) });
}
