// Witnessing from the console (docs/record.md, "Witnessing"): the latest signed tree head, whether
// this party cosigned it and whether every party has (agreed). "Check and cosign" checks, here in the
// browser, that the head is signed by a log key (every key this console saw before still among them)
// and that an RFC 9162 consistency
// proof leads to it from the head this console saw last (its own copy, kept in localStorage: an
// operator who rewrote history cannot make that proof); only then is the head cosigned: with the
// party's own key where the liaison loaded it here (strong mode: the line is made in the browser, the
// key kept non-extractable in this browser's IndexedDB and never sent), else by the deployment with
// the party's custodial key. The head must be signed by a log key this console trusts (the first it
// saw, or one a liaison accepted by its fingerprint after a rotation). A head that fails is reported:
// the deployment records it and alerts every other party on the hotline with both heads. WebCrypto
// does the SHA-256 and Ed25519 work (a secure context: https, or the machine itself).
import { clear, h } from "./dom.js";
import { t } from "./i18n.js";

const SIG_PREFIX = "\u2014 ";

function b64bytes(text) { return Uint8Array.from(atob(text), (c) => c.charCodeAt(0)); }
function bytesB64(bytes) { return btoa(String.fromCharCode(...bytes)); }
const utf8 = (text) => new TextEncoder().encode(text);
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

/** The vkeys of ``vkeys`` whose key signed ``note``. */
export async function signersOf(note, vkeys) {
  const out = [];
  for (const vkey of vkeys) if (await signedByLog(note, [vkey])) out.push(vkey);
  return out;
}

/** A vkey's short fingerprint for people to compare: its name's last part and key hash. */
export function fingerprint(vkey) {
  const [name, keyHash] = vkey.split("+");
  return `${name.split("/").pop()}+${keyHash}`;
}

/** The raw 32-byte Ed25519 private key and public key of a PKCS#8 PEM file's text (`keepclear ledger keygen`). */
export async function readPrivateKeyPem(text) {
  const match = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(text);
  if (!match) throw new Error("not an unencrypted PKCS#8 PEM private key");
  const der = b64bytes(match[1].replace(/\s+/g, ""));
  const algorithm = { name: "Ed25519" };
  const extractable = await crypto.subtle.importKey("pkcs8", der, algorithm, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  const publicRaw = b64bytes(jwk.x.replace(/-/g, "+").replace(/_/g, "/").padEnd(44, "="));
  const privateKey = await crypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]);
  return { privateKey, publicRaw };
}

/** ``note`` with a C2SP ``cosignature/v1`` line of witness ``name`` made with ``key`` at ``timestamp`` (s). */
export async function cosignNote(note, name, key, timestamp) {
  const parsed = parseNote(note);
  const hash4 = (await sha256(concat(utf8(name), Uint8Array.of(0x0a, 0x04), key.publicRaw))).slice(0, 4);
  const stamp = new Uint8Array(8);
  new DataView(stamp.buffer).setBigUint64(0, BigInt(timestamp));
  const message = concat(utf8(`cosignature/v1\ntime ${timestamp}\n`), utf8(parsed.text));
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, message));
  return `${note}${SIG_PREFIX}${name} ${bytesB64(concat(hash4, stamp, sig))}\n`;
}

/** The party's own witness key in this browser's IndexedDB (CryptoKey objects are stored as such:
 * the private key stays non-extractable). */
const keyStore = {
  open() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("keepclear", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("keys");
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  },
  async run(mode, work) {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const request = work(db.transaction("keys", mode).objectStore("keys"));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  },
  get(id) { return this.run("readonly", (store) => store.get(id)); },
  put(id, value) { return this.run("readwrite", (store) => store.put(value, id)); },
  remove(id) { return this.run("readwrite", (store) => store.delete(id)); },
};

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
    this.ownKey = null; // {privateKey, publicRaw} loaded by a liaison (strong mode), else null
    this.newKeys = []; // log keys that signed the head but that this console does not trust yet
  }

  get storageKey() { return `keepclear.witness.${this.app.partyId}`; }
  get keyId() { return `witness-key.${this.app.partyId}`; }
  get witnessName() { return `keepclear.witness/${this.app.partyId}`; }

  /** Load the party's private key file (PEM) for cosigning here; kept in IndexedDB, not extractable. */
  async loadKey(file) {
    try {
      this.ownKey = await readPrivateKeyPem(await file.text());
      await keyStore.put(this.keyId, this.ownKey);
      this.message = t("record.witness_key_loaded");
    } catch (error) {
      this.message = t("record.witness_key_bad", { why: String(error.message || error) });
    }
    this.render();
  }

  async forgetKey() {
    this.ownKey = null;
    await keyStore.remove(this.keyId);
    this.message = "";
    this.render();
  }

  /** What this console saw and cosigned last: {note, vkeys}, or null. */
  lastSeen() {
    try { return JSON.parse(localStorage.getItem(this.storageKey) || "null"); } catch { return null; }
  }

  async load() {
    if (!this.ownKey) { try { this.ownKey = (await keyStore.get(this.keyId)) || null; } catch { this.ownKey = null; } }
    const note = await this.app.api.checkpoint();
    if (!note.ok || !note.text) { this.head = null; this.render(); return; }
    const parsed = parseNote(note.text);
    const cos = await this.app.api.cosignatures(parsed.size);
    this.head = { note: note.text, parsed, ...(cos.ok ? cos.data : { cosigned_by: [], missing: [], agreed: false }) };
    this.render();
  }

  /** The check, then the cosignature or the alarm. ``accepting``: log keys a liaison accepted by
   * their fingerprint (a rotation) on top of those this console trusted before. */
  async check(accepting = []) {
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
    // Trusted: on first use the keys served now (compare their fingerprints out of band); after
    // that only the keys trusted before, and those a liaison accepted after a rotation.
    const trusted = last ? [...last.vkeys, ...accepting.filter((k) => vkeys.includes(k))] : vkeys;
    this.newKeys = [];
    if (!problem && last && !last.vkeys.every((k) => vkeys.includes(k))) problem = t("record.witness_keys_changed");
    if (!problem && !(await signedByLog(served, trusted))) {
      const untrusted = await signersOf(served, vkeys.filter((k) => !trusted.includes(k)));
      if (untrusted.length) {
        this.newKeys = untrusted; // a new log key: not an inconsistency, but a person must accept it
        this.message = t("record.witness_new_key", { keys: untrusted.map(fingerprint).join(", ") });
        this.alarm = "";
        this.render();
        return;
      }
      problem = t("record.witness_bad_signature");
    }
    if (!problem && old && old.origin !== served.origin) problem = t("record.witness_other_log");
    if (!problem && old && old.size > served.size) problem = t("record.witness_shrank", { old: old.size, size: served.size });
    if (!problem && old && !(await consistent(old.size, served.size, old.root, served.root, r.data.proof))) {
      problem = t("record.witness_inconsistent", { old: old.size, size: served.size });
    }
    if (problem) {
      const raised = await this.app.api.reportInconsistency(last ? last.note : head.note, head.note, problem);
      // 429: the party raised too many alarms lately (incident_reports_per_party_per_s); nothing was
      // sent. Said as such, with the wait; the person checks again (one request a click, no retry loop).
      const later = raised.status === 429 ? t("record.witness_alarm_later", { problem, seconds: raised.retryAfter || "?" }) : null;
      this.alarm = later || t(raised.ok ? "record.witness_alarm" : "record.witness_alarm_failed", { problem });
      this.message = "";
    } else {
      const done = this.ownKey
        ? await this.app.api.addCosignature(await cosignNote(head.note, this.witnessName, this.ownKey, Math.floor(Date.now() / 1000)))
        : await this.app.api.witness(served.size);
      if (done.ok) {
        const keep = [...new Set([...trusted, ...(last ? [] : vkeys)])];
        localStorage.setItem(this.storageKey, JSON.stringify({ note: head.note, vkeys: keep }));
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
    const keys = (last && last.vkeys) || [];
    if (keys.length) this.root.append(h("p#witness-log-keys.muted", {}, t("record.witness_log_keys", { keys: keys.map(fingerprint).join(", ") })));
    if (this.app.canAct && !ours) {
      this.root.append(h("div.toolbar", {}, h("button.primary", { type: "button", id: "witness-cosign", onclick: () => this.check() }, t("record.witness_cosign")),
        this.newKeys.length
          ? h("button", { type: "button", id: "witness-accept-key", onclick: () => this.check(this.newKeys) }, t("record.witness_accept_key"))
          : null));
    }
    if (this.app.canAct) {
      const input = h("input", { type: "file", id: "witness-key-file", accept: ".pem,.key,application/x-pem-file",
        onchange: (e) => e.target.files[0] && this.loadKey(e.target.files[0]) });
      this.root.append(this.ownKey
        ? h("div.toolbar#witness-own-key", {}, h("span", {}, t("record.witness_key_own")),
          h("button", { type: "button", id: "witness-forget-key", onclick: () => this.forgetKey() }, t("record.witness_key_forget")))
        : h("div.toolbar#witness-own-key", {}, h("label", {}, t("record.witness_key_load"), " ", input)));
    }
    if (this.message) this.root.append(h("p.muted#witness-message", { role: "status" }, this.message));
    if (this.alarm) this.root.append(h("p.error#witness-alarm", { role: "alert" }, this.alarm));
    return this.root;
  }
}
