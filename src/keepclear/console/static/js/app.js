// The console: sign-in, state loaded through the API, the map, the panels and the live stream.
import { Api, languages, received, strings } from "./api.js";
import { currentLanguage, num, setLanguage, t, translatePage, tv } from "./i18n.js";
import { clear, clock, clock as formatClock, h } from "./dom.js";
import { MapView } from "./map.js";
import { AlertsPanel, alertUnits } from "./alerts.js";
import { ActivitiesPanel } from "./activities.js";
import { HotlinePanel } from "./hotline.js";
import { RecordPanel } from "./record.js";
import { ProposalsPanel } from "./proposals.js";
import { TimeControl } from "./timecontrol.js";
import { DeploymentClock, RESYNC_MS } from "./clock.js";

const KEY_STORE = "keepclear.key";
/** The reader's own choice of language, kept in this browser (the party's language otherwise). */
const LANGUAGE_STORE = "keepclear.language";
/** How often the Units panel asks again where each unit is reported from (ms). */
const FEEDS_EVERY_MS = 3000;
/** How often the admin's console reads the zone proposals again (it has no live stream). */
const ADMIN_PROPOSALS_MS = 10000;
const $ = (id) => document.getElementById(id);

class Console {
  constructor(api, me, clock) {
    this.api = api;
    this.me = me;
    this.clock = clock;
    this.parties = [];
    this.units = new Map();
    this.feeds = new Map();
    this.tracks = [];
    this.map = new MapView($("map"), { onCursor: (ll) => showCursor(ll) });
    this.alerts = new AlertsPanel(this, $("alerts-body"), $("alerts-count"));
    this.activities = new ActivitiesPanel(this, $("panel-activities"));
    this.hotline = new HotlinePanel(this, $("panel-hotline"), $("unread"));
    this.record = new RecordPanel(this, $("panel-record"));
    this.proposals = new ProposalsPanel(this, $("panel-proposals"));
    this.time = new TimeControl(this);
    this.timers = [];
    this.refreshing = new Map();
    this.again = new Set();
  }

  get partyId() { return this.me.party_id; }
  get canAct() { return this.me.role === "liaison"; }
  /** The deployment's admin: no party, no live stream; the console shows it the zones and the zone
   * proposals of every party, to decide (the only views its key may read: docs/need-to-know.md). */
  get isAdmin() { return this.me.role === "admin"; }
  partyName(id) { return this.parties.find((p) => p.id === id)?.name || id || ""; }
  /** A unit's callsign where the registry lets this party know it (its own and partners'), else its id. */
  callsign(unitId) { return this.units.get(unitId)?.callsign || unitId; }
  get language() { return this.parties.find((p) => p.id === this.partyId)?.language || "en"; }

  async start() {
    await this.map.ready;
    await this.reloadAll();
    $("identity").textContent = this.me.party_id ? `${tv("role", this.me.role)} · ${this.partyName(this.me.party_id)}` : tv("role", this.me.role);
    if (this.isAdmin) {
      // The stream carries a party's events to its own readers only: the admin's lists are read again
      // after each of its decisions, on Reload, and every ADMIN_PROPOSALS_MS while no proposal is open
      // (a reading draws the panel again, which would drop what the admin is typing in a decision).
      showLiveState("none");
      this.timers.push(setInterval(() => this.syncClock(), RESYNC_MS));
      this.timers.push(setInterval(() => { if (!this.proposals.selected) this.refresh("proposals"); }, ADMIN_PROPOSALS_MS));
      return;
    }
    this.live = this.api.stream({
      onEvent: (kind, data) => this.onEvent(kind, data),
      onOpen: (reconnected) => { if (reconnected) this.reloadAll(); },
      onState: (state) => showLiveState(state),
    }).start();
    // The tactical picture comes over the stream after every probe tick (tracks.picture); a reconnect
    // reloads everything, tracks included.
    this.timers.push(setInterval(() => this.alerts.tick(), 1000));
    this.timers.push(setInterval(() => this.syncClock(), RESYNC_MS));
    this.timers.push(setInterval(() => { this.activities.tick(); this.hotline.tick(); }, 1000));
  }

  /** Read the deployment's clock again (it may run at a scenario's pace, or stop at its end). */
  async syncClock() {
    try {
      const r = await this.api.me();
      if (r.ok) this.clock.sync(r.data.now, r.data.clock_rate);
    } catch { /* the stream's state already says the server is unreachable */ }
  }

  async reloadAll() {
    if (this.isAdmin) {
      const [parties, zones] = await Promise.all([this.api.parties(), this.api.zones()]);
      if (parties.ok) this.parties = parties.data;
      if (zones.ok) this.map.setZones(zones.data);
      await this.refresh("proposals");
      document.body.dataset.loaded = "true";
      return;
    }
    const [parties, units, zones] = await Promise.all([this.api.parties(), this.api.units(), this.api.zones()]);
    if (parties.ok) this.parties = parties.data;
    if (units.ok) this.setUnits(units.data);
    if (zones.ok) this.map.setZones(zones.data);
    await Promise.all([this.refresh("tracks"), this.refresh("alerts"), this.refresh("activities"), this.refresh("threads"), this.refresh("record"), this.refresh("proposals")]);
    document.body.dataset.loaded = "true";
  }

  setUnits(list) {
    this.units = new Map(list.map((u) => [u.id, u]));
    renderUnits(this);
  }

  /** Re-fetch one part of the state. A request made while that part is being fetched is not lost: the
   * fetch runs once more when the current one ends (an event may have come after its answer was made). */
  refresh(part) {
    if (this.refreshing.has(part)) {
      this.again.add(part);
      return this.refreshing.get(part);
    }
    const job = (async () => {
      try {
        do {
          this.again.delete(part);
          try {
            await this.load(part);
          } catch (error) {
            console.warn(`refresh ${part} failed`, error);
          }
        } while (this.again.has(part));
      } finally {
        this.refreshing.delete(part);
      }
    })();
    this.refreshing.set(part, job);
    return job;
  }

  async load(part) {
    if (part === "tracks") await this.loadTracks();
    else if (part === "alerts") await this.alerts.load();
    else if (part === "activities") await this.activities.load();
    else if (part === "threads") await this.hotline.load();
    else if (part === "record") await this.record.load();
    else if (part === "proposals") await this.proposals.load();
    else if (part === "units") { const r = await this.api.units(); if (r.ok) this.setUnits(r.data); }
    else if (part === "zones") { const r = await this.api.zones(); if (r.ok) this.map.setZones(r.data); }
  }

  async loadTracks() {
    const r = await this.api.tracks();
    if (r.ok) this.setTracks(r.data);
  }

  /** The units this party may see now (a load, or the stream's picture after a probe tick): drawn with
   * the alert rings at their latest positions. */
  setTracks(states) {
    this.tracks = states;
    if (this.time.live) { this.drawTracks(this.tracks); this.drawAlerts(); }
    renderUnits(this);
    this.loadFeeds();
  }

  /** Each own unit's feed source and its last message time, for the Units panel: asked again at most
   * every FEEDS_EVERY_MS, however often the picture comes. */
  async loadFeeds() {
    const now = Date.now();
    if (this.feedsAsked && now - this.feedsAsked < FEEDS_EVERY_MS) return;
    this.feedsAsked = now;
    const feeds = await this.api.feeds();
    if (!feeds.ok) return;
    this.feeds = new Map(feeds.data.map((f) => [f.unit_id, f]));
    renderUnits(this);
  }

  /** The alerts on the map, their rings at the units' latest positions. */
  drawAlerts() {
    const latest = this.time.live ? new Map(this.tracks.map((s) => [s.unit_id, s])) : new Map();
    this.map.setAlerts(this.alerts.alerts, this.alerts.reviewing, latest);
  }

  /** Draws ``states`` plus the other parties' units that active alerts give this party (and only those):
   * the tracks route already lists those while the alert lasts; the alert's positions fill in between polls. */
  drawTracks(states) {
    const shown = new Set(states.map((s) => s.unit_id));
    const extra = [];
    for (const alert of this.alerts.active()) {
      for (const u of alertUnits(alert)) {
        if (!shown.has(u.unit_id) && u.lat_deg !== undefined) { shown.add(u.unit_id); extra.push(u); }
      }
    }
    const alerted = new Set(this.alerts.active().flatMap((a) => [a.unit_a, a.unit_b]));
    this.map.setTracks([...states, ...extra], this.partyId, this.units, alerted);
  }

  onEvent(kind, data) {
    const family = kind.split(".")[0];
    if (kind === "reload") this.reloadAll();
    else if (kind === "tracks.picture") { const states = data.payload && data.payload.states; if (!this.tracksMissing && Array.isArray(states)) this.setTracks(states); }
    else if (family === "alert") this.alerts.onEvent(kind, data);
    else if (family === "activity") this.activities.onEvent(kind, data);
    else if (family === "incident") this.record.onEvent(kind, data);
    else if (family === "proposal") this.proposals.onEvent(kind, data);
    else if (family === "message" || family === "thread") this.hotline.onEvent(kind, data);
    else if (family === "unit" || family === "force") this.refresh("units");
    else if (family === "zones" || family === "zone") this.refresh("zones");
    else if (family === "track" || family === "tracks") this.refresh("tracks");
    window.dispatchEvent(new CustomEvent("keepclear-event", { detail: { kind, data } }));
  }
}

function renderUnits(app) {
  const panel = clear($("panel-units"));
  panel.append(h("h2", {}, t("units.title")));
  const latest = new Map(app.tracks.map((s) => [s.unit_id, s]));
  const list = h("ul.list#units-list");
  for (const unit of app.units.values()) {
    const track = latest.get(unit.id);
    const where = track ? `${track.lat_deg.toFixed(3)}, ${track.lon_deg.toFixed(3)} · ${clock(track.time)}` : t("units.no_position");
    list.append(h("li", { dataset: { unit: unit.id } },
      h("button", { type: "button", onclick: () => track && app.map.flyTo(track.lon_deg, track.lat_deg) },
        h("strong", {}, unit.callsign), h("span.muted", {}, `${tv("domain", unit.domain)} · ${tv("unit_kind", unit.kind)} · ${unit.force_id}`), h("span.muted", {}, where),
        ...feedLine(app.feeds.get(unit.id)))));
  }
  panel.append(list);
}

/** The feed a unit's reports come from and its last message time (own units only: api.feeds()). */
function feedLine(feed) {
  if (!feed) return [];
  return [h("span.muted.feed", { dataset: { feedSource: feed.source } }, t("units.feed", { source: feed.source, time: clock(feed.last_message) }))];
}

function showCursor(ll) {
  const fmt = (v, pos, neg) => `${num(Math.abs(v), 4)}°${v >= 0 ? t(pos) : t(neg)}`;
  $("cursor").textContent = `${fmt(ll.lat, "map.north", "map.south")} ${fmt(ll.lng, "map.east", "map.west")}`;
}

function showLiveState(state) {
  const el = $("live-state");
  el.className = `badge ${state}`;
  el.textContent = tv("live", state);
  document.body.dataset.live = state;
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('#tabs [role="tab"]')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
  };
  tabs.forEach((tab) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      const shown = tabs.filter((x) => !x.hidden);
      if (step) { const next = shown[(shown.indexOf(tab) + step + shown.length) % shown.length]; select(next); next.focus(); }
    });
  });
  select(tabs[0]);
}

/** The admin's console: no alerts, activities, hotline, units, record or look-back (its key reads none
 * of them); the map with the zones, and the zone proposals to decide. */
function showAdminLayout() {
  for (const id of ["alerts", "timecontrol", "tab-activities", "tab-hotline", "tab-units", "tab-record"]) $(id).hidden = true;
  $("tab-proposals").click();
}

/** The top bar's time: the deployment's clock (a scenario's in a demo), with its pace when not real time. */
function tickClock(clock) {
  const now = clock.nowIso();
  $("utc").textContent = formatClock(now);
  $("utc").dataset.time = now;
  const rate = clock.rate;
  $("clock-rate").textContent = rate === 1 ? "" : rate === 0 ? t("topbar.clock_stopped") : t("topbar.clock_rate", { rate: Number(rate.toFixed(1)) });
}

async function signIn() {
  const dialog = $("signin");
  const form = $("signin-form");
  for (;;) {
    const stored = sessionStorage.getItem(KEY_STORE);
    if (stored) {
      const api = new Api(stored);
      try {
        const r = await api.me();
        if (r.ok && ["liaison", "observer", "admin"].includes(r.data.role)) return { api, me: r.data };
        $("signin-error").textContent = r.ok ? t("signin.wrong_role", { role: tv("role", r.data.role) }) : t("signin.refused");
      } catch {
        $("signin-error").textContent = t("signin.unreachable");
      }
      sessionStorage.removeItem(KEY_STORE);
    }
    dialog.showModal();
    await new Promise((resolve) => form.addEventListener("submit", resolve, { once: true }));
    sessionStorage.setItem(KEY_STORE, $("key").value.trim());
    $("key").value = "";
  }
}

/** The language to read in: the reader's own choice if any, else ``partyLanguage``, else the browser's. */
async function chooseLanguage(partyLanguage) {
  const english = await strings("en");
  const wanted = localStorage.getItem(LANGUAGE_STORE) || partyLanguage || (navigator.language || "en").slice(0, 2);
  const chosen = wanted === "en" ? english : await strings(wanted);
  setLanguage(chosen ? wanted : "en", chosen || english, english);
  translatePage();
  const select = $("language");
  if (!select.options.length) {
    for (const lang of await languages()) select.append(new Option(lang.name, lang.code));
    select.addEventListener("change", () => { localStorage.setItem(LANGUAGE_STORE, select.value); window.location.reload(); });
  }
  select.value = currentLanguage();
}

async function main() {
  await chooseLanguage(null);
  setupTabs();
  const { api, me } = await signIn();
  const parties = await api.parties();
  const own = parties.ok ? parties.data.find((p) => p.id === me.party_id) : null;
  if (own && own.language && own.language !== currentLanguage()) await chooseLanguage(own.language);
  const clock = new DeploymentClock();
  clock.sync(me.now, me.clock_rate);
  tickClock(clock);
  setInterval(() => tickClock(clock), 250);
  if (me.role === "admin") showAdminLayout();
  $("signout").hidden = false;
  $("signout").addEventListener("click", () => { sessionStorage.removeItem(KEY_STORE); window.location.reload(); });
  const app = new Console(api, me, clock);
  window.keepclear = { app, received };
  await app.start();
}

main();
