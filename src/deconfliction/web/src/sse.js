// The hub's event stream read with fetch(), not EventSource: EventSource cannot send the Authorization header, and
// the token must never appear in a URL. Reconnects with backoff and resumes with Last-Event-ID.

import { authHeaders } from "./api.js";

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 5000;
// The hub sends a keep-alive comment every 15 s (DECONFLICTION_EVENT_HEARTBEAT_S): silence this long means the
// connection is dead even if TCP has not noticed.
const SILENCE_MS = 40_000;

/** Split a byte stream into SSE events ({id, event, data}), per the HTML spec's parsing rules. */
export async function readEvents(body, onEvent, onBytes) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let id = null;
  let type = "";
  let data = [];
  const line = (text) => {
    if (text === "") {
      if (data.length) onEvent({ id, event: type || "message", data: data.join("\n") });
      type = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") type = value;
    else if (field === "id" && !value.includes("\0")) id = value;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onBytes();
    buffer += value;
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer[i];
      if (c === "\n" || c === "\r") {
        if (c === "\r" && i + 1 === buffer.length) break; // a CRLF may be split across chunks
        line(buffer.slice(start, i));
        if (c === "\r" && buffer[i + 1] === "\n") i++;
        start = i + 1;
      }
    }
    buffer = buffer.slice(start);
  }
}

/**
 * Follow /v1/events for as long as the page is signed in.
 * onEvent({id, event, data}) gets every event once per delivery (at least once: the hub may repeat after a
 * reconnect, so handlers are idempotent); onState(state, detail) gets "connecting" | "live" | "down".
 */
export function followEvents({ onEvent, onState, onUnauthorized, lastEventId = 0 }) {
  let stopped = false;
  let last = lastEventId;
  let controller = null;
  let watchdog = null;
  let wake = null;

  const sleep = (ms) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const feed = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => controller?.abort(), SILENCE_MS);
  };

  async function run() {
    let delay = FIRST_DELAY_MS;
    while (!stopped) {
      onState("connecting");
      controller = new AbortController();
      let reason = "";
      try {
        const headers = authHeaders({ Accept: "text/event-stream" });
        if (last > 0) headers["Last-Event-ID"] = String(last);
        feed();
        const response = await fetch("/v1/events", {
          headers,
          signal: controller.signal,
          cache: "no-store",
          credentials: "omit",
        });
        if (response.status === 401) {
          stopped = true;
          onState("down", "unauthorized");
          onUnauthorized?.();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onState("live");
        delay = FIRST_DELAY_MS;
        await readEvents(
          response.body,
          (event) => {
            const n = Number(event.id);
            if (Number.isFinite(n) && n > 0) {
              if (n <= last) return; // already handled before the reconnect
              last = n;
            }
            onEvent(event);
          },
          feed,
        );
        reason = "closed";
      } catch (err) {
        reason = err.name === "AbortError" ? "timeout" : err.message;
      } finally {
        clearTimeout(watchdog);
      }
      if (stopped) return;
      onState("down", reason);
      await sleep(delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }

  run();
  return {
    stop() {
      stopped = true;
      controller?.abort();
      wake?.();
    },
    /** Try again now (e.g. when the browser says it is online again). */
    retry() {
      wake?.();
    },
    get lastEventId() {
      return last;
    },
  };
}
