// Popup and list text for map objects, built lazily (on click), in the UI language.

import { h } from "../dom.js";
import { enumLabel, t } from "../i18n.js";
import { parseTime, timeEl } from "../time.js";

export function altitudeText(band) {
  if (!band) return t("alt.surface_up");
  return t("alt.band", { lower: Math.round(band.lower), upper: Math.round(band.upper), ref: band.reference ?? "" });
}

export function windowEl(start, end) {
  return h("span", {}, timeEl(parseTime(start)), " → ", timeEl(parseTime(end)));
}

const row = (label, ...value) => h("div", { class: "kv" }, h("span", { class: "k" }, label), h("span", {}, ...value));

export function operationPopup(entry) {
  const { op, volume } = entry;
  const state = entry.state ?? op.state; // at the time the map shows
  return h(
    "div",
    { class: "popup" },
    h("strong", {}, op.callsign || op.id),
    row(t("field.id"), op.id),
    row(t("field.state"), h("span", { class: `state state-${state}` }, t(`state.${state}`))),
    row(t("field.altitude"), altitudeText(volume.altitude)),
    row(t("field.window"), windowEl(volume.time.start, volume.time.end)),
    op.description ? row(t("field.description"), op.description) : null,
  );
}

export function sitePopup(entry) {
  const { site } = entry;
  return h(
    "div",
    { class: "popup" },
    h("strong", {}, site.name),
    row(t("field.category"), enumLabel("site_category", site.category)),
    row(t("field.window"), windowEl(site.valid_from, site.valid_to)),
    row(t("field.id"), site.id),
  );
}

export function conflictSummary(conflict) {
  return t("conflict.summary", {
    kind: enumLabel("conflict_kind", conflict.kind),
    party: conflict.other_party?.name ?? conflict.parties?.map((p) => p.name).join(" / ") ?? "?",
  });
}

export function conflictPopup(entry) {
  const c = entry.conflict;
  return h(
    "div",
    { class: "popup" },
    h("strong", {}, conflictSummary(c)),
    row(t("field.status"), t(`conflict.status.${c.status}`)),
    row(t("field.altitude"), altitudeText(c.overlap?.altitude)),
    row(t("field.window"), windowEl(c.overlap.time.start, c.overlap.time.end)),
    c.your_object ? row(t("field.yours"), `${c.your_object.type} ${c.your_object.id}`) : null,
    c.other_object_ref ? row(t("field.theirs"), c.other_object_ref) : null,
    row(t("field.id"), c.id),
  );
}
