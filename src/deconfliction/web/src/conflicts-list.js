// The conflicts list (#conflicts): every conflict the page knows, its status, who acknowledged its current
// revision and when; a click centres the map on the overlap.

import { $, h } from "./dom.js";
import { t } from "./i18n.js";
import { conflictSummary, windowEl } from "./layers/describe.js";
import { parseTime, timeEl } from "./time.js";

const ORDER = { open: 0, acknowledged: 1, resolved: 2 };

/** Acknowledgements of the conflict's current revision (older ones were of an overlap that has since moved). */
export function currentAcks(conflict) {
  const rev = conflict.revision;
  return (conflict.acknowledgements ?? []).filter((a) => a.revision == null || rev == null || a.revision === rev);
}

export function renderConflicts(ctx) {
  const list = $("#conflicts");
  const conflicts = [...ctx.conflicts.values()].sort(
    (a, b) => (ORDER[a.status] ?? 3) - (ORDER[b.status] ?? 3) || parseTime(b.updated_at) - parseTime(a.updated_at),
  );
  const rows = conflicts.map((c) => {
    const acks = currentAcks(c);
    const who = acks.map((a) =>
      h("li", {}, t("conflict.acked_by", { party: ctx.partyName(a.party_id) }), " ", timeEl(parseTime(a.at))),
    );
    const li = h(
      "li",
      {
        class: `conflict-item status-${c.status}`,
        tabindex: "0",
        role: "button",
        dataset: { id: c.id, status: c.status, acks: acks.map((a) => a.party_id).join(",") },
      },
      h("div", { class: "conflict-head" }, h("span", { class: `badge status-${c.status}` }, t(`conflict.status.${c.status}`)), " ", conflictSummary(c)),
      h("div", { class: "inbox-meta" }, windowEl(c.overlap.time.start, c.overlap.time.end)),
      who.length ? h("ul", { class: "acks" }, who) : h("div", { class: "muted" }, t("conflict.no_acks")),
    );
    const centre = () => ctx.centreOnConflict(c.id);
    li.addEventListener("click", centre);
    li.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        centre();
      }
    });
    return li;
  });
  list.replaceChildren(...rows);
  if (!rows.length) list.append(h("li", { class: "empty" }, t("conflicts.empty")));
  $("#conflicts-count").textContent = String(conflicts.filter((c) => c.status !== "resolved").length);
}
