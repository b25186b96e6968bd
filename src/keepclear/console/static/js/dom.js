// Small DOM helpers: elements are built with textContent only, so no data is ever parsed as HTML.
import { t } from "./i18n.js";

/** h("button.primary#send", {onclick, "aria-label": ...}, "text", child...) */
export function h(spec, attrs = {}, ...children) {
  const [, tag, rest] = spec.match(/^([a-z0-9]*)(.*)$/i);
  const el = document.createElement(tag || "div");
  const classes = [];
  for (const [, mark, name] of rest.matchAll(/([.#])([^.#]+)/g)) {
    if (mark === "#") el.id = name; else classes.push(name);
  }
  if (classes.length) el.className = classes.join(" ");
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

/** "2m 05s" / "-0m 12s" (in the reader's units) for a number of seconds. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const sign = seconds < 0 ? "-" : "";
  const s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return sign + (h ? t("units.hours_minutes", { h, m: String(m).padStart(2, "0") }) : t("units.minutes_seconds", { m, s: String(r).padStart(2, "0") }));
}

/** HH:MM:SSZ of an ISO time (or epoch seconds), as the reader writes UTC. */
export function clock(iso) {
  if (iso === null || iso === undefined || iso === "") return "";
  const d = new Date(typeof iso === "number" ? iso * 1000 : iso);
  return Number.isNaN(d.getTime()) ? String(iso) : t("time.utc", { t: d.toISOString().slice(11, 19) });
}

/** The date and time of an ISO time, for times that may be on another day (deadlines, activity windows). */
export function dateClock(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : t("time.utc", { t: `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16)}` });
}

