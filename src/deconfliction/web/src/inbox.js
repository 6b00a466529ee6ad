// The inbox: conflicts and messages the caller still owes an acknowledgement (GET /v1/notices), and open tactical
// alerts, ordered by deadline, each with a live countdown and its priority's colour.

import { api } from "./api.js";
import { $, h } from "./dom.js";
import { enumLabel, t } from "./i18n.js";
import { alertDeadline, alertPoint } from "./layers/alerts.js";
import { conflictSummary } from "./layers/describe.js";
import { signAck } from "./signing.js";
import { countdownText, parseTime, timeEl } from "./time.js";

const PRIORITIES = ["flash", "immediate", "priority", "routine"];

export class Inbox {
  constructor(ctx) {
    this.ctx = ctx;
    this.list = $("#inbox");
    this.status = $("#inbox-status");
    this.notices = [];
    this.timer = null;
  }

  /** Re-read the notices (debounced: bursts of events cost one request). */
  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh().catch((err) => this.say(err.message, true)), 250);
  }

  async refresh() {
    const { notices } = await api("/v1/notices?limit=1000");
    await this.accept(notices);
  }

  async accept(notices) {
    await Promise.all(notices.map((n) => this.details(n)));
    this.notices = notices;
    this.render();
  }

  /** The conflict or message behind a notice (for its title, its revision, where to centre). */
  async details(notice) {
    const { ctx } = this;
    try {
      if (notice.kind === "conflict" && !ctx.conflicts.has(notice.id)) {
        ctx.upsertConflict(await api(`/v1/conflicts/${encodeURIComponent(notice.id)}`));
      } else if (notice.kind === "message" && !ctx.messages.has(notice.id)) {
        ctx.messages.set(notice.id, await api(`/v1/messages/${encodeURIComponent(notice.id)}`));
      }
    } catch {
      // shown with what is known; the next refresh tries again
    }
  }

  items() {
    const { ctx } = this;
    const out = this.notices.map((n) => {
      const item = { kind: n.kind, id: n.id, priority: n.priority, deadline: parseTime(n.deadline_at), notice: n };
      if (n.kind === "conflict") {
        const c = ctx.conflicts.get(n.id);
        item.title = c ? conflictSummary(c) : t("inbox.conflict");
      } else {
        const m = ctx.messages.get(n.id);
        const from = m?.from?.name ?? "?";
        const text = m?.rendered?.title ?? m?.body?.split("\n")[0] ?? "";
        item.title = t("inbox.message", { from, text });
      }
      item.escalation = n.escalation;
      return item;
    });
    for (const alert of ctx.layers.alerts.list()) {
      out.push({
        kind: "alert",
        id: alert.id,
        priority: "flash",
        deadline: alertDeadline(alert),
        title: t(alert.cpa ? "inbox.alert" : "inbox.intrusion", { party: alert.other_party?.name ?? "?" }),
        alert,
      });
    }
    return out.sort((a, b) => a.deadline - b.deadline || PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority));
  }

  render() {
    const items = this.items();
    const signer = this.ctx.signer;
    const rows = items.map((item) => {
      const show = () => this.centre(item);
      const ack =
        item.kind === "alert"
          ? h("span", { class: "muted" }, t("inbox.alert_no_ack"))
          : h(
              "button",
              { type: "button", class: "ack-btn inbox-ack", onclick: () => this.acknowledge(item) },
              t(signer ? "inbox.ack_signed" : "inbox.ack_unsigned"),
            );
      const li = h(
        "li",
        {
          class: `inbox-item priority-${item.priority}`,
          dataset: { kind: item.kind, id: item.id, priority: item.priority },
        },
        h(
          "div",
          { class: "inbox-head" },
          h("span", { class: `badge priority-${item.priority}` }, enumLabel("precedence", item.priority)),
          h("span", { class: "countdown", dataset: { deadline: String(item.deadline) } }, countdownText(item.deadline)),
        ),
        h("button", { type: "button", class: "inbox-show linklike", onclick: show }, item.title),
        h(
          "div",
          { class: "inbox-meta" },
          t(item.kind !== "alert" ? "inbox.deadline" : item.alert.cpa ? "alert.loss_at" : "alert.entry_at"),
          " ",
          timeEl(item.deadline),
          item.escalation && item.escalation !== "none" ? h("span", { class: "escalation" }, ` · ${t("inbox.escalation")}: ${t(`escalation.${item.escalation}`)}`) : null,
        ),
        h("div", { class: "inbox-actions" }, ack),
      );
      li.addEventListener("click", (e) => {
        if (e.target === li || e.target.closest(".inbox-head, .inbox-meta")) show();
      });
      return li;
    });
    this.list.replaceChildren(...rows);
    if (!rows.length) this.list.append(h("li", { class: "empty" }, t("inbox.empty")));
    $("#inbox-count").textContent = String(items.length);
    this.tick();
  }

  tick(now = Date.now()) {
    for (const el of this.list.querySelectorAll(".countdown")) {
      const due = Number(el.dataset.deadline);
      el.textContent = countdownText(due, now);
      el.classList.toggle("overdue", due < now);
    }
  }

  centre(item) {
    const { ctx } = this;
    if (item.kind === "conflict") ctx.centreOnConflict(item.id);
    else if (item.kind === "alert") {
      const p = alertPoint(item.alert);
      if (p) ctx.map.setView(p, Math.max(ctx.map.getZoom(), 9));
    } else {
      const m = ctx.messages.get(item.id);
      const ref = m?.refs?.find((r) => ctx.conflicts.has(r));
      if (ref) ctx.centreOnConflict(ref);
    }
  }

  say(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
  }

  /** Acknowledge ("received and understood", never approval), signed in the browser when a key is loaded. */
  async acknowledge(item) {
    const { ctx } = this;
    const path = item.kind === "conflict" ? "conflicts" : "messages";
    const body = {};
    let signed = false;
    let why = "";
    try {
      await ctx.settings?.pending;
      if (ctx.signer) {
        let revision = 1;
        const leaf = ctx.receipts.get(item.id) ?? item.notice?.receipt?.leaf_hash;
        if (item.kind === "conflict") {
          const fresh = await api(`/v1/conflicts/${encodeURIComponent(item.id)}`);
          ctx.upsertConflict(fresh);
          revision = fresh.revision ?? 1;
        }
        if (leaf) {
          const fields = {
            acknowledgedAtMs: Date.now(),
            noticeLeafHash: leaf,
            objectId: item.id,
            partyId: ctx.me.id,
            revision,
          };
          Object.assign(body, await signAck(ctx.signer, fields));
          signed = true;
        } else {
          why = t("sign.no_receipt");
        }
      }
      const result = await api(`/v1/${path}/${encodeURIComponent(item.id)}/acknowledge`, {
        method: "POST",
        body,
        idempotent: true,
      });
      if (item.kind === "conflict") ctx.upsertConflict(result);
      this.say(`${t(signed ? "inbox.acked_signed" : "inbox.acked_unsigned", { id: item.id })}${why ? ` — ${why}` : ""}`);
      this.notices = this.notices.filter((n) => n.id !== item.id);
      this.render();
      this.schedule();
    } catch (err) {
      this.say(t("inbox.ack_failed", { message: err.message }), true);
    }
  }
}
