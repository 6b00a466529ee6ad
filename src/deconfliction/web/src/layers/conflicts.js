// Disclosed overlaps, hatched on an SVG layer: of another party's object the page knows only this region.

import L from "../leaflet.js";
import { HATCH } from "../map.js";
import { parseTime } from "../time.js";
import { conflictPopup } from "./describe.js";
import { TimedLayer } from "./timed.js";

export function hatchStyle(kind, renderer) {
  const hatch = HATCH[kind] ?? HATCH.open;
  return {
    renderer,
    color: hatch.colour,
    weight: 2,
    opacity: 1,
    fillColor: `url(#${hatch.id})`,
    fillOpacity: 1,
    dashArray: kind === "check" ? "6 4" : null,
  };
}

export function overlapLayer(footprint, kind, renderer) {
  const style = hatchStyle(kind, renderer);
  return L.geoJSON(footprint, {
    style: () => style,
    pointToLayer: (_f, latlng) => L.circleMarker(latlng, { ...style, radius: 8 }),
    renderer,
  });
}

export class ConflictsLayer extends TimedLayer {
  constructor(map, renderer) {
    super(map, { popup: conflictPopup });
    this.renderer = renderer;
  }

  /** Show an open or acknowledged conflict's overlap; a resolved one disappears. */
  setConflict(conflict) {
    this.drop(conflict.id);
    if (conflict.status === "resolved" || !conflict.overlap?.footprint) return;
    this.put(conflict.id, {
      kind: "conflict",
      conflict,
      layers: [overlapLayer(conflict.overlap.footprint, conflict.status, this.renderer)],
      start: parseTime(conflict.overlap.time.start),
      end: parseTime(conflict.overlap.time.end),
    });
  }
}
