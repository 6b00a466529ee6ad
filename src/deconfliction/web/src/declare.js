// Declare from the map: draw a polygon or a circle (leaflet-geoman), set the altitude band and the UTC window,
// check it against everything the hub knows (POST /v1/operations/check, a dry run), then declare.

import { api } from "./api.js";
import { $, h } from "./dom.js";
import { enumLabel, t } from "./i18n.js";
import { overlapLayer } from "./layers/conflicts.js";
import { altitudeText, windowEl } from "./layers/describe.js";
import L from "./leaflet.js";
import { parseUtcInput, rfc3339, toUtcInput } from "./time.js";

const DRAFT_STYLE = { color: "#6f2dbd", weight: 3, fillOpacity: 0.15, dashArray: "8 6" };

export class DeclarePanel {
  constructor(ctx) {
    this.ctx = ctx;
    this.draft = null;
    this.checkLayer = L.featureGroup().addTo(ctx.map);
    const { map } = ctx;
    map.pm.setGlobalOptions({ pathOptions: DRAFT_STYLE, templineStyle: DRAFT_STYLE, hintlineStyle: { ...DRAFT_STYLE, weight: 2 }, continueDrawing: false, snappable: false });
    map.on("pm:create", (e) => this.setDraft(e.layer));
    $("#draw-polygon").addEventListener("click", () => this.draw("Polygon"));
    $("#draw-circle").addEventListener("click", () => this.draw("Circle"));
    $("#draw-clear").addEventListener("click", () => this.clearDraft());
    $("#check-btn").addEventListener("click", () => this.check());
    $("#declare-btn").addEventListener("click", () => this.declare());
    $("#declare-form").addEventListener("submit", (e) => e.preventDefault());
    this.prefill();
  }

  prefill() {
    const now = Date.now();
    $("#time-start").value = toUtcInput(now + 10 * 60_000);
    $("#time-end").value = toUtcInput(now + 2 * 3600_000);
  }

  draw(shape) {
    const { map } = this.ctx;
    map.pm.disableDraw();
    map.pm.enableDraw(shape, { pathOptions: DRAFT_STYLE });
    this.error("");
    $("#draw-hint").textContent = t(shape === "Circle" ? "declare.hint_circle" : "declare.hint_polygon");
  }

  setDraft(layer) {
    if (this.draft && this.draft !== layer) this.draft.remove();
    this.draft = layer;
    layer.setStyle?.(DRAFT_STYLE);
    this.ctx.map.pm.disableDraw();
    $("#draw-hint").textContent = t("declare.drawn");
    this.clearCheck();
  }

  clearDraft() {
    this.ctx.map.pm.disableDraw();
    this.draft?.remove();
    this.draft = null;
    $("#draw-hint").textContent = "";
    this.clearCheck();
  }

  clearCheck() {
    this.checkLayer.clearLayers();
    $("#check-result").replaceChildren();
  }

  /** The draft's footprint as the API takes it, or null. */
  footprint() {
    const layer = this.draft;
    if (!layer) return null;
    if (layer instanceof L.Circle) {
      const c = layer.getLatLng();
      return { footprint: { type: "Point", coordinates: [c.lng, c.lat] }, radius_m: Math.round(layer.getRadius()) };
    }
    return { footprint: layer.toGeoJSON(15).geometry };
  }

  /** The declaration body from the form, or throws an Error whose message says what to fix. */
  body() {
    const shape = this.footprint();
    if (!shape) throw new Error(t("declare.err_no_shape"));
    const lower = Number($("#alt-lower").value);
    const upper = Number($("#alt-upper").value);
    if ($("#alt-lower").value === "" || $("#alt-upper").value === "" || !Number.isFinite(lower) || !Number.isFinite(upper)) {
      throw new Error(t("declare.err_altitude"));
    }
    const start = parseUtcInput($("#time-start").value);
    const end = parseUtcInput($("#time-end").value);
    if (Number.isNaN(start) || Number.isNaN(end)) throw new Error(t("declare.err_time"));
    const body = {
      volumes: [
        {
          ...shape,
          altitude: { lower, upper, reference: $("#alt-ref").value },
          time: { start: rfc3339(start), end: rfc3339(end) },
        },
      ],
    };
    const callsign = $("#callsign").value.trim();
    const description = $("#description").value.trim();
    const priority = $("#priority").value;
    if (callsign) body.callsign = callsign;
    if (description) body.description = description;
    if (priority !== "") body.priority = Number(priority);
    return body;
  }

  error(text) {
    const el = $("#declare-error");
    el.textContent = text;
    el.hidden = !text;
  }

  /** The declaration's body from the drawing and the form, or null (the panel then says what to fix). */
  draftBody() {
    this.error("");
    try {
      return this.body();
    } catch (err) {
      this.error(err.message);
      return null;
    }
  }

  async check() {
    this.clearCheck();
    const body = this.draftBody();
    if (!body) return;
    const out = $("#check-result");
    out.append(h("p", { class: "muted" }, t("declare.checking")));
    try {
      const { conflicts } = await api("/v1/operations/check", { method: "POST", body });
      this.showCheck(conflicts ?? []);
    } catch (err) {
      out.replaceChildren();
      this.error(err.message);
    }
  }

  showCheck(conflicts) {
    const out = $("#check-result");
    this.checkLayer.clearLayers();
    const renderer = this.ctx.renderers.overlaps;
    const items = conflicts.map((c) => {
      if (c.overlap?.footprint) this.checkLayer.addLayer(overlapLayer(c.overlap.footprint, "check", renderer));
      return h(
        "li",
        { class: "check-conflict" },
        h("strong", {}, enumLabel("conflict_kind", c.kind), " — ", c.other_party?.name ?? "?"),
        h("div", { class: "inbox-meta" }, altitudeText(c.overlap?.altitude)),
        c.overlap?.time ? h("div", { class: "inbox-meta" }, windowEl(c.overlap.time.start, c.overlap.time.end)) : null,
      );
    });
    out.replaceChildren(
      h("p", { class: conflicts.length ? "warn" : "ok" }, conflicts.length ? t("declare.check_found", { n: conflicts.length }) : t("declare.check_clear")),
      items.length ? h("ul", { class: "plain" }, items) : null,
    );
    if (this.checkLayer.getLayers().length) {
      this.ctx.map.fitBounds(this.checkLayer.getBounds().pad(0.5), { maxZoom: 12 });
    }
  }

  async declare() {
    const body = this.draftBody();
    if (!body) return;
    const button = $("#declare-btn");
    button.disabled = true;
    try {
      const result = await api("/v1/operations", { method: "POST", body, idempotent: true });
      const op = result.operation;
      this.ctx.layers.operations.setOperation(op);
      for (const c of result.conflicts ?? []) this.ctx.upsertConflict(c);
      this.ctx.inbox.schedule();
      $("#declare-result").replaceChildren(
        h("p", { class: "ok" }, t("declare.declared", { id: op.id, n: (result.conflicts ?? []).length })),
      );
      $("#declare-result").dataset.operationId = op.id;
      this.clearDraft();
    } catch (err) {
      this.error(err.message);
    } finally {
      button.disabled = false;
    }
  }
}
