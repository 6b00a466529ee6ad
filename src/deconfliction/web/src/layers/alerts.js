// Tactical alerts: a marker at the predicted closest point (or the predicted entry into a volume), labelled with
// the time to loss of separation and the predicted minimum distance, and a dashed line from the own track to it.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import L from "../leaflet.js";
import { SwitchableLayer } from "./switchable.js";
import { countdownText, parseTime, timeEl } from "../time.js";

export const ALERT_COLOUR = "#d4001a";
const PERMANENT_LABELS = 6;

/** Where the alert points at: the closest point of approach, or where the track enters the volume. */
export function alertPoint(alert) {
  const p = alert.cpa ?? alert.entry;
  return p ? [p.lat, p.lon] : null;
}

/** When separation is lost (an encounter) or the volume entered (an intrusion), epoch ms. */
export function alertDeadline(alert) {
  return parseTime(alert.loss_at ?? alert.entry_at ?? alert.cpa_at);
}

function distanceText(m) {
  if (m === undefined || m === null) return "";
  return m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`;
}

export function alertLabel(alert, now = Date.now()) {
  const due = alertDeadline(alert);
  if (alert.cpa) {
    return t("alert.label", { in: countdownText(due, now), dist: distanceText(alert.predicted_min_distance_m) });
  }
  return t("alert.entry_label", { in: countdownText(due, now) });
}

function alertPopup(alert) {
  const kv = (k, ...v) => h("div", { class: "kv" }, h("span", { class: "k" }, k), h("span", {}, ...v));
  return h(
    "div",
    { class: "popup" },
    h("strong", {}, t(alert.cpa ? "alert.encounter" : "alert.intrusion")),
    alert.loss_at ? kv(t("alert.loss_at"), timeEl(parseTime(alert.loss_at), true)) : null,
    alert.cpa_at ? kv(t("alert.cpa_at"), timeEl(parseTime(alert.cpa_at), true)) : null,
    alert.entry_at ? kv(t("alert.entry_at"), timeEl(parseTime(alert.entry_at), true)) : null,
    alert.predicted_min_distance_m !== undefined ? kv(t("alert.min_distance"), distanceText(alert.predicted_min_distance_m)) : null,
    alert.vertical_distance_at_cpa_m !== undefined ? kv(t("alert.vertical"), distanceText(alert.vertical_distance_at_cpa_m)) : null,
    alert.other_party ? kv(t("field.other_party"), alert.other_party.name ?? alert.other_party.id) : null,
    alert.your_track ? kv(t("alert.your_track"), alert.your_track.track_id) : null,
    alert.into?.name ? kv(t("alert.into"), alert.into.name) : null,
    kv(t("field.id"), alert.id),
  );
}

export class AlertsLayer extends SwitchableLayer {
  constructor(map, renderer) {
    super(map);
    this.renderer = renderer;
    this.alerts = new Map(); // id -> {alert, marker, line}
    this.group.on("click", (e) => {
      const entry = e.layer?.dc;
      if (entry) L.popup().setLatLng(e.latlng).setContent(alertPopup(entry.alert)).openOn(map);
    });
  }

  setAlert(alert) {
    this.remove(alert.id);
    if (alert.status === "closed") return;
    const point = alertPoint(alert);
    if (!point) return;
    const marker = L.circleMarker(point, {
      renderer: this.renderer,
      radius: 11,
      color: ALERT_COLOUR,
      weight: 3,
      fillColor: ALERT_COLOUR,
      fillOpacity: 0.12,
    });
    // Labels stay on while they are few enough to read; past that they show on hover and in the inbox.
    const permanent = this.alerts.size < PERMANENT_LABELS;
    marker.bindTooltip(alertLabel(alert), { permanent, direction: "right", className: "alert-tip", offset: [12, 0] });
    const entry = { alert, marker, line: null };
    marker.dc = entry;
    this.group.addLayer(marker);
    const own = alert.your_track;
    if (own?.lat !== undefined) {
      entry.line = L.polyline([[own.lat, own.lon], point], {
        renderer: this.renderer,
        color: ALERT_COLOUR,
        weight: 2,
        dashArray: "6 6",
        interactive: false,
      });
      this.group.addLayer(entry.line);
    }
    this.alerts.set(alert.id, entry);
  }

  remove(id) {
    const entry = this.alerts.get(id);
    if (!entry) return;
    this.group.removeLayer(entry.marker);
    if (entry.line) this.group.removeLayer(entry.line);
    this.alerts.delete(id);
  }

  setAlerts(list) {
    for (const id of [...this.alerts.keys()]) this.remove(id);
    for (const alert of list) this.setAlert(alert);
  }

  /** Once a second: the labels count down. */
  tick(now = Date.now()) {
    for (const { alert, marker } of this.alerts.values()) marker.setTooltipContent(alertLabel(alert, now));
  }

  list() {
    return [...this.alerts.values()].map((e) => e.alert);
  }

  shown() {
    return this.enabled ? this.list() : [];
  }
}
