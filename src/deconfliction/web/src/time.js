// Every time on the page is shown in UTC ("…Z"), with the reader's local time in a title on hover.

const pad = (n) => String(n).padStart(2, "0");

/** "2025-11-22 13:41Z" (or with seconds). */
export function utcText(ms, seconds = false) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return "—";
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${seconds ? `:${pad(d.getUTCSeconds())}` : ""}`;
  return `${day} ${time}Z`;
}

export function localText(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** A <time> element: UTC text, ISO datetime, local time on hover. */
export function timeEl(ms, seconds = false) {
  const el = document.createElement("time");
  setTime(el, ms, seconds);
  return el;
}

export function setTime(el, ms, seconds = false) {
  el.textContent = utcText(ms, seconds);
  el.dateTime = new Date(ms).toISOString();
  el.title = localText(ms);
}

/** The value of a `YYYY-MM-DDTHH:MM` UTC input as epoch ms, or NaN. */
export function parseUtcInput(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})Z?$/.exec(text.trim());
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi] = m.map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi);
  const back = new Date(ms);
  return back.getUTCDate() === d && back.getUTCHours() === h ? ms : Number.NaN;
}

export function toUtcInput(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** RFC 3339 UTC, the hub's wire form. */
export function rfc3339(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** "1:02:03", "4:05", "-0:10" (overdue) for a countdown to `deadlineMs`. */
export function countdownText(deadlineMs, now = Date.now()) {
  let s = Math.round((deadlineMs - now) / 1000);
  const sign = s < 0 ? "−" : "";
  s = Math.abs(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${sign}${h}:${pad(m)}:${pad(sec)}` : `${sign}${m}:${pad(sec)}`;
}

export const parseTime = (iso) => (iso ? Date.parse(iso) : Number.NaN);
