// Witnessing from the console (docs/record.md, "Witnessing"): the latest signed tree head, whether
// this party cosigned it and whether every party has (agreed). "Check and cosign" checks, here in the
// browser, that the head is signed by a log key (every key this console saw before still among them)
// and that an RFC 9162 consistency
// proof leads to it from the head this console saw last (its own copy, kept in localStorage: an
// operator who rewrote history cannot make that proof); only then does it ask the deployment to
// cosign with the party's custodial key. A head that fails is reported: the deployment records it and
// alerts every other party on the hotline with both heads. WebCrypto does the SHA-256 and Ed25519 work
// (a secure context: https, or the machine itself).
import { clear, h } from "./dom.js";
import { t } from "./i18n.js";

const SIG_PREFIX = "\u2014 ";

function b64bytes(text) { return Uint8Array.from(atob(text), (c) => c.charCodeAt(0)); }
function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }
const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A C2SP checkpoint note: {origin, size, root, text (the signed part), lines [{name, hash, sig}]}; throws if malformed. */
export function parseNote(note) {
  const cut = note.indexOf("\n\n");
  if (cut < 0 || !note.endsWith("\n")) throw new Error("not a signed note");
  const body = note.slice(0, cut).split("\n");
  if (body.length !== 3 || !/^(0|[1-9][0-9]{0,18})$/.test(body[1])) throw new Error("not a checkpoint");
  const lines = note.slice(cut + 2, -1).split("\n").map((line) => {
    if (!line.startsWith(SIG_PREFIX)) throw new Error("bad signature line");
    const [name, encoded] = line.slice(SIG_PREFIX.length).split(" ");
    const raw = b64bytes(encoded);
    return { name, hash: hex(raw.slice(0, 4)), sig: raw.slice(4) };
  });
  return { origin: body[0], size: Number(body[1]), root: b64bytes(body[2]), text: `${body.join("\n")}\n`, lines };
}

/** Is ``note`` signed by one of ``vkeys`` (name+hash+b64(0x01||key)) named as its origin? */
export async function signedByLog(note, vkeys) {
  for (const vkey of vkeys) {
    const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1); // the key's base64 may hold '+'
    const [name, keyHash, raw] = [vkey.slice(0, first), vkey.slice(first + 1, second), b64bytes(vkey.slice(second + 1))];
    if (name !== note.origin || raw[0] !== 1) continue;
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    for (const line of note.lines) {
      if (line.name !== name || line.hash !== keyHash) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, key, line.sig, new TextEncoder().encode(note.text))) return true;
    }
  }
  return false;
}

/** RFC 9162 §2.1.4.2: does ``proof`` (base64 hashes) show the tree ``oldRoot`` is a prefix of ``newRoot``? */
export async function consistent(oldSize, newSize, oldRoot, newRoot, proof) {
  if (oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && same(oldRoot, newRoot);
  if (oldSize === 0 || !proof.length) return false;
  const path = proof.map(b64bytes);
  if ((oldSize & (oldSize - 1)) === 0) path.unshift(oldRoot);
  let fn = oldSize - 1, sn = newSize - 1;
  while (fn & 1) { fn >>= 1; sn >>= 1; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if ((fn & 1) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (!(fn & 1)) while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1; sn >>= 1;
  }
  return sn === 0 && same(fr, oldRoot) && same(sr, newRoot);
}

export class WitnessBox {
  constructor(app) {
    this.app = app;
    this.root = h("section#witness", { "aria-label": t("record.witness") });
    this.head = null; // {note, parsed, cosigned_by, missing, agreed}
    this.message = "";
    this.alarm = "";
  }

  get storageKey() { return `keepclear.witness.${this.app.partyId}`; }

  /** What this console saw and cosigned last: {note, vkeys}, or null. */
  lastSeen() {
    try { return JSON.parse(localStorage.getItem(this.storageKey) || "null"); } catch { return null; }
  }

  async load() {
    const note = await this.app.api.checkpoint();
    if (!note.ok || !note.text) { this.head = null; this.render(); return; }
    const parsed = parseNote(note.text);
    const cos = await this.app.api.cosignatures(parsed.size);
    this.head = { note: note.text, parsed, ...(cos.ok ? cos.data : { cosigned_by: [], missing: [], agreed: false }) };
    this.render();
  }

  /** The check, then the cosignature or the alarm. */
  async check() {
    const head = this.head; // the head shown when clicked: a reload meanwhile must not change what is checked
    const last = this.lastSeen();
    const served = head.parsed;
    const old = last ? parseNote(last.note) : null;
    let problem = null;
    const r = await this.app.api.consistencyProof(old && old.size <= served.size ? old.size : served.size, served.size);
    // An honest log keeps every head it signed: one this console saw that is gone is evidence too.
    if (!r.ok && r.status === 404 && old) problem = t("record.witness_head_gone", { old: old.size });
    else if (!r.ok) problem = t("record.witness_no_proof", { status: r.status });
    else if (r.data.new !== head.note) problem = t("record.witness_head_changed");
    const vkeys = r.ok ? r.data.log_keys : [];
    if (!problem && last && !last.vkeys.every((k) => vkeys.includes(k))) problem = t("record.witness_keys_changed");
    if (!problem && !(await signedByLog(served, vkeys))) problem = t("record.witness_bad_signature");
    if (!problem && old && old.origin !== served.origin) problem = t("record.witness_other_log");
    if (!problem && old && old.size > served.size) problem = t("record.witness_shrank", { old: old.size, size: served.size });
    if (!problem && old && !(await consistent(old.size, served.size, old.root, served.root, r.data.proof))) {
      problem = t("record.witness_inconsistent", { old: old.size, size: served.size });
    }
    if (problem) {
      const raised = await this.app.api.reportInconsistency(last ? last.note : head.note, head.note, problem);
      this.alarm = t(raised.ok ? "record.witness_alarm" : "record.witness_alarm_failed", { problem });
      this.message = "";
    } else {
      const done = await this.app.api.witness(served.size);
      if (done.ok) {
        localStorage.setItem(this.storageKey, JSON.stringify({ note: head.note, vkeys }));
        this.message = old ? t("record.witness_cosigned_from", { size: served.size, old: old.size }) : t("record.witness_cosigned_first", { size: served.size });
      } else {
        this.message = t("common.refused", { why: (done.data && (done.data.detail || done.data.title)) || done.status });
      }
    }
    await this.load();
  }

  render() {
    clear(this.root);
    this.root.append(h("h3", {}, t("record.witness")));
    if (!this.head) { this.root.append(h("p.muted", {}, t("record.witness_none"))); return this.root; }
    const { parsed, cosigned_by: cosignedBy, missing, agreed } = this.head;
    const ours = cosignedBy.includes(this.app.partyId);
    const last = this.lastSeen();
    this.root.append(
      h("p#witness-head", { dataset: { size: parsed.size } },
        t("record.witness_head", { size: parsed.size, root: `${hex(parsed.root).slice(0, 16)}…` })),
      h(`p#witness-ours.${ours ? "ok" : "muted"}`, { dataset: { cosigned: String(ours) } },
        ours ? t("record.witness_ours_yes") : t("record.witness_ours_no")),
      h("p#witness-agreed.muted", { dataset: { agreed: String(agreed) } },
        agreed ? t("record.witness_agreed") : t("record.witness_waiting", { parties: missing.map((p) => this.app.partyName(p)).join(", ") })),
      h("p#witness-last.muted", {}, last ? t("record.witness_last", { size: parseNote(last.note).size }) : t("record.witness_last_none")));
    if (this.app.canAct && !ours) {
      this.root.append(h("div.toolbar", {}, h("button.primary", { type: "button", id: "witness-cosign", onclick: () => this.check() }, t("record.witness_cosign"))));
    }
    if (this.message) this.root.append(h("p.muted#witness-message", { role: "status" }, this.message));
    if (this.alarm) this.root.append(h("p.error#witness-alarm", { role: "alert" }, this.alarm));
    return this.root;
  }
}
