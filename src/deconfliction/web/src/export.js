// Export what the map shows now (layers switched on, at the slider's time) as GeoJSON (RFC 7946, QGIS) and KML
// (Google Earth). Circles become polygons; both are built in the page and saved with Blob + <a download>.

import { toKML } from "@placemarkio/tokml";
import { download } from "./dom.js";
import { exportGeometry } from "./geo.js";

const feature = (geometry, properties) => ({ type: "Feature", geometry, properties });

function dropEmpty(props) {
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== null && v !== undefined && v !== ""));
}

/** The current view as a FeatureCollection. */
export function viewCollection(ctx) {
  const { layers } = ctx;
  const features = [];
  for (const e of layers.operations.shown()) {
    const { op, volume } = e;
    features.push(
      feature(
        exportGeometry(volume.footprint, volume.radius_m),
        dropEmpty({
          kind: "operation",
          id: op.id,
          name: op.callsign || op.id,
          state: e.state ?? op.state,
          start: volume.time.start,
          end: volume.time.end,
          altitude_lower_m: volume.altitude?.lower,
          altitude_upper_m: volume.altitude?.upper,
          altitude_reference: volume.altitude?.reference,
          radius_m: volume.footprint.type === "LineString" ? volume.radius_m : undefined,
        }),
      ),
    );
  }
  for (const layer of [layers.sites, layers.lines]) {
    for (const e of layer.shown()) {
      const { site } = e;
      features.push(
        feature(
          exportGeometry(site.footprint, site.radius_m),
          dropEmpty({
            kind: e.kind,
            id: site.id,
            name: site.name,
            category: site.category,
            start: site.valid_from,
            end: site.valid_to,
            radius_m: site.footprint.type === "LineString" ? site.radius_m : undefined,
          }),
        ),
      );
    }
  }
  for (const e of layers.conflicts.shown()) {
    const c = e.conflict;
    features.push(
      feature(
        c.overlap.footprint,
        dropEmpty({
          kind: "conflict-overlap",
          id: c.id,
          name: `${c.kind} · ${c.other_party?.name ?? ""}`,
          state: c.status,
          conflict_kind: c.kind,
          other_party: c.other_party?.name,
          start: c.overlap.time.start,
          end: c.overlap.time.end,
          altitude_lower_m: c.overlap.altitude?.lower,
          altitude_upper_m: c.overlap.altitude?.upper,
        }),
      ),
    );
  }
  for (const tr of layers.tracks.shown()) {
    features.push(
      feature(
        { type: "Point", coordinates: [tr.lon, tr.lat] },
        dropEmpty({
          kind: "track",
          id: tr.track_id,
          name: tr.callsign || tr.track_id,
          time: tr.time,
          altitude_m: tr.altitude,
          ground_speed_ms: tr.ground_speed,
          track_deg: tr.track,
        }),
      ),
    );
  }
  for (const a of layers.alerts.shown()) {
    const p = a.cpa ?? a.entry;
    if (!p) continue;
    features.push(
      feature(
        { type: "Point", coordinates: [p.lon, p.lat] },
        dropEmpty({
          kind: a.cpa ? "alert-cpa" : "alert-entry",
          id: a.id,
          name: a.id,
          state: a.status,
          loss_at: a.loss_at,
          cpa_at: a.cpa_at,
          entry_at: a.entry_at,
          predicted_min_distance_m: a.predicted_min_distance_m,
        }),
      ),
    );
  }
  return {
    type: "FeatureCollection",
    features: features.filter((f) => f.geometry),
  };
}

export function exportGeoJSON(ctx) {
  const fc = viewCollection(ctx);
  download("deconfliction-view.geojson", JSON.stringify(fc), "application/geo+json");
  return fc;
}

export function exportKML(ctx) {
  const fc = viewCollection(ctx);
  download("deconfliction-view.kml", toKML(fc), "application/vnd.google-earth.kml+xml");
  return fc;
}
