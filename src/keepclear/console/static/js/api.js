// Every call the console makes to the keepclear API, in one place: paths, bodies and the live stream.

/** Everything the page received, for inspection (need-to-know tests read it); newest last. */
export const received = [];
const RECEIVED_MAX = 2000;

function remember(path, body) {
  received.push({ path, body });
  if (received.length > RECEIVED_MAX) received.splice(0, received.length - RECEIVED_MAX);
}

/** The path and query of a ``Link`` header's ``rel="next"`` target, or null when there is none. */
export function nextLink(header) {
  for (const part of (header || "").split(",")) {
    const match = part.match(/<([^>]*)>\s*;\s*rel="?next"?/);
    if (match) return match[1];
  }
  return null;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export class Api {
  /** @param {string} key the party key, kc_<id>_<secret> */
  constructor(key, base = "") {
    this.key = key;
    this.base = base;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, Accept: "application/json", ...extra };
  }

  /** GET or POST; resolves to {ok, status, data, retryAfter} (``retryAfter``: the seconds of a
   * ``Retry-After``, else null). Throws only on network failure. */
  async request(method, path, body) {
    const init = { method, headers: this.headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(this.base + path, init);
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) data = await response.json();
    else await response.text();
    remember(path, data);
    const retryAfter = Number.parseInt(response.headers.get("retry-after") || "", 10);
    return { ok: response.ok, status: response.status, data, retryAfter: Number.isNaN(retryAfter) ? null : retryAfter };
  }

  get(path) { return this.request("GET", path); }

  /** GET one page of a list that comes in pages (docs/api.md, "Lists come in pages"): resolves as
   * ``request`` (``ok`` only for a list) plus ``next``, the path of the page after it from its
   * ``Link: <...>; rel="next"`` (null on the last page). The console reads the next page only when the
   * reader asks for it (pages.js). */
  async page(path) {
    const response = await fetch(this.base + path, { headers: this.headers() });
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json() : (await response.text(), null);
    remember(path, data);
    const ok = response.ok && Array.isArray(data);
    return { ok, status: response.status, data, next: ok ? nextLink(response.headers.get("link")) : null };
  }
  post(path, body = {}) { return this.request("POST", path, body); }

  // Identity and registry (exist now)
  me() { return this.get("/v1/me"); }
  parties() { return this.get("/v1/parties"); }
  forces() { return this.get("/v1/forces"); }
  units() { return this.get("/v1/units"); }
  zones() { return this.get("/v1/zones"); }

  // Tactical picture
  /** Latest states [{unit_id, party_id, domain, time, lat_deg, lon_deg, alt_m, vel_*}] the party may see. */
  tracks() { return this.get("/v1/tracks"); }
  feeds() { return this.get("/v1/feeds"); }
  /** Past positions of the party's own units [{unit_id, time, lat_deg, lon_deg, alt_m, vel_east_mps, vel_north_mps}]. */
  trackHistory(sinceIso, untilIso) {
    const until = untilIso ? `&until=${encodeURIComponent(untilIso)}` : "";
    return this.get(`/v1/tracks/history?since=${encodeURIComponent(sinceIso)}${until}`);
  }
  /** Alerts involving the party's units: [{alert_id, level, status, unit_a, unit_b, party_a, party_b, raised,
   * updated, acknowledged_by, positions{unit: {lat_deg, lon_deg, alt_m}}, cpa{..., points{unit: {...}}}, time_to_los_s}] */
  alerts() { return this.get("/v1/alerts"); }
  /** Active alerts and the recently resolved ones (status "resolved"), for review. */
  alertsWithResolved() { return this.get("/v1/alerts?include_resolved=true"); }
  acknowledgeAlert(alertId) { return this.post(`/v1/alerts/${encodeURIComponent(alertId)}/acknowledge`); }

  // Activities (docs/activities.md)
  /** A page of the activities notified by or to the party (the first, or the one at ``next``). */
  activities(next = null) { return this.page(next || "/v1/activities"); }
  activity(id) { return this.get(`/v1/activities/${encodeURIComponent(id)}`); }
  /** draft: {kind, text, contact, start, end, addressees, geometry (GeoJSON Polygon|LineString), lower_ft,
   * upper_ft, half_width_m}; answers {activity, conflicts, late_notice, addressees}. */
  notifyActivity(draft) { return this.post("/v1/activities", activityBody(draft)); }
  /** response: acknowledge | object | cancel, naming the version answered (an objection needs a reason). */
  respondActivity(id, response, version, reason = "") {
    const body = { version };
    if (reason) body.reason = reason;
    return this.post(`/v1/activities/${encodeURIComponent(id)}/${response}`, body);
  }

  /** A new version of one's own activity: ``document`` is the whole activity document, as notified. */
  amendActivity(id, version, document) {
    return this.post(`/v1/activities/${encodeURIComponent(id)}/amend`, { version, activity: document });
  }

  // Hotline (docs/hotline.md); live messages arrive as message.* events on the stream below.
  /** A page of the party's threads [{id, title, parties, standing, created, last_seq, unread}] (the first,
   * or the one at ``next``). */
  threads(next = null) { return this.page(next || "/v1/hotline/threads"); }
  /** {threads, messages}: what the party has not read in all its threads, loaded or not. */
  unread() { return this.get("/v1/hotline/unread"); }
  /** One of the party's threads as the list gives it (one a live message named, say). */
  thread(threadId) { return this.get(`/v1/hotline/threads/${encodeURIComponent(threadId)}`); }
  messages(threadId, afterSeq = 0) {
    return this.get(`/v1/hotline/threads/${encodeURIComponent(threadId)}/messages?after_seq=${afterSeq}`);
  }
  /** message: {kind, body} or {kind, phrase:{code, params}}, optional ack_within_s and reply_to_seq;
   * answers {created, message}. */
  postMessage(threadId, message) {
    const body = { idempotency_key: newKey(), ...message };
    return this.post(`/v1/hotline/threads/${encodeURIComponent(threadId)}/messages`, body);
  }
  /** Acknowledging a message is posting an ``acknowledgement`` that replies to it. */
  acknowledgeMessage(threadId, seq) {
    return this.postMessage(threadId, { kind: "acknowledgement", body: "", reply_to_seq: seq });
  }
  markRead(threadId, throughSeq) {
    return this.post(`/v1/hotline/threads/${encodeURIComponent(threadId)}/read`, { through_seq: throughSeq });
  }
  /** {receipts: [{party_id, kind: delivered|read, time, person}], acknowledgements: [...]} */
  receipts(threadId, seq) {
    return this.get(`/v1/hotline/threads/${encodeURIComponent(threadId)}/messages/${seq}/receipts`);
  }
  phrases(language) { return this.get(`/v1/hotline/phrases?language=${encodeURIComponent(language)}`); }

  // Shared record and incidents (docs/record.md); live changes arrive as incident.* events.
  /** A page of the incidents this party is involved in: [{id, kind, status, time, parties, unit_ids, summary,
   * evidence_sha256, ...}] (the first, or the one at ``next``). */
  incidents(next = null) { return this.page(next || "/v1/incidents"); }
  /** One incident with accounts [{party_id, position, text, written, amends}] and timeline. */
  incident(id) { return this.get(`/v1/incidents/${encodeURIComponent(id)}`); }
  /** Append this party's own account; ``amends`` names the position of one of its own earlier accounts. */
  addAccount(id, text, amends = null) {
    const body = { text };
    if (amends !== null && amends !== undefined) body.amends = amends;
    return this.post(`/v1/incidents/${encodeURIComponent(id)}/accounts`, body);
  }
  /** status: open | under-review | agreed | disputed | closed. */
  setReview(id, status, note = "") { return this.post(`/v1/incidents/${encodeURIComponent(id)}/review`, { status, note }); }
  /** The incident report as HTML text: resolves to {ok, status, text}. */
  async incidentReport(id) {
    const response = await fetch(`${this.base}/v1/incidents/${encodeURIComponent(id)}/report`, { headers: this.headers({ Accept: "text/html" }) });
    return { ok: response.ok, status: response.status, text: await response.text() };
  }
  /** The party's verifiable ledger export (JSON; verify offline with `keepclear ledger verify FILE`). */
  exportRecord() { return this.get("/v1/record/export"); }
  /** The latest signed tree head (a C2SP checkpoint note): resolves to {ok, status, text}. */
  async checkpoint() {
    const response = await fetch(`${this.base}/v1/record/checkpoint`, { headers: this.headers({ Accept: "text/plain" }) });
    return { ok: response.ok, status: response.status, text: await response.text() };
  }
  /** {tree_size, note, cosigned_by, missing, agreed} of the signed head of ``size``. */
  cosignatures(size) { return this.get(`/v1/record/cosignatures?size=${size}`); }
  /** RFC 9162 consistency proof between two signed heads: {old, new, proof, log_keys}. */
  consistencyProof(oldSize, newSize) { return this.get(`/v1/record/proof/consistency?old=${oldSize}&new=${newSize}`); }
  /** Cosign the signed head of ``size`` with the party's custodial key (after checking it here). */
  witness(size) { return this.post("/v1/record/witness", { tree_size: size }); }
  /** Record this party's own cosignature line (made here with its own key, strong mode) on a signed head. */
  addCosignature(note) { return this.post("/v1/record/cosignatures", { note }); }
  /** Report a head that failed the check: recorded, and every other party alerted on the hotline. */
  reportInconsistency(seenBefore, served, problem) {
    return this.post("/v1/record/inconsistency", { seen_before: seenBefore, served, problem: problem.slice(0, 500) });
  }

  // Zone proposals (docs/api.md; docs/interop/tak.md): a party's keys read their own party's, the admin
  // every party's and decides them; proposal.* events on the stream tell the proposing party.
  /** A page of the zone proposals [{id, party_id, source, name, geometry, radius_m, remarks, proposed_s,
   * state, decided_s, reason, zone_id, problems}] (``state``: pending | accepted | refused, or null for
   * all; the first page, or the one at ``next``). */
  zoneProposals(state = null, next = null) {
    return this.page(next || `/v1/zone-proposals${state ? `?state=${encodeURIComponent(state)}` : ""}`);
  }
  zoneProposal(id) { return this.get(`/v1/zone-proposals/${encodeURIComponent(id)}`); }
  /** Accept a proposal as the zone ``zoneId`` of ``kind`` (``properties``: buffer_m of a line...): admin. */
  acceptZoneProposal(id, zoneId, kind, properties = {}) {
    return this.post(`/v1/zone-proposals/${encodeURIComponent(id)}/accept`, { zone_id: zoneId, kind, properties });
  }
  /** Refuse a proposal with a reason (1 to 2,000 characters): admin. */
  refuseZoneProposal(id, reason) { return this.post(`/v1/zone-proposals/${encodeURIComponent(id)}/refuse`, { reason }); }

  /** The live stream; see LiveStream. */
  stream(handlers) { return new LiveStream(this, handlers); }
}

/** The console's language files (static, no key): the list [{code, name}] and one file's strings. */
export async function languages() {
  try {
    const response = await fetch("/static/i18n/index.json");
    return response.ok ? await response.json() : [];
  } catch { return []; }
}

export async function strings(code) {
  if (!/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/.test(code || "")) return null;
  try {
    const response = await fetch(`/static/i18n/${code}.json`);
    return response.ok ? await response.json() : null;
  } catch { return null; }
}

/** An idempotency key (8-128 of A-Za-z0-9_.:-): a retry of the same post sends the same key. */
function newKey() {
  if (crypto.randomUUID) return `console-${crypto.randomUUID()}`;
  return `console-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/** The POST /v1/activities body (the activity document of docs/activities.md) for a draft drawn on the map.
 * A route's waypoints are timed evenly over the window (first at the start, last at the end). */
export function activityBody(draft) {
  const body = {
    kind: draft.kind,
    start: draft.start,
    end: draft.end,
    addressees: draft.addressees,
    contact: draft.contact,
    text: draft.text || "",
  };
  if (draft.geometry.type === "LineString") {
    const points = draft.geometry.coordinates;
    const t0 = Date.parse(draft.start);
    const step = (Date.parse(draft.end) - t0) / Math.max(points.length - 1, 1);
    body.route = {
      half_width_m: draft.half_width_m,
      lower_ft: draft.lower_ft,
      upper_ft: draft.upper_ft,
      waypoints: points.map(([lon, lat], i) => ({ lat, lon, time: new Date(t0 + i * step).toISOString().replace(/\.\d{3}Z$/, "Z") })),
    };
  } else {
    body.volumes = [{ geometry: draft.geometry, lower_ft: draft.lower_ft, upper_ft: draft.upper_ft }];
  }
  return body;
}

/**
 * Server-sent events over fetch (EventSource cannot send the Authorization header).
 * Reconnects with a growing delay and Last-Event-ID; calls onOpen(isReconnect) on every connect so the
 * app can catch up, onEvent(kind, data) per event, onState("live"|"connecting"|"down") on changes.
 */
export class LiveStream {
  constructor(api, { onEvent, onOpen, onState }) {
    this.api = api;
    this.onEvent = onEvent;
    this.onOpen = onOpen || (() => {});
    this.onState = onState || (() => {});
    this.lastId = null;
    this.stopped = false;
    this.connects = 0;
    this.controller = null;
    this.delayMs = 500;
  }

  start() { this.loop(); return this; }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  async loop() {
    while (!this.stopped) {
      this.onState("connecting");
      try {
        await this.connectOnce();
      } catch (error) {
        if (this.stopped) return;
      }
      if (this.stopped) return;
      this.onState("down");
      await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      this.delayMs = Math.min(this.delayMs * 2, 8000);
    }
  }

  async connectOnce() {
    this.controller = new AbortController();
    const headers = this.api.headers({ Accept: "text/event-stream" });
    if (this.lastId !== null) headers["Last-Event-ID"] = String(this.lastId);
    const response = await fetch(this.api.base + "/v1/stream", { headers, signal: this.controller.signal, cache: "no-store" });
    if (!response.ok || !response.body) throw new ApiError(response.status, null);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        this.dispatch(block);
      }
    }
  }

  dispatch(block) {
    let kind = "message";
    let id = null;
    const lines = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") kind = value;
      else if (field === "data") lines.push(value);
      else if (field === "id") id = value;
    }
    if (!lines.length) return;
    let data;
    try { data = JSON.parse(lines.join("\n")); } catch { return; }
    if (id !== null && /^[0-9a-f]{16}$/.test(id)) this.lastId = id; // the event's tag (docs/api.md, "The stream")
    if (kind === "hello") {
      this.delayMs = 500;
      this.connects += 1;
      this.onState("live");
      this.onOpen(this.connects > 1);
      return;
    }
    remember("/v1/stream", data);
    this.onEvent(kind, data);
  }
}
