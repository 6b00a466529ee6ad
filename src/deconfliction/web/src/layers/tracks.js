// Live tracks: an arrow per track pointing along its track angle, and the last positions as one multi-polyline,
// all on one canvas. Polled at 1 Hz (GET /v1/tracks holds the caller's own tracks only).

import { api } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import L from "../leaflet.js";
import { SwitchableLayer } from "./switchable.js";
import { parseTime, timeEl } from "../time.js";

const HISTORY = 10;
export const TRACK_COLOUR = "#0f3d91";

/** A circle marker drawn as an arrow head rotated to `options.heading` (degrees true); hit-tested as a circle. */
const TrackArrow = L.CircleMarker.extend({
  options: { heading: 0, radius: 9 },

  _updatePath() {
    const renderer = this._renderer;
    if (!renderer._drawing || this._empty()) return;
    const ctx = renderer._ctx;
    const { x, y } = this._point;
    const s = this._radius;
    const a = ((this.options.heading || 0) * Math.PI) / 180;
    const sin = Math.sin(a);
    const cos = Math.cos(a);
    const at = (dx, dy) => [x + dx * cos - dy * sin, y + dx * sin + dy * cos];
    ctx.beginPath();
    ctx.moveTo(...at(0, -1.3 * s));
    ctx.lineTo(...at(0.75 * s, 0.9 * s));
    ctx.lineTo(...at(0, 0.4 * s));
    ctx.lineTo(...at(-0.75 * s, 0.9 * s));
    ctx.closePath();
    renderer._fillStroke(ctx, this);
  },
});

function trackPopup(track) {
  const kv = (k, ...v) => h("div", { class: "kv" }, h("span", { class: "k" }, k), h("span", {}, ...v));
  return h(
    "div",
    { class: "popup" },
    h("strong", {}, track.callsign || track.track_id),
    kv(t("field.id"), track.track_id),
    kv(t("track.altitude"), `${Math.round(track.altitude)} m ${track.altitude_reference ?? ""}`),
    kv(t("track.speed"), `${Math.round(track.ground_speed)} m/s`),
    kv(t("track.heading"), `${Math.round(track.track)}°`),
    kv(t("track.time"), timeEl(parseTime(track.time), true)),
  );
}

export class TracksLayer extends SwitchableLayer {
  constructor(map, renderer) {
    super(map);
    this.renderer = renderer;
    this.history = L.polyline([], { renderer, color: TRACK_COLOUR, weight: 1.5, opacity: 0.55, interactive: false });
    this.group.addLayer(this.history);
    this.tracks = new Map(); // track_id -> {marker, trail: [[lat, lon]], data}
    this.timer = null;
    this.group.on("click", (e) => {
      const entry = e.layer?.dc;
      if (entry) L.popup().setLatLng(e.latlng).setContent(trackPopup(entry.data)).openOn(map);
    });
  }

  update(list) {
    const seen = new Set();
    for (const track of list) {
      seen.add(track.track_id);
      const latlng = [track.lat, track.lon];
      let entry = this.tracks.get(track.track_id);
      if (!entry) {
        const marker = new TrackArrow(latlng, {
          renderer: this.renderer,
          heading: track.track,
          color: "#ffffff",
          weight: 1,
          fillColor: TRACK_COLOUR,
          fillOpacity: 1,
        });
        entry = { marker, trail: [], data: track };
        marker.dc = entry;
        this.tracks.set(track.track_id, entry);
        this.group.addLayer(marker);
      } else {
        entry.marker.options.heading = track.track;
        entry.marker.setLatLng(latlng);
      }
      entry.data = track;
      const last = entry.trail[entry.trail.length - 1];
      if (!last || last[0] !== track.lat || last[1] !== track.lon) {
        entry.trail.push(latlng);
        if (entry.trail.length > HISTORY) entry.trail.shift();
      }
    }
    for (const [id, entry] of this.tracks) {
      if (!seen.has(id)) {
        this.group.removeLayer(entry.marker);
        this.tracks.delete(id);
      }
    }
    const trails = [];
    for (const entry of this.tracks.values()) if (entry.trail.length > 1) trails.push(entry.trail);
    this.history.setLatLngs(trails);
  }

  async refresh() {
    const body = await api("/v1/tracks");
    this.update(body.tracks ?? []);
  }

  /** Poll every second, never two requests at once. */
  start(onError) {
    this.stop();
    const tick = async () => {
      try {
        await this.refresh();
      } catch (err) {
        onError?.(err);
      }
      this.timer = setTimeout(tick, 1000);
    };
    this.timer = setTimeout(tick, 1000);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  shown() {
    return this.enabled ? [...this.tracks.values()].map((e) => e.data) : [];
  }
}
