// The offline basemap style: Natural Earth layers served by keepclear itself, labels in DejaVu Sans
// (place and country names in the reader's language where its language file names them).
import { entries } from "./i18n.js";

export const FONT = ["DejaVu Sans"];

export const ZONE_COLORS = {
  "de-escalation-zone": "#3fa7ff",
  "deconfliction-line": "#ffb000",
  "special-caution-area": "#ff7a1a",
  "restricted-operating-zone": "#e0409a",
  "protected-site": "#33d17a",
};

/** A label expression giving a feature's ``name`` in the reader's language where the language file has it. */
function localName() {
  const names = entries("place");
  return names.length ? ["match", ["get", "name"], ...names.flat(), ["get", "name"]] : ["get", "name"];
}

const empty = () => ({ type: "geojson", data: { type: "FeatureCollection", features: [] } });

/** The whole map style: basemap plus (empty) sources for zones, activities, the zone proposal shown, alerts,
 * tracks and drafts. */
export function style(origin) {
  const data = (name) => ({ type: "geojson", data: `${origin}/static/basemap/${name}.geojson` });
  const zoneColor = ["match", ["get", "kind"], ...Object.entries(ZONE_COLORS).flat(), "#bbbbbb"];
  return {
    version: 8,
    name: "keepclear offline",
    "font-faces": { "DejaVu Sans": `${origin}/static/fonts/DejaVuSans.ttf` },
    sources: {
      land: data("land"), countries: data("countries"), lakes: data("lakes"), rivers: data("rivers"),
      coastlines: data("coastlines"), places: data("places"), countryLabels: data("country-labels"),
      zones: empty(), activities: empty(), proposal: empty(), alerts: empty(), tracks: empty(), leaders: empty(), draft: empty(),
    },
    layers: [
      { id: "sea", type: "background", paint: { "background-color": "#0f2233" } },
      { id: "land", type: "fill", source: "land", paint: { "fill-color": "#1e2a22" } },
      { id: "lakes", type: "fill", source: "lakes", paint: { "fill-color": "#1d4a6e" } },
      { id: "rivers", type: "line", source: "rivers", paint: { "line-color": "#3b8fd0", "line-width": ["interpolate", ["linear"], ["zoom"], 4, 1.2, 9, 3] } },
      { id: "coastlines", type: "line", source: "coastlines", paint: { "line-color": "#5b7c8f", "line-width": 0.8 } },
      { id: "borders", type: "line", source: "countries", paint: { "line-color": "#8a8f7a", "line-width": 1, "line-dasharray": [3, 2] } },
      { id: "country-labels", type: "symbol", source: "countryLabels", maxzoom: 7,
        layout: { "text-field": localName(), "text-font": FONT, "text-size": 13, "text-transform": "uppercase", "text-letter-spacing": 0.15 },
        paint: { "text-color": "#8d9a8f", "text-halo-color": "#0b1118", "text-halo-width": 1 } },
      { id: "zones-fill", type: "fill", source: "zones", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": zoneColor, "fill-opacity": 0.22 } },
      { id: "zones-outline", type: "line", source: "zones",
        paint: { "line-color": zoneColor, "line-width": ["match", ["get", "kind"], "deconfliction-line", 3, 2] } },
      // A point zone keeps a marker only when its circle is too small to see at theatre zoom.
      { id: "zones-point", type: "circle", source: "zones",
        filter: ["all", ["==", ["geometry-type"], "Point"], ["<", ["coalesce", ["get", "radius_m"], 0], 5000]],
        paint: { "circle-radius": 7, "circle-color": zoneColor, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 } },
      { id: "places", type: "circle", source: "places",
        paint: { "circle-radius": ["match", ["get", "rank"], 1, 4, 2, 3, 2], "circle-color": "#e8e6d9", "circle-stroke-color": "#0b1118", "circle-stroke-width": 1 } },
      { id: "place-labels", type: "symbol", source: "places",
        layout: { "text-field": localName(), "text-font": FONT, "text-size": ["match", ["get", "rank"], 1, 14, 2, 12, 11], "text-anchor": "left", "text-offset": [0.6, 0],
          "symbol-sort-key": ["get", "rank"] },
        paint: { "text-color": "#e8e6d9", "text-halo-color": "#0b1118", "text-halo-width": 1.5 } },
      // Labels give way to one another (no pile-up at theatre zoom); layers higher up are placed first:
      // units (those in an alert, then own), activities, zones, then places.
      { id: "zones-label", type: "symbol", source: "zones", filter: ["!", ["has", "circle"]],
        layout: { "text-field": ["coalesce", ["get", "label"], ["get", "name"]], "text-font": FONT, "text-size": 12, "text-max-width": 12,
          "text-variable-anchor": ["top", "bottom", "left", "right"], "text-radial-offset": 0.9 },
        paint: { "text-color": zoneColor, "text-halo-color": "#0b1118", "text-halo-width": 1.5 } },
      { id: "activities-fill", type: "fill", source: "activities", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": "#b48cff", "fill-opacity": 0.18 } },
      { id: "activities-line", type: "line", source: "activities",
        paint: { "line-color": "#b48cff", "line-width": 2, "line-dasharray": [2, 1] } },
      { id: "activities-label", type: "symbol", source: "activities",
        layout: { "text-field": ["get", "label"], "text-font": FONT, "text-size": 11, "text-max-width": 14 },
        paint: { "text-color": "#d6c2ff", "text-halo-color": "#0b1118", "text-halo-width": 1.5 } },
      // The zone proposal selected in its panel (not a zone yet): white, dashed, a marker at each position.
      { id: "proposal-fill", type: "fill", source: "proposal", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": "#ffffff", "fill-opacity": 0.12 } },
      { id: "proposal-line", type: "line", source: "proposal", filter: ["!=", ["geometry-type"], "Point"],
        paint: { "line-color": "#ffffff", "line-width": 2.5, "line-dasharray": [3, 1.5] } },
      { id: "proposal-point", type: "circle", source: "proposal", filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-radius": 5, "circle-color": "#ffffff", "circle-stroke-color": "#0b1118", "circle-stroke-width": 1.5 } },
      { id: "draft-line", type: "line", source: "draft", paint: { "line-color": "#ffffff", "line-width": 2, "line-dasharray": [1, 1] } },
      { id: "draft-points", type: "circle", source: "draft", filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-radius": 4, "circle-color": "#ffffff" } },
      { id: "leaders", type: "line", source: "leaders", paint: { "line-color": ["get", "color"], "line-width": 1.5 } },
      { id: "alert-cpa-line", type: "line", source: "alerts", filter: ["==", ["get", "part"], "cpa-line"],
        paint: { "line-color": ["get", "color"], "line-width": 2.5, "line-dasharray": [2, 1.5] } },
      { id: "alert-links", type: "line", source: "alerts", filter: ["==", ["get", "part"], "track-to-cpa"],
        paint: { "line-color": ["get", "color"], "line-width": 1, "line-opacity": 0.7 } },
      { id: "alert-cpa-points", type: "circle", source: "alerts", filter: ["==", ["get", "part"], "cpa"],
        paint: { "circle-radius": 6, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": ["get", "color"], "circle-stroke-width": 2.5 } },
      { id: "alert-units", type: "circle", source: "alerts", filter: ["==", ["get", "part"], "unit"],
        paint: { "circle-radius": 16, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": ["get", "color"], "circle-stroke-width": 3 } },
      { id: "tracks", type: "symbol", source: "tracks",
        layout: { "icon-image": ["get", "icon"], "icon-allow-overlap": true, "text-field": ["get", "callsign"], "text-font": FONT,
          "text-size": 11, "text-variable-anchor": ["top", "bottom", "right", "left"], "text-radial-offset": 1.4,
          "text-optional": true, "symbol-sort-key": ["get", "rank"] },
        paint: { "text-color": ["get", "color"], "text-halo-color": "#0b1118", "text-halo-width": 1.5 } },
    ],
  };
}
