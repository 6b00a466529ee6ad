// Own operations: one path per volume on the volumes canvas, coloured by the operation's state.

import { fitCorridors, footprintLayer } from "../geo.js";
import { parseTime } from "../time.js";
import { operationPopup } from "./describe.js";
import { TimedLayer } from "./timed.js";

export const STATE_COLOURS = {
  declared: "#1f5fa8",
  active: "#157a35",
  ended: "#5f6670",
  cancelled: "#5f6670",
};

function style(state, renderer) {
  return {
    renderer,
    color: STATE_COLOURS[state] ?? "#1f5fa8",
    weight: 2,
    opacity: 0.9,
    fillOpacity: state === "active" ? 0.2 : 0.12,
    dashArray: state === "cancelled" ? "3 6" : state === "ended" ? "8 4" : null,
  };
}

/** An operation's state at `ms`, derived from its window as the hub derives it; a cancel or an early end stays. */
export function stateAt(op, ms) {
  if (op.state === "cancelled" || op.state === "ended") return op.state;
  if (ms >= op.windowEnd) return "ended";
  return ms >= op.windowStart ? "active" : "declared";
}

export class OperationsLayer extends TimedLayer {
  constructor(map, renderer) {
    super(map, { popup: operationPopup });
    this.renderer = renderer;
    this.volumeCount = new Map();
    map.on("zoomend", () => fitCorridors(map, this.paths()));
  }

  setOperation(op) {
    this.removeOperation(op.id);
    const starts = op.volumes.map((v) => parseTime(v.time.start));
    const ends = op.volumes.map((v) => parseTime(v.time.end));
    Object.assign(op, { windowStart: Math.min(...starts), windowEnd: Math.max(...ends) });
    const state = stateAt(op, this.time);
    op.volumes.forEach((volume, i) => {
      const layer = footprintLayer(volume.footprint, volume.radius_m, style(state, this.renderer));
      if (!layer) return;
      if (layer.corridorM) fitCorridors(this.map, [layer]);
      this.put(`${op.id}#${i}`, {
        kind: "operation",
        op,
        volume,
        layers: [layer],
        start: starts[i],
        end: ends[i],
        state,
      });
    });
    this.volumeCount.set(op.id, op.volumes.length);
  }

  removeOperation(id) {
    const n = this.volumeCount.get(id) ?? 0;
    for (let i = 0; i < n; i++) this.drop(`${id}#${i}`);
    this.volumeCount.delete(id);
  }

  setOperations(ops) {
    for (const op of ops) this.setOperation(op);
  }

  /** Show what exists at `ms`, each operation coloured by its state then (declared turns active, active ended). */
  setTime(ms, upcoming = false) {
    for (const entry of this.items.values()) {
      const state = stateAt(entry.op, ms);
      if (state === entry.state) continue;
      entry.state = state;
      for (const layer of entry.layers) layer.setStyle(style(state, this.renderer));
    }
    super.setTime(ms, upcoming);
  }
}
