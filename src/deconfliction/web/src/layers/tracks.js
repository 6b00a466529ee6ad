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

/**
 * Every track in one canvas path: the trails as one stroke, the arrows (each rotated to its track angle) as one fill
 * and one outline. Drawn in a single pass, because 2,000 Leaflet paths redrawn once a second cost a frame of
 * 50 ms or more. Hit-tested by distance to the nearest arrow.
 */
const TrackSwarm = L.Path.extend({
  options: { interactive: true, radius: 9 },

  initialize(options) {
    L.setOptions(this, options);
    this._entries = [];
    this.hit = null;
  },

  setEntries(entries) {
    this._entries = entries;
    this.redraw();
  },

  _project() {
    const map = this._map;
    const bounds = new L.Bounds();
    for (const e of this._entries) {
      e.point = map.latLngToLayerPoint(e.latlng);
      bounds.extend(e.point);
      e.trailPoints = e.trail.length > 1 ? e.trail.map((ll) => map.latLngToLayerPoint(ll)) : null;
      if (e.trailPoints) for (const p of e.trailPoints) bounds.extend(p);
    }
    const pad = 2 * this.options.radius;
    this._pxBounds = bounds.isValid() ? L.bounds(bounds.min.subtract([pad, pad]), bounds.max.add([pad, pad])) : null;
  },

  _update() {},

  _empty() {
    return !this._entries.length;
  },

  _updatePath() {
    const renderer = this._renderer;
    if (!renderer._drawing || this._empty()) return;
    const ctx = renderer._ctx;
    ctx.beginPath();
    for (const e of this._entries) {
      if (!e.trailPoints) continue;
      ctx.moveTo(e.trailPoints[0].x, e.trailPoints[0].y);
      for (let i = 1; i < e.trailPoints.length; i++) ctx.lineTo(e.trailPoints[i].x, e.trailPoints[i].y);
    }
    ctx.globalAlpha = 0.55;
    ctx.strokeStyle = TRACK_COLOUR;
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.globalAlpha = 1;
    const s = this.options.radius;
    ctx.beginPath();
    for (const e of this._entries) {
      const { x, y } = e.point;
      const a = ((e.data.track || 0) * Math.PI) / 180;
      const sin = Math.sin(a);
      const cos = Math.cos(a);
      ctx.moveTo(x + 1.3 * s * sin, y - 1.3 * s * cos);
      ctx.lineTo(x + 0.75 * s * cos - 0.9 * s * sin, y + 0.75 * s * sin + 0.9 * s * cos);
      ctx.lineTo(x - 0.4 * s * sin, y + 0.4 * s * cos);
      ctx.lineTo(x - 0.75 * s * cos - 0.9 * s * sin, y - 0.75 * s * sin + 0.9 * s * cos);
      ctx.closePath();
    }
    ctx.fillStyle = TRACK_COLOUR;
    ctx.fill();
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1;
    ctx.stroke();
  },

  _containsPoint(p) {
    let best = null;
    let bestD = this.options.radius + (this._renderer.options.tolerance || 0);
    for (const e of this._entries) {
      const d = p.distanceTo(e.point);
      if (d <= bestD) {
        best = e;
        bestD = d;
      }
    }
    this.hit = best;
    return best !== null;
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
    this.swarm = new TrackSwarm({ renderer });
    this.group.addLayer(this.swarm);
    this.tracks = new Map(); // track_id -> {latlng, trail: [[lat, lon]], data}
    this.timer = null;
    this.swarm.on("click", (e) => {
      const entry = this.swarm.hit;
      if (entry) L.popup().setLatLng(entry.latlng).setContent(trackPopup(entry.data)).openOn(map);
    });
  }

  update(list) {
    const seen = new Set();
    for (const track of list) {
      seen.add(track.track_id);
      const latlng = L.latLng(track.lat, track.lon);
      let entry = this.tracks.get(track.track_id);
      if (!entry) {
        entry = { latlng, trail: [], data: track };
        this.tracks.set(track.track_id, entry);
      }
      entry.latlng = latlng;
      entry.data = track;
      const last = entry.trail[entry.trail.length - 1];
      if (!last || last.lat !== track.lat || last.lng !== track.lon) {
        entry.trail.push(latlng);
        if (entry.trail.length > HISTORY) entry.trail.shift();
      }
    }
    for (const id of this.tracks.keys()) if (!seen.has(id)) this.tracks.delete(id);
    this.swarm.setEntries([...this.tracks.values()]);
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
