// The status strip: the event stream's state, the last event received, and the line's health.

import { api } from "./api.js";
import { $, h } from "./dom.js";
import { t } from "./i18n.js";
import { setTime } from "./time.js";

export class StatusStrip {
  constructor(ctx) {
    this.ctx = ctx;
    this.state = "connecting";
    this.detail = "";
    this.line = null;
    this.lineTimer = null;
  }

  setConnection(state, detail = "") {
    this.state = state;
    this.detail = detail;
    const el = $("#conn-state");
    el.dataset.state = state;
    const text = t(`conn.${state}`);
    el.textContent = detail && state !== "live" ? `${text} (${detail === "unauthorized" ? t("conn.unauthorized") : detail})` : text;
  }

  lastEvent(id, ms = Date.now()) {
    const el = $("#last-event");
    el.dataset.eventId = String(id);
    const time = el.querySelector("time") ?? h("time");
    setTime(time, ms, true);
    el.replaceChildren(t("status.last_event"), " ", time);
  }

  async refreshLine() {
    const el = $("#line-health");
    try {
      this.line = await api(`/v1/parties/${encodeURIComponent(this.ctx.me.id)}/line`);
      this.renderLine();
    } catch (err) {
      el.dataset.state = "unknown";
      el.textContent = `${t("status.line")}: ${t("status.line_unknown")}`;
      el.title = err.message;
    }
  }

  renderLine() {
    const el = $("#line-health");
    const line = this.line;
    if (!line) return;
    el.dataset.state = line.state;
    const eps = line.endpoints ?? [];
    const up = eps.filter((e) => e.state === "up").length;
    if (!eps.length) {
      // A party that talks to the hub only with its own token has no units to test: nothing is down.
      el.dataset.state = "none";
      el.textContent = `${t("status.line")}: ${t("status.no_endpoints")}`;
      el.title = "";
      return;
    }
    el.textContent = `${t("status.line")}: ${t(`line.${line.state}`)} (${t("status.endpoints", { up, n: eps.length })})`;
    el.title = eps.map((e) => `${e.endpoint}: ${e.state}${e.rtt_ms != null ? `, ${e.rtt_ms} ms` : ""}`).join("\n");
  }

  startLine() {
    clearInterval(this.lineTimer);
    this.refreshLine();
    this.lineTimer = setInterval(() => this.refreshLine(), 15_000);
  }

  stop() {
    clearInterval(this.lineTimer);
  }

  rerender() {
    this.setConnection(this.state, this.detail);
    this.renderLine();
    const el = $("#last-event");
    if (el.dataset.eventId) {
      const time = el.querySelector("time");
      el.replaceChildren(t("status.last_event"), " ", time);
    }
  }
}
