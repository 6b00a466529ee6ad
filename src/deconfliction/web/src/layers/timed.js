// A layer of map features that each exist during a time window: the time slider shows only those whose window
// holds the chosen instant (or, at "now", every one not yet ended), by adding and removing paths on a shared
// renderer (no per-feature DOM).

import L from "../leaflet.js";
import { SwitchableLayer } from "./switchable.js";

export class TimedLayer extends SwitchableLayer {
  /** `popup(entry)` builds a popup's content lazily, on click. */
  constructor(map, { popup } = {}) {
    super(map);
    this.items = new Map();
    this.time = Date.now();
    this.upcoming = true; // at "now": everything not yet ended, not only what is active this minute
    if (popup) {
      this.group.on("click", (e) => {
        const entry = e.propagatedFrom?.dc ?? e.layer?.dc;
        if (entry) L.popup({ maxWidth: 360 }).setLatLng(e.latlng).setContent(popup(entry)).openOn(map);
      });
    }
  }

  /** Add or replace the entry `id`: {layers: [L.Layer], start: ms, end: ms, …anything the popup needs}. */
  put(id, entry) {
    this.drop(id);
    entry.id ??= id;
    entry.shown = false;
    for (const layer of entry.layers) {
      layer.dc = entry;
      layer.eachLayer?.((sub) => {
        sub.dc = entry;
      });
    }
    this.items.set(id, entry);
    this.apply(entry);
    return entry;
  }

  drop(id) {
    const entry = this.items.get(id);
    if (!entry) return;
    if (entry.shown) for (const layer of entry.layers) this.group.removeLayer(layer);
    this.items.delete(id);
  }

  clear() {
    this.group.clearLayers();
    this.items.clear();
  }

  visible(entry) {
    const end = entry.end ?? Infinity;
    if (this.upcoming) return this.time < end;
    return (entry.start ?? -Infinity) <= this.time && this.time < end;
  }

  apply(entry) {
    const show = this.visible(entry);
    if (show === entry.shown) return;
    for (const layer of entry.layers) {
      if (show) this.group.addLayer(layer);
      else this.group.removeLayer(layer);
    }
    entry.shown = show;
  }

  /** Show what exists at `ms`; with `upcoming`, everything that has not ended by `ms`. */
  setTime(ms, upcoming = false) {
    this.time = ms;
    this.upcoming = upcoming;
    for (const entry of this.items.values()) this.apply(entry);
  }

  /** Entries on the map now (the layer is switched on and their window holds the slider's time). */
  shown() {
    if (!this.enabled) return [];
    return [...this.items.values()].filter((e) => e.shown);
  }

  /** Every path of every entry (e.g. to re-fit corridor widths). */
  *paths() {
    for (const entry of this.items.values()) yield* entry.layers;
  }
}
