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

export class OperationsLayer extends TimedLayer {
  constructor(map, renderer) {
    super(map, { popup: operationPopup });
    this.renderer = renderer;
    this.volumeCount = new Map();
    map.on("zoomend", () => fitCorridors(map, this.paths()));
  }

  setOperation(op) {
    this.removeOperation(op.id);
    op.volumes.forEach((volume, i) => {
      const layer = footprintLayer(volume.footprint, volume.radius_m, style(op.state, this.renderer));
      if (!layer) return;
      if (layer.corridorM) fitCorridors(this.map, [layer]);
      this.put(`${op.id}#${i}`, {
        kind: "operation",
        op,
        volume,
        layers: [layer],
        start: parseTime(volume.time.start),
        end: parseTime(volume.time.end),
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
}
