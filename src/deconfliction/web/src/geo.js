// GeoJSON footprints (RFC 7946, [lon, lat]) to Leaflet layers and back.

import L from "./leaflet.js";

const EARTH_RADIUS_M = 6_371_008.8;
const toRad = Math.PI / 180;

/** [lon, lat] positions as Leaflet [lat, lon], each longitude within 180° of the one before: a ring or line that
 * crosses the antimeridian is drawn across it, not the long way round the world. */
function ring(coords) {
  let prev = null;
  return coords.map(([lon, lat]) => {
    let x = lon;
    if (prev !== null) x += 360 * Math.round((prev - x) / 360);
    prev = x;
    return [lat, x];
  });
}
const line = ring;

/** The point `distanceM` from [lat, lon] on bearing `bearingDeg` (great circle). */
export function destination(lat, lon, bearingDeg, distanceM) {
  const d = distanceM / EARTH_RADIUS_M;
  const b = bearingDeg * toRad;
  const p1 = lat * toRad;
  const l1 = lon * toRad;
  const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
  const l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
  return [p2 / toRad, ((l2 / toRad + 540) % 360) - 180];
}

/** A circle as a GeoJSON Polygon of `n` vertices (exports: neither GeoJSON nor KML has circles). */
export function circlePolygon(lon, lat, radiusM, n = 64) {
  const coords = [];
  for (let i = 0; i <= n; i++) {
    const [la, lo] = destination(lat, lon, (360 * (i % n)) / n, radiusM);
    coords.push([lo, la]);
  }
  return { type: "Polygon", coordinates: [coords] };
}

/** Metres per screen pixel at `lat` on `map`'s zoom (Web Mercator). */
export function metresPerPixel(map, lat) {
  return (40_075_016.686 * Math.cos(lat * toRad)) / (256 * 2 ** map.getZoom());
}

/**
 * One Leaflet path for a footprint: Polygon/MultiPolygon → polygon, Point + radius → circle, LineString (+ radius,
 * a corridor) → a polyline whose width follows the corridor on every zoom (see `fitCorridors`). Null when the
 * footprint cannot be drawn.
 */
export function footprintLayer(footprint, radiusM, options) {
  if (!footprint) return null;
  switch (footprint.type) {
    case "Polygon":
      return L.polygon(footprint.coordinates.map(ring), options);
    case "MultiPolygon":
      return L.polygon(
        footprint.coordinates.map((p) => p.map(ring)),
        options,
      );
    case "Point": {
      const [lon, lat] = footprint.coordinates;
      return radiusM > 0 ? L.circle([lat, lon], { ...options, radius: radiusM }) : L.circleMarker([lat, lon], { ...options, radius: 5 });
    }
    case "LineString":
    case "MultiLineString": {
      const latlngs = footprint.type === "LineString" ? line(footprint.coordinates) : footprint.coordinates.map(line);
      const layer = L.polyline(latlngs, { lineCap: "round", lineJoin: "round", ...options, fill: false });
      layer.corridorM = radiusM > 0 ? radiusM : 0;
      return layer;
    }
    default:
      return null;
  }
}

/** Set the pixel width of every corridor in `layers` to its width on the ground at the map's zoom. */
export function fitCorridors(map, layers, minWeight = 3) {
  for (const layer of layers) {
    if (!layer.corridorM) continue;
    const lat = layer.getBounds().getCenter().lat;
    const weight = Math.max(minWeight, Math.min(400, (2 * layer.corridorM) / metresPerPixel(map, lat)));
    if (Math.abs(weight - (layer.options.weight ?? 0)) > 0.5) layer.setStyle({ weight });
  }
}

/** A footprint as export geometry: circles become polygons; the rest is unchanged. */
export function exportGeometry(footprint, radiusM) {
  if (footprint?.type === "Point" && radiusM > 0) {
    const [lon, lat] = footprint.coordinates;
    return circlePolygon(lon, lat, radiusM);
  }
  return footprint;
}

/** A rough [lat, lon] centre of any GeoJSON geometry (for centring the map on it). */
export function boundsOf(geometry, radiusM = 0) {
  const layer = footprintLayer(geometry, radiusM, {}) ?? (geometry ? L.geoJSON(geometry) : null);
  if (!layer) return null;
  if (layer instanceof L.Circle) {
    const c = layer.getLatLng();
    const north = destination(c.lat, c.lng, 0, radiusM)[0] - c.lat;
    return L.latLngBounds([c.lat - north, c.lng - north], [c.lat + north, c.lng + north]);
  }
  if (layer instanceof L.CircleMarker) return L.latLngBounds([layer.getLatLng(), layer.getLatLng()]);
  const b = layer.getBounds();
  return b.isValid() ? b : null;
}

/** A growing [south, west, north, east] box, to fit the map to data before any of it is drawn. */
export class Extent {
  constructor() {
    this.s = Infinity;
    this.w = Infinity;
    this.n = -Infinity;
    this.e = -Infinity;
  }

  get empty() {
    return this.s > this.n;
  }

  point(lon, lat, padDeg = 0) {
    if (lat - padDeg < this.s) this.s = lat - padDeg;
    if (lat + padDeg > this.n) this.n = lat + padDeg;
    const padLon = padDeg / Math.max(0.05, Math.cos(lat * toRad));
    if (lon - padLon < this.w) this.w = lon - padLon;
    if (lon + padLon > this.e) this.e = lon + padLon;
  }

  /** Any GeoJSON geometry, widened by `radiusM` (circles, corridors). */
  geometry(geometry, radiusM = 0) {
    const pad = (radiusM || 0) / 111_320;
    const walk = (coords) => {
      if (typeof coords[0] === "number") this.point(coords[0], coords[1], pad);
      else for (const c of coords) walk(c);
    };
    if (geometry?.type === "GeometryCollection") for (const g of geometry.geometries) this.geometry(g, radiusM);
    else if (geometry?.coordinates) walk(geometry.coordinates);
  }

  bounds() {
    return this.empty ? null : L.latLngBounds([this.s, this.w], [this.n, this.e]);
  }
}
