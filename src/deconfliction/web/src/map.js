// The map: panes, the shared renderers (one canvas per heavy layer family, no DOM per feature), the offline
// Natural Earth basemap, and the SVG hatch patterns for disclosed overlaps.

import { feature, mesh } from "topojson-client";
import L from "./leaflet.js";

export const BASEMAP_URL = "static/countries-50m.json";

const PANES = [
  ["basemap", 200],
  ["volumes", 400],
  ["sites", 410],
  ["overlaps", 450],
  ["draft", 460],
  ["alerts", 600],
  ["tracks", 620],
];

export const HATCH = {
  open: { id: "hatch-open", colour: "#c0182b" },
  acknowledged: { id: "hatch-ack", colour: "#b35900" },
  check: { id: "hatch-check", colour: "#6f2dbd" },
};

export function createMap(element) {
  // geoman would otherwise give every path on the map its editing hooks, and every circle a hidden 200-sided
  // geodesic polygon (~0.1 ms each with Vincenty's formula): 2,500 circles cost ~0.4 s at first render. Only the
  // shapes geoman draws itself are its business.
  L.PM.setOptIn(true);
  const map = L.map(element, {
    pmIgnore: false, // the map itself opts in: its drawing tools
    preferCanvas: true,
    worldCopyJump: true,
    minZoom: 2,
    maxZoom: 15,
    zoomSnap: 0.5,
    keyboard: true,
    attributionControl: true,
  });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Natural Earth");
  for (const [name, z] of PANES) map.createPane(name).style.zIndex = String(z);
  map.setView([48.5, 31], 5);
  const renderers = {
    basemap: L.canvas({ pane: "basemap", padding: 0.3 }),
    volumes: L.canvas({ pane: "volumes", padding: 0.2, tolerance: 2 }),
    sites: L.canvas({ pane: "sites", padding: 0.2, tolerance: 2 }),
    tracks: L.canvas({ pane: "tracks", padding: 0.2, tolerance: 4 }),
    alerts: L.canvas({ pane: "alerts", padding: 0.2, tolerance: 4 }),
    overlaps: L.svg({ pane: "overlaps", padding: 0.2 }),
  };
  addHatchPatterns(map, renderers.overlaps);
  return { map, renderers };
}

/** Diagonal-line <pattern>s in the overlap layer's SVG, so overlaps read as hatched areas in print and on screen. */
function addHatchPatterns(map, renderer) {
  map.addLayer(renderer); // creates its <svg>
  const svg = renderer._container;
  const ns = "http://www.w3.org/2000/svg";
  const defs = document.createElementNS(ns, "defs");
  for (const { id, colour } of Object.values(HATCH)) {
    const pattern = document.createElementNS(ns, "pattern");
    pattern.setAttribute("id", id);
    pattern.setAttribute("patternUnits", "userSpaceOnUse");
    pattern.setAttribute("width", "10");
    pattern.setAttribute("height", "10");
    pattern.setAttribute("patternTransform", "rotate(45)");
    const back = document.createElementNS(ns, "rect");
    back.setAttribute("width", "10");
    back.setAttribute("height", "10");
    back.setAttribute("fill", colour);
    back.setAttribute("fill-opacity", "0.12");
    const stripe = document.createElementNS(ns, "rect");
    stripe.setAttribute("width", "3.5");
    stripe.setAttribute("height", "10");
    stripe.setAttribute("fill", colour);
    pattern.append(back, stripe);
    defs.append(pattern);
  }
  svg.prepend(defs);
}

/** The basemap's file is fetched at once, before sign-in: it needs no token and it is the largest download. */
export function fetchBasemap() {
  return fetch(BASEMAP_URL, { cache: "force-cache", credentials: "omit" }).then((response) => {
    if (!response.ok) throw new Error(`basemap: HTTP ${response.status}`);
    return response.json();
  });
}

/** Land, coastlines and borders from world-atlas (Natural Earth 1:50m), served by the hub itself: one layer, off
 * the map until the caller adds it. */
export function basemapLayer(world, renderer) {
  const land = feature(world, world.objects.land);
  const borders = mesh(world, world.objects.countries, (a, b) => a !== b);
  const options = { renderer, interactive: false, smoothFactor: 1.5 };
  return L.layerGroup([
    L.geoJSON(land, {
      ...options,
      style: { stroke: true, color: "#5b7083", weight: 1, fill: true, fillColor: "#f3f0e8", fillOpacity: 1 },
    }),
    L.geoJSON(borders, { ...options, style: { color: "#8f8f8f", weight: 1, opacity: 0.9 } }),
  ]);
}
