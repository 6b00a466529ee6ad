// The page: sign in, first render (basemap and every layer), then live updates over the event stream.
// Test hooks: window.hubMap (the L.Map); body[data-ready="1"] and window.hubReady after the first full render.

import L from "./leaflet.js";
import "@geoman-io/leaflet-geoman-free";
import { ApiError, allPages, api, token } from "./api.js";
import { renderConflicts } from "./conflicts-list.js";
import { DeclarePanel } from "./declare.js";
import { $ } from "./dom.js";
import { exportGeoJSON, exportKML } from "./export.js";
import { Extent, boundsOf } from "./geo.js";
import { currentLang, enumLabel, onLangChange, setLang, setTemplates, t, translate } from "./i18n.js";
import { Inbox } from "./inbox.js";
import { AlertsLayer } from "./layers/alerts.js";
import { ConflictsLayer } from "./layers/conflicts.js";
import { OperationsLayer } from "./layers/operations.js";
import { SitesLayer } from "./layers/sites.js";
import { TracksLayer } from "./layers/tracks.js";
import { basemapLayer, createMap, fetchBasemap } from "./map.js";
import { SettingsPanel } from "./settings.js";
import { followEvents, readEvents } from "./sse.js";
import { StatusStrip } from "./status.js";
import { parseTime, setTime, utcText } from "./time.js";

const NOTICE_TYPES = new Set(["conflict.opened", "conflict.changed", "message.received"]);

const ctx = {
  me: null,
  map: null,
  renderers: null,
  layers: {},
  conflicts: new Map(),
  messages: new Map(),
  receipts: new Map(), // notice id -> receipt.leaf_hash of the notice (signed acknowledgements answer it)
  parties: new Map(),
  signer: null,
  stream: null,
  sliderMinutes: 0,

  partyName(id) {
    if (id === this.me?.id) return `${this.me.name} (${t("app.you")})`;
    return this.parties.get(id) ?? id;
  },

  viewTime() {
    return Date.now() + this.sliderMinutes * 60_000;
  },

  upsertConflict(conflict) {
    if (!conflict?.id) return;
    if (!conflict.overlap) {
      // an event that does not carry the conflict's view: read it
      api(`/v1/conflicts/${encodeURIComponent(conflict.id)}`)
        .then((c) => this.upsertConflict(c))
        .catch(() => {});
      return;
    }
    const { receipt, ...view } = conflict;
    this.conflicts.set(view.id, view);
    this.layers.conflicts.setConflict(view);
    scheduleConflictList();
  },

  centreOnConflict(id) {
    const c = this.conflicts.get(id);
    if (!c) return;
    const bounds = boundsOf(c.overlap.footprint);
    if (bounds) this.map.fitBounds(bounds.pad(0.6), { maxZoom: 12 });
    // Look at the overlap's own time if the slider is outside it.
    const start = parseTime(c.overlap.time.start);
    const end = parseTime(c.overlap.time.end);
    const at = this.viewTime();
    const hidden = this.sliderMinutes === 0 ? at >= end : at < start || at >= end;
    if (c.status !== "resolved" && hidden) {
      const minutes = Math.ceil((Math.max(start, Date.now()) - Date.now()) / 300_000) * 5;
      setSlider(Math.min(2880, Math.max(0, minutes)));
    }
  },
};

let conflictListTimer = null;
function scheduleConflictList() {
  if (conflictListTimer) return;
  conflictListTimer = requestAnimationFrame(() => {
    conflictListTimer = null;
    renderConflicts(ctx);
  });
}

// --- time slider --------------------------------------------------------------------------------------------

let sliderFrame = null;
function applyTime() {
  const at = ctx.viewTime();
  const upcoming = ctx.sliderMinutes === 0;
  for (const name of ["operations", "sites", "lines", "conflicts"]) ctx.layers[name]?.setTime(at, upcoming);
  const label = $("#time-label");
  label.replaceChildren();
  const time = document.createElement("time");
  setTime(time, at);
  if (ctx.sliderMinutes === 0) label.append(time, ` (${t("time.now_upcoming")})`);
  else {
    const hours = Math.floor(ctx.sliderMinutes / 60);
    const minutes = ctx.sliderMinutes % 60;
    label.append(time, ` (${t("time.ahead", { h: hours, m: String(minutes).padStart(2, "0") })})`);
  }
  $("#time-slider").setAttribute("aria-valuetext", utcText(at));
}

function setSlider(minutes) {
  ctx.sliderMinutes = minutes;
  $("#time-slider").value = String(minutes);
  applyTime();
}

function wireSlider() {
  const slider = $("#time-slider");
  slider.addEventListener("input", () => {
    ctx.sliderMinutes = Number(slider.value);
    if (sliderFrame) return;
    sliderFrame = requestAnimationFrame(() => {
      sliderFrame = null;
      applyTime();
    });
  });
  $("#time-now").addEventListener("click", () => setSlider(0));
}

// --- layers -------------------------------------------------------------------------------------------------

function buildMap() {
  if (ctx.map) return;
  const { map, renderers } = createMap($("#map"));
  ctx.map = map;
  ctx.renderers = renderers;
  window.hubMap = map;
  // For the benchmark and tests: what the page holds, and how much of it is drawn at the slider's time.
  window.hubCounts = () => ({
    volumes: ctx.layers.operations.items.size,
    volumes_shown: ctx.layers.operations.shown().length,
    sites: ctx.layers.sites.items.size + ctx.layers.lines.items.size,
    conflicts: ctx.conflicts.size,
    tracks: ctx.layers.tracks.tracks.size,
    alerts: ctx.layers.alerts.alerts.size,
  });
  ctx.layers = {
    operations: new OperationsLayer(map, renderers.volumes),
    sites: new SitesLayer(map, renderers.sites),
    lines: new SitesLayer(map, renderers.sites, { lines: true }),
    conflicts: new ConflictsLayer(map, renderers.overlaps),
    tracks: new TracksLayer(map, renderers.tracks),
    alerts: new AlertsLayer(map, renderers.alerts),
  };
  for (const name of Object.keys(ctx.layers)) {
    const box = $(`#layer-${name}`);
    box.addEventListener("change", () => ctx.layers[name].setEnabled(box.checked));
  }
}

/** Where the data is, by kind, to fit the first view before anything is drawn. */
const extents = { conflicts: new Extent(), operations: new Extent(), sites: new Extent(), tracks: new Extent() };

// The first load asks for everything at once, with /v1/me; each answer is handled once the map exists (`ready`).

async function loadSites(ready = Promise.resolve()) {
  const { sites } = await api("/v1/sites");
  await ready;
  const seen = new Set(sites.map((s) => s.id));
  for (const layer of [ctx.layers.sites, ctx.layers.lines]) {
    for (const id of [...layer.items.keys()]) if (!seen.has(id)) layer.drop(id);
  }
  for (const site of sites) {
    ctx.layers.sites.setSite(site);
    ctx.layers.lines.setSite(site);
    if (!site.withdrawn) extents.sites.geometry(site.footprint, site.radius_m);
  }
}

async function loadConflicts(ready = Promise.resolve()) {
  const [open, acknowledged] = await Promise.all([
    allPages("/v1/conflicts?status=open", "conflicts"),
    allPages("/v1/conflicts?status=acknowledged", "conflicts"),
  ]);
  await ready;
  for (const c of [...open, ...acknowledged]) {
    ctx.upsertConflict(c);
    extents.conflicts.geometry(c.overlap?.footprint);
  }
}

/** Own live operations, drawn page by page as they arrive (each next page is asked for before this one is drawn). */
async function loadOperations(ready = Promise.resolve()) {
  const seen = new Set();
  await allPages("/v1/operations?live=true", "operations", 1000, async (ops) => {
    await ready;
    for (const op of ops) {
      seen.add(op.id);
      for (const v of op.volumes) extents.operations.geometry(v.footprint, v.radius_m);
    }
    ctx.layers.operations.setOperations(ops);
  });
  for (const id of [...ctx.layers.operations.volumeCount.keys()]) {
    if (!seen.has(id)) ctx.layers.operations.removeOperation(id);
  }
}

async function loadTracks(ready = Promise.resolve()) {
  const { tracks } = await api("/v1/tracks");
  await ready;
  ctx.layers.tracks.update(tracks ?? []);
  for (const tr of tracks ?? []) extents.tracks.point(tr.lon, tr.lat, 0.05);
}

async function loadAlerts(ready = Promise.resolve()) {
  const { alerts } = await api("/v1/alerts?status=open");
  await ready;
  ctx.layers.alerts.setAlerts(alerts);
}

/** Every request of the first render, sent now; handled once `ready` resolves (after /v1/me and the map). */
function firstLoads(me) {
  let go;
  const ready = new Promise((resolve) => {
    go = resolve;
  });
  // In the order the browser should send them (six at a time): the operations' pages are the longest chain.
  const loads = { go };
  loads.operations = loadOperations(ready);
  loads.conflicts = loadConflicts(ready);
  loads.sites = loadSites(ready);
  loads.tracks = loadTracks(ready);
  loads.alerts = loadAlerts(ready);
  loads.notices = api("/v1/notices?limit=1000");
  loads.templates = api("/v1/templates").then((catalog) => setTemplates(catalog));
  loads.parties = api("/v1/parties").then(({ parties }) => {
    for (const p of parties) ctx.parties.set(p.id, p.name);
  });
  // Where to follow the event stream from: a party's inbox names its log's last event, read with it. An endpoint
  // reads its backlog instead, so that the hub records as delivered to the unit only what its page was sent.
  loads.backlog = Promise.all([me, loads.notices])
    .then(([who, inbox]) => (who.endpoint ? readBacklog() : inbox.last_event_id ?? readBacklog()))
    .catch(() => 0);
  // A refused token fails them all: /v1/me says so; nothing else needs to.
  for (const p of Object.values(loads)) p.catch?.(() => {});
  return loads;
}

/** The first view: the conflicts if any, else own operations, else sites, else tracks; else where the map is. */
function fitToData() {
  for (const name of ["conflicts", "operations", "sites", "tracks"]) {
    const bounds = extents[name].bounds();
    if (bounds) {
      ctx.map.fitBounds(bounds.pad(0.1), { maxZoom: 10, animate: false });
      return;
    }
  }
}

// --- events -------------------------------------------------------------------------------------------------

let reloadTimers = {};
function later(name, fn, ms = 400) {
  clearTimeout(reloadTimers[name]);
  reloadTimers[name] = setTimeout(() => fn().catch((err) => console.warn(name, err)), ms);
}

function remember(type, data) {
  if (NOTICE_TYPES.has(type) && data?.id && data.receipt?.leaf_hash) ctx.receipts.set(data.id, data.receipt.leaf_hash);
}

function onEvent(event) {
  let data = null;
  try {
    data = JSON.parse(event.data);
  } catch {
    data = null;
  }
  const type = event.event;
  ctx.status.lastEvent(event.id);
  remember(type, data);
  if (type.startsWith("conflict.")) {
    ctx.upsertConflict(data);
    ctx.inbox.schedule();
  } else if (type === "message.received") {
    if (data?.id) ctx.messages.set(data.id, data);
    ctx.inbox.schedule();
  } else if (type.startsWith("message.") || type.startsWith("notice.")) {
    ctx.inbox.schedule();
  } else if (type.startsWith("alert.")) {
    if (type === "alert.closed") ctx.layers.alerts.remove(data?.id);
    else if (data?.id) ctx.layers.alerts.setAlert(data);
    ctx.inbox.render();
  } else if (type.startsWith("operation.")) {
    if (data?.volumes && data.id) ctx.layers.operations.setOperation(data);
    else later("operations", loadOperations);
  } else if (type.startsWith("site.")) {
    later("sites", loadSites);
  } else if (type.startsWith("line.")) {
    later("line", () => ctx.status.refreshLine(), 200);
  }
}

/** Read the backlog once (follow=false) for the notices' receipts and the id to follow from, without redrawing
 * (an endpoint's sign-in: what it is sent is recorded as delivered to it). */
async function readBacklog() {
  let last = 0;
  const response = await fetch("/v1/events?follow=false", {
    headers: { Authorization: `Bearer ${token.get()}`, Accept: "text/event-stream" },
    cache: "no-store",
    credentials: "omit",
  });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  await readEvents(
    response.body,
    (event) => {
      last = Math.max(last, Number(event.id) || 0);
      if (!NOTICE_TYPES.has(event.event)) return;
      try {
        remember(event.event, JSON.parse(event.data));
      } catch {
        // not JSON: nothing to remember
      }
    },
    () => {},
  );
  return last;
}

function follow(lastEventId) {
  let wasLive = false;
  ctx.stream = followEvents({
    lastEventId,
    onEvent,
    onState: (state, detail) => {
      ctx.status.setConnection(state, detail);
      if (state === "live" && wasLive) {
        // Back after a drop: the stream resumes from the last id; re-read the inbox for deadlines that moved.
        ctx.inbox.schedule();
      }
      if (state === "live") wasLive = true;
    },
    onUnauthorized: () => signOut(t("signin.expired")),
  });
  window.addEventListener("online", () => ctx.stream?.retry());
}

// --- sign in / out ------------------------------------------------------------------------------------------

function showSignin(message = "") {
  $("#signin-panel").hidden = false;
  $("#app").hidden = true;
  $("#signout").hidden = true;
  $("#whoami").hidden = true;
  const err = $("#signin-error");
  err.textContent = message;
  err.hidden = !message;
  $("#token").focus();
}

function signOut(message = "") {
  token.clear();
  sessionStorage.clear();
  ctx.stream?.stop();
  if (message) sessionStorage.setItem("deconfliction.signout", message);
  location.reload();
}

async function signIn(value) {
  token.set(value.trim());
  const me = api("/v1/me"); // first: the browser sends at most six requests to the hub at a time
  const loads = firstLoads(me);
  try {
    ctx.me = await me;
  } catch (err) {
    token.clear();
    showSignin(err instanceof ApiError && err.status === 401 ? t("signin.bad_token") : err.message);
    return;
  }
  $("#signin-panel").hidden = true;
  $("#app").hidden = false;
  $("#signout").hidden = false;
  const who = $("#whoami");
  who.hidden = false;
  const endpoint = ctx.me.endpoint?.name ?? ctx.me.endpoint_name;
  who.textContent = t("app.signed_in_as", { name: ctx.me.name }) + (endpoint ? ` · ${endpoint}` : "");
  await start(loads);
}

/**
 * The first render. Layers fill off the map while the answers arrive (the operations' pages come one after another);
 * then the view is fitted and the layers and basemap attached, so that every path is projected and drawn once.
 */
async function start(loads) {
  buildMap();
  ctx.status = new StatusStrip(ctx);
  ctx.status.setConnection("connecting");
  ctx.inbox = new Inbox(ctx);
  ctx.settings = new SettingsPanel(ctx);
  loads.go();
  const { layers, map, renderers } = ctx;
  // The basemap's paths are built while the operations' pages are still on their way (the main thread is free).
  const base = basemap.then((world) => basemapLayer(world, renderers.basemap));
  const results = await Promise.allSettled([
    base,
    loads.templates,
    loads.parties,
    loads.operations,
    loads.sites,
    loads.conflicts,
    loads.tracks,
    loads.alerts,
    ctx.settings.restore(),
    loads.notices,
  ]);
  const failed = results.filter((r) => r.status === "rejected");
  for (const r of failed) console.warn("first load:", r.reason);
  fitToData();
  if (results[0].status === "fulfilled") results[0].value.addTo(map);
  for (const layer of Object.values(layers)) layer.attach();
  ctx.declare = new DeclarePanel(ctx);
  wireSlider();
  translateEnums();
  applyTime();
  if (results.at(-1).status === "fulfilled") await ctx.inbox.accept(results.at(-1).value.notices);
  else ctx.inbox.render();
  renderConflicts(ctx);
  // Ready once the canvases have drawn what was added (two frames: the renderers redraw on the next one).
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  document.body.dataset.ready = "1";
  window.hubReady = performance.now();
  if (failed.length) ctx.inbox.say(t("app.partial_load", { n: failed.length }), true);

  ctx.status.startLine();
  layers.tracks.start();
  follow(await loads.backlog);
  setInterval(() => {
    const now = Date.now();
    ctx.inbox.tick(now);
    layers.alerts.tick(now);
  }, 1000);
  // At "now" the view moves with the clock: volumes start and end on their own.
  setInterval(() => {
    if (ctx.sliderMinutes === 0) applyTime();
  }, 30_000);
  // Sites notified or withdrawn by other parties reach this party as no event of its own: re-read them now and then.
  setInterval(() => later("sites", loadSites), 60_000);
}

function translateEnums() {
  for (const opt of document.querySelectorAll("[data-enum]")) {
    const [name, value] = opt.dataset.enum.split(":");
    opt.textContent = enumLabel(name, value);
  }
}

function boot() {
  const lang = $("#lang");
  lang.value = currentLang();
  lang.addEventListener("change", () => setLang(lang.value));
  translate();
  onLangChange((code) => {
    translateEnums();
    ctx.map?.pm?.setLang(code === "ru" ? "ru" : "en");
    if (!ctx.me) return;
    $("#whoami").textContent = t("app.signed_in_as", { name: ctx.me.name });
    applyTime();
    ctx.inbox.render();
    renderConflicts(ctx);
    ctx.status.rerender();
    ctx.settings.render();
    ctx.layers.alerts.tick();
  });
  $("#signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("#token").value;
    if (value.trim()) signIn(value);
  });
  $("#signout").addEventListener("click", () => signOut());
  $("#export-geojson").addEventListener("click", () => exportGeoJSON(ctx));
  $("#export-kml").addEventListener("click", () => exportKML(ctx));
  const farewell = sessionStorage.getItem("deconfliction.signout");
  sessionStorage.removeItem("deconfliction.signout");
  const saved = token.get();
  if (saved) signIn(saved);
  else showSignin(farewell ?? "");
}

L.Icon.Default.imagePath = "static/";
// The basemap needs no token: fetch it while the user signs in (or while /v1/me answers).
const basemap = fetchBasemap();
basemap.catch(() => {});
boot();
