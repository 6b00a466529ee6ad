// What every data layer of the map shares: one feature group, put on the map after the first load and switched on
// and off from the layer list.

import L from "../leaflet.js";

export class SwitchableLayer {
  constructor(map) {
    this.map = map;
    this.group = L.featureGroup(); // attach() puts it on the map
    this.enabled = true;
  }

  /** Put the layer on the map (when switched on): after the first load, so every path is projected once. */
  attach() {
    if (this.enabled) this.map.addLayer(this.group);
  }

  setEnabled(on) {
    this.enabled = on;
    if (on) this.map.addLayer(this.group);
    else this.map.removeLayer(this.group);
  }
}
