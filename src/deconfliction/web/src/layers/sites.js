// Protected sites notified to the caller, and deconfliction lines (sites of category `deconfliction-line`) on a
// layer of their own, drawn dashed.

import { fitCorridors, footprintLayer } from "../geo.js";
import { parseTime } from "../time.js";
import { sitePopup } from "./describe.js";
import { TimedLayer } from "./timed.js";

export const LINE_CATEGORY = "deconfliction-line";
export const SITE_COLOUR = "#a3136a";
export const LINE_COLOUR = "#0b6e75";

export class SitesLayer extends TimedLayer {
  constructor(map, renderer, { lines = false } = {}) {
    super(map, { popup: sitePopup });
    this.renderer = renderer;
    this.lines = lines;
    map.on("zoomend", () => fitCorridors(map, this.paths(), lines ? 3 : 2));
  }

  accepts(site) {
    return (site.category === LINE_CATEGORY) === this.lines;
  }

  setSite(site) {
    this.drop(site.id);
    if (site.withdrawn || !this.accepts(site)) return;
    const options = this.lines
      ? { renderer: this.renderer, color: LINE_COLOUR, weight: 4, dashArray: "14 10", fillOpacity: 0.05, opacity: 1 }
      : { renderer: this.renderer, color: SITE_COLOUR, weight: 2, fillOpacity: 0.18, opacity: 0.95 };
    const layer = footprintLayer(site.footprint, site.radius_m, options);
    if (!layer) return;
    if (this.lines && layer.corridorM) {
      // A line is a boundary, not an area: a dashed line of fixed width reads better than a wide band.
      layer.corridorM = 0;
    }
    if (layer.corridorM) fitCorridors(this.map, [layer]);
    this.put(site.id, {
      kind: this.lines ? "deconfliction-line" : "site",
      site,
      layers: [layer],
      start: parseTime(site.valid_from),
      end: parseTime(site.valid_to),
    });
  }

  setSites(sites) {
    for (const site of sites) this.setSite(site);
  }
}
