// UI text: one strings file per language (i18n/*.json); enum labels (site categories, precedences…) come from the
// hub's GET /v1/templates, the same bilingual data as the message templates.

import en from "./i18n/en.json";
import ru from "./i18n/ru.json";

const STRINGS = { en, ru };
const LANG_KEY = "deconfliction.lang";
const listeners = new Set();
let lang = STRINGS[localStorage.getItem(LANG_KEY)] ? localStorage.getItem(LANG_KEY) : "en";
let enums = {};

export const languages = Object.keys(STRINGS);
export const currentLang = () => lang;

/** The UI string `key` with `{name}` placeholders filled from `vars`; English, then the key, when missing. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all));
}

/** Remember the enum labels of `GET /v1/templates`: `enums[name] = {"values": [...], "labels": {lang: {value: label}}}`. */
export function setTemplates(catalog) {
  enums = {};
  for (const [name, spec] of Object.entries(catalog?.enums ?? {})) enums[name] = spec?.labels ?? {};
}

/**
 * An enum value's label in the UI language: the hub's catalogue first, then the page's own strings (`enum.NAME.VALUE`,
 * kept for the few enums the page shows before the catalogue answers), then English, then the value made readable.
 */
export function enumLabel(name, value) {
  const table = enums[name] ?? {};
  const own = `enum.${name}.${value}`;
  return (
    table[lang]?.[value] ??
    STRINGS[lang][own] ??
    table.en?.[value] ??
    en[own] ??
    String(value ?? "").replace(/[-_]/g, " ")
  );
}

/** Fill every [data-i18n*] element under `root` with the current language. */
export function translate(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  document.title = t("app.title");
}

export function setLang(code) {
  if (!STRINGS[code]) return;
  lang = code;
  localStorage.setItem(LANG_KEY, code);
  translate();
  for (const fn of listeners) fn(code);
}

/** Call `fn` after every language change (to re-render what JS wrote). */
export function onLangChange(fn) {
  listeners.add(fn);
}
