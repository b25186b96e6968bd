// The console's words: one JSON file per language under static/i18n (en.json is complete and the
// fallback; adding a language is adding a file). ``t(key, params)`` gives the reader's wording with
// {name} parameters filled in; keys are written out in full in the code so a test can find them all.

let table = {};
let fallback = {};
let language = "en";

/** Use ``strings`` (a language file's contents) for ``lang``, with ``english`` for anything missing. */
export function setLanguage(lang, strings, english) {
  language = lang;
  table = strings || {};
  fallback = english || {};
  document.documentElement.lang = lang;
}

export function currentLanguage() { return language; }

/** The text of ``key`` in the reader's language, {name} replaced by params.name. */
export function t(key, params = {}) {
  const template = table[key] ?? fallback[key];
  if (template === undefined) return key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (params[name] === undefined ? whole : String(params[name])));
}

/** The text of a key built from a value the server sends (a level, a status, a kind): the value itself
 * when the language files do not name it (a value a newer server added). */
export function tv(prefix, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = `${prefix}.${value}`;
  return key in table || key in fallback ? t(key) : String(value);
}

/** [[rest, text]] of every key ``prefix.rest`` the reader's language words otherwise than ``rest``
 * (the basemap's place and country names: "place.Damascus" is "Дамаск" in Russian). */
export function entries(prefix) {
  const start = `${prefix}.`;
  return Object.entries(table).filter(([k, v]) => k.startsWith(start) && v !== k.slice(start.length)).map(([k, v]) => [k.slice(start.length), v]);
}

/** A name the server gives in several languages (``names``: language tag -> name, as a zone's): the
 * reader's, else ``name``. */
export function localName(name, names) {
  return (names && typeof names[language] === "string" && names[language]) || name;
}

/** Whether the language files know ``key``. */
export function has(key) { return key in table || key in fallback; }

/** Translate the static page: data-i18n="key" sets the text, data-i18n-attr="attr:key;attr:key" attributes. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** A number in the reader's notation (decimal comma in Russian). */
export function num(value, digits = 0) {
  return Number(value).toLocaleString(language, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
