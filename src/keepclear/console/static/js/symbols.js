// APP-6 / MIL-STD-2525C symbols for units, drawn by milsymbol (loaded as a classic script: window.ms).

/** Affiliation letters of 2525C: friend, neutral, unknown. */
export const FRIEND = "F";
export const NEUTRAL = "N";
export const UNKNOWN = "U";

/** Own and partner forces are friendly; any other party's units neutral; no party known: unknown. */
export function affiliation(unitPartyId, ownPartyId) {
  if (!unitPartyId) return UNKNOWN;
  return unitPartyId === ownPartyId ? FRIEND : NEUTRAL;
}

const FUNCTION_BY_KIND = {
  air: { fighter: "MFF---", bomber: "MFB---", tanker: "MFK---", uav: "MFQ---", helicopter: "MH----", transport: "MFC---", "": "MF----" },
  land: { infantry: "UCI---", armour: "UCA---", armor: "UCA---", artillery: "UCF---", convoy: "UST---", "": "U-----" },
  sea: { carrier: "CLCV--", destroyer: "CLDD--", frigate: "CLFF--", "": "C-----" },
};
const DIMENSION = { air: "A", land: "G", sea: "S" };

/** The 15-character 2525C SIDC of a unit of ``domain`` and ``kind`` with affiliation ``aff``. */
export function sidc(domain, kind, aff) {
  const table = FUNCTION_BY_KIND[domain] || FUNCTION_BY_KIND.land;
  const fn = table[(kind || "").toLowerCase()] || table[""];
  return `S${aff}${DIMENSION[domain] || "G"}P${fn}-----`.slice(0, 15);
}

/** Adds the symbol image for ``code`` to ``map`` once; returns its image name. */
export function ensureSymbolImage(map, code) {
  const name = `sym-${code}`;
  if (map.hasImage(name)) return name;
  const ms = window.ms;
  if (!ms) return null;
  const canvas = new ms.Symbol(code, { size: 22, outlineWidth: 2, outlineColor: "#0b1118" }).asCanvas();
  const context = canvas.getContext("2d");
  const image = context.getImageData(0, 0, canvas.width, canvas.height);
  map.addImage(name, { width: canvas.width, height: canvas.height, data: new Uint8Array(image.data.buffer) }, { pixelRatio: 1 });
  return name;
}
