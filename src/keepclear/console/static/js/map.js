// The map: MapLibre with the offline basemap, zones, units, leaders, activities, alerts and drawing.
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.mjs";
import { style } from "./basemap.js";
import { affiliation, ensureSymbolImage, FRIEND, sidc } from "./symbols.js";
import { localName, num, t } from "./i18n.js";
import { activityName } from "./activities.js";

export const LEVEL_COLORS = { advisory: "#f5d90a", caution: "#ff9d00", warning: "#ff3b3b" };
const RESOLVED_COLOR = "#b7c3cf";
const AFFILIATION_COLORS = { F: "#80d8ff", N: "#aaffaa", U: "#ffff80" };
/** Leaders show where a unit will be after this many seconds at its present velocity. */
export const LEADER_S = 120;
const EARTH_RADIUS_M = 6371008.8;

const fc = (features) => ({ type: "FeatureCollection", features });

/** The point ``east_m``/``north_m`` metres from lon/lat (flat-earth offset; fine for leaders). */
function offset(lon, lat, eastM, northM) {
  const dLat = (northM / EARTH_RADIUS_M) * (180 / Math.PI);
  const dLon = (eastM / (EARTH_RADIUS_M * Math.cos((lat * Math.PI) / 180))) * (180 / Math.PI);
  return [lon + dLon, lat + dLat];
}

export class MapView {
  constructor(container, { onCursor, onReady }) {
    this.map = new maplibregl.Map({
      container,
      style: style(window.location.origin),
      center: [38.5, 35.0],
      zoom: 5.6,
      attributionControl: { compact: true, customAttribution: "Natural Earth (public domain)" },
      fadeDuration: 0,
      preserveDrawingBuffer: true, // screenshots in tests read the canvas
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: true }), "top-left");
    this.map.addControl(new ScaleBar(140), "bottom-left");
    this.map.on("mousemove", (e) => onCursor(e.lngLat));
    this.ready = new Promise((resolve) => this.map.on("load", () => { onReady && onReady(); resolve(); }));
    this.draft = null;
    this.held = new Map(); // source name → the JSON of the features it was last given (setFeatures)
    this.map.on("click", (e) => this.draftClick(e));
    this.map.on("dblclick", (e) => { if (this.draft) { e.preventDefault(); this.finishDraft(); } });
  }

  source(name) { return this.map.getSource(name); }

  /** Gives source ``name`` these features unless they are the ones it holds: the tactical picture comes
   * after every probe tick and is mostly the same, and each setData makes the map work its source out
   * again, so a busy machine never settled (the map never "loaded") while nothing moved. */
  setFeatures(name, features) {
    const source = this.source(name);
    if (!source) return;
    const text = JSON.stringify(features);
    if (this.held.get(name) === text) return;
    this.held.set(name, text);
    source.setData(fc(features));
  }

  /** What the map was last given to draw, by source (tracks, alerts): to read back what is shown. */
  get drawn() { return this._drawn || (this._drawn = {}); }

  /** Zones; a point with a radius (al-Tanf's 55 km) is drawn as its circle, labelled once at its centre,
   * each named in the reader's language where the zone gives that name (its ``names``), else by ``name``. */
  /** The zone's name in the reader's language, else its id. */
  zoneLabel(zoneId) { return (this.zoneLabels && this.zoneLabels.get(zoneId)) || zoneId; }

  setZones(collection) {
    const features = [];
    this.zoneLabels = new Map();
    for (const raw of (collection && collection.features) || []) {
      const props = raw.properties || {};
      const f = { ...raw, properties: { ...props, label: localName(props.name, props.names) } };
      const id = raw.id ?? props.id; // the zones' answer puts each zone's id on its feature
      if (id) this.zoneLabels.set(id, f.properties.label);
      const radius = f.properties && f.properties.radius_m;
      if (f.geometry && f.geometry.type === "Point" && radius > 0) {
        const [lon, lat] = f.geometry.coordinates;
        features.push({ ...f, properties: { ...f.properties, circle: true }, geometry: circlePolygon(lon, lat, radius) });
      }
      features.push(f);
    }
    this.setFeatures("zones", features);
  }

  /** Units as symbols with leaders and callsigns; ``states`` are track states visible to the caller. */
  setTracks(states, ownPartyId, unitsById, alerted = new Set()) {
    const features = [];
    const leaders = [];
    for (const s of states) {
      const unit = unitsById.get(s.unit_id) || {};
      const aff = affiliation(s.party_id, ownPartyId);
      const icon = ensureSymbolImage(this.map, sidc(s.domain || unit.domain, unit.kind, aff));
      const color = AFFILIATION_COLORS[aff];
      features.push({
        type: "Feature",
        // Labels are placed by rank where they would collide: units in an alert, then own units, then others.
        properties: { unit_id: s.unit_id, callsign: s.callsign || unit.callsign || s.unit_id, icon, color, friendly: aff === FRIEND,
          rank: alerted.has(s.unit_id) ? 0 : aff === FRIEND ? 1 : 2 },
        geometry: { type: "Point", coordinates: [s.lon_deg, s.lat_deg] },
      });
      const east = s.vel_east_mps || 0;
      const north = s.vel_north_mps || 0;
      if (Math.hypot(east, north) > 0.5) {
        const tip = offset(s.lon_deg, s.lat_deg, east * LEADER_S, north * LEADER_S);
        leaders.push({ type: "Feature", properties: { color }, geometry: { type: "LineString", coordinates: [[s.lon_deg, s.lat_deg], tip] } });
      }
    }
    this.drawn.tracks = features;
    this.setFeatures("tracks", features);
    this.setFeatures("leaders", leaders);
  }

  /** Alert geometry: the units' positions, the predicted closest-approach points and the line between. */
  /** ``latest``: unit id → its latest track state; an active alert's ring sits there (where the unit is
   * now), not where the alert last said it was. */
  setAlerts(alerts, reviewing = null, latest = new Map()) {
    const features = [];
    const point = (p) => [p.lon_deg, p.lat_deg];
    for (const a of alerts) {
      // A resolved alert is drawn only while it is being reviewed, in grey.
      if (a.status === "resolved" && a.alert_id !== reviewing) continue;
      const color = a.status === "resolved" ? RESOLVED_COLOR : LEVEL_COLORS[a.level] || "#ffffff";
      const props = (part) => ({ part, color, alert_id: a.alert_id, level: a.level });
      const cpaPoints = [];
      for (const unitId of [a.unit_a, a.unit_b]) {
        const live = a.status !== "resolved" ? latest.get(unitId) : null;
        const now = live || (a.positions || {})[unitId];
        const cpa = a.cpa && a.cpa.points ? a.cpa.points[unitId] : null;
        if (now) features.push({ type: "Feature", properties: { ...props("unit"), unit_id: unitId }, geometry: { type: "Point", coordinates: point(now) } });
        if (cpa) {
          cpaPoints.push(point(cpa));
          features.push({ type: "Feature", properties: props("cpa"), geometry: { type: "Point", coordinates: point(cpa) } });
          if (now) features.push({ type: "Feature", properties: props("track-to-cpa"), geometry: { type: "LineString", coordinates: [point(now), point(cpa)] } });
        }
      }
      if (cpaPoints.length === 2) features.push({ type: "Feature", properties: props("cpa-line"), geometry: { type: "LineString", coordinates: cpaPoints } });
    }
    this.drawn.alerts = features;
    this.setFeatures("alerts", features);
  }

  /** Activities' volumes (polygons) and routes (lines), labelled with their name. */
  setActivities(activities) {
    const features = [];
    for (const act of activities) {
      const label = activityName(act);
      for (const g of activityGeometries(act)) features.push({ type: "Feature", properties: { id: act.id, label }, geometry: g });
    }
    this.setFeatures("activities", features);
  }

  /** The zone proposal selected (``null`` clears it): its shape, a circle (a Point with ``radius_m``)
   * drawn as its 64-gon with its centre marked; the map moves to show it whole. */
  setProposal(proposal) {
    const g = proposal && proposal.geometry;
    const features = [];
    if (g && g.type === "Point" && proposal.radius_m > 0) {
      const [lon, lat] = g.coordinates;
      features.push({ type: "Feature", properties: { id: proposal.id }, geometry: circlePolygon(lon, lat, proposal.radius_m) });
    }
    if (g) features.push({ type: "Feature", properties: { id: proposal.id }, geometry: g });
    this.drawn.proposal = features;
    this.setFeatures("proposal", features);
    const box = bounds(features.map((f) => f.geometry));
    if (box) this.map.fitBounds(box, { padding: 60, maxZoom: 9, duration: 0 });
  }

  flyTo(lon, lat) { this.map.easeTo({ center: [lon, lat], zoom: Math.max(this.map.getZoom(), 7) }); }

  // Drawing an activity: click vertices, double-click (or Finish) to end.
  startDraft(kind, onDone) {
    this.draft = { kind, points: [], onDone };
    this.map.doubleClickZoom.disable();
    this.map.getCanvas().style.cursor = "crosshair";
    this.renderDraft();
  }

  cancelDraft() {
    this.draft = null;
    this.map.doubleClickZoom.enable();
    this.map.getCanvas().style.cursor = "";
    this.renderDraft();
  }

  draftClick(e) {
    if (!this.draft) return;
    const p = [Number(e.lngLat.lng.toFixed(5)), Number(e.lngLat.lat.toFixed(5))];
    const last = this.draft.points.at(-1);
    if (!last || last[0] !== p[0] || last[1] !== p[1]) this.draft.points.push(p);
    this.renderDraft();
  }

  /** Adds a vertex by coordinates (keyboard entry and tests). */
  addDraftPoint(lon, lat) {
    if (this.draft) { this.draft.points.push([lon, lat]); this.renderDraft(); }
  }

  finishDraft() {
    const d = this.draft;
    if (!d) return null;
    const needed = d.kind === "route" ? 2 : 3;
    if (d.points.length < needed) return null;
    const geometry = d.kind === "route"
      ? { type: "LineString", coordinates: d.points }
      : { type: "Polygon", coordinates: [[...d.points, d.points[0]]] };
    const done = d.onDone;
    this.cancelDraft();
    this.showDraft(geometry);
    done(geometry);
    return geometry;
  }

  /** Shows a finished shape until the notification is sent or abandoned (``null`` clears it). */
  showDraft(geometry) {
    const features = geometry ? [{ type: "Feature", properties: {}, geometry: geometry.type === "Polygon" ? { type: "LineString", coordinates: geometry.coordinates[0] } : geometry }] : [];
    this.setFeatures("draft", features);
  }

  renderDraft() {
    const d = this.draft;
    const features = [];
    if (d) {
      d.points.forEach((p) => features.push({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: p } }));
      if (d.points.length >= 2) {
        const ring = d.kind === "route" ? d.points : [...d.points, d.points[0]];
        features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: ring } });
      }
    }
    this.setFeatures("draft", features);
  }
}

/** The map's scale in nautical miles and kilometres, worded in the reader's language (NM, not "nm"). */
class ScaleBar {
  constructor(maxWidthPx) { this.maxWidthPx = maxWidthPx; }

  onAdd(map) {
    this.map = map;
    this.el = document.createElement("div");
    this.el.className = "maplibregl-ctrl scalebar";
    this.el.id = "scalebar";
    this.nm = document.createElement("div");
    this.km = document.createElement("div");
    this.el.append(this.nm, this.km);
    this.update = () => this.draw();
    map.on("move", this.update);
    this.draw();
    return this.el;
  }

  onRemove() { this.map.off("move", this.update); this.el.remove(); }

  draw() {
    const y = this.map.getContainer().clientHeight / 2;
    const a = this.map.unproject([0, y]);
    const b = this.map.unproject([this.maxWidthPx, y]);
    const metres = haversineM(a.lat, a.lng, b.lat, b.lng);
    for (const [el, unitM, key] of [[this.nm, 1852, "units.nm"], [this.km, 1000, "units.km"]]) {
      const full = metres / unitM;
      const nice = niceNumber(full);
      el.style.width = `${Math.round((this.maxWidthPx * nice) / full)}px`;
      el.textContent = t(key, { n: num(nice, nice < 1 ? 1 : 0) });
    }
  }
}

function niceNumber(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  const d = value / power;
  return (d >= 5 ? 5 : d >= 2 ? 2 : 1) * power;
}

function haversineM(lat1, lon1, lat2, lon2) {
  const r = (x) => (x * Math.PI) / 180;
  const s = Math.sin(r(lat2 - lat1) / 2) ** 2 + Math.cos(r(lat1)) * Math.cos(r(lat2)) * Math.sin(r(lon2 - lon1) / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.sqrt(s));
}

/** The GeoJSON geometries of an activity view: its volumes (polygons; circles drawn as 64-gons), its route
 * (the waypoints as a line) and, on the caller's own activity, where other parties' activities overlap it. */
export function activityGeometries(act) {
  const out = [];
  for (const v of act.volumes || []) {
    if (v.geometry) out.push(v.geometry);
    else if (v.circle) out.push(circlePolygon(v.circle.lon, v.circle.lat, v.circle.radius_m));
  }
  if (act.route && act.route.waypoints) out.push({ type: "LineString", coordinates: act.route.waypoints.map((w) => [w.lon, w.lat]) });
  for (const o of act.overlapped_by || []) if (o.geometry) out.push(o.geometry);
  return out.filter((g) => g && g.coordinates && g.coordinates.length);
}

/** [[west, south], [east, north]] of GeoJSON ``geometries`` (Point, LineString, Polygon), or null when empty. */
export function bounds(geometries) {
  const positions = geometries.flatMap((g) => (g.type === "Point" ? [g.coordinates] : g.type === "LineString" ? g.coordinates : g.type === "Polygon" ? g.coordinates.flat() : []));
  if (!positions.length) return null;
  const lons = positions.map((p) => p[0]);
  const lats = positions.map((p) => p[1]);
  return [[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]];
}

function circlePolygon(lon, lat, radiusM) {
  const ring = [];
  for (let i = 0; i <= 64; i += 1) {
    const angle = (2 * Math.PI * i) / 64;
    ring.push(offset(lon, lat, radiusM * Math.sin(angle), radiusM * Math.cos(angle)));
  }
  return { type: "Polygon", coordinates: [ring] };
}
