"""The FastAPI app factory: ``create_app(settings)`` builds the store, the hub and the routes; nothing global."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor

from fastapi import FastAPI

from deconfliction.api import errors, web
from deconfliction.api.deps import TokenCache, refresh_endpoints, run_write
from deconfliction.api.parsers import Parsers
from deconfliction.api.routers import (
    alerts,
    audit,
    channels,
    conflicts,
    endpoints,
    events,
    line,
    messages,
    operations,
    parties,
    sites,
    tracks,
)
from deconfliction.channel.push import WebhookPusher
from deconfliction.channel.webhooks import WebhookSender
from deconfliction.config import Settings
from deconfliction.core.alerts import Encounter
from deconfliction.core.backoff import RetryPolicy
from deconfliction.core.health import WebhookState
from deconfliction.core.line import Endpoint
from deconfliction.core.tactical import detect
from deconfliction.service import conflicts as conflict_cases
from deconfliction.service import endpoints as endpoint_cases
from deconfliction.service import escalation, line_health, tactical
from deconfliction.service import tracks as track_cases
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.line_health import LineScheduler
from deconfliction.service.workers import worker_pool
from deconfliction.store.sql import SqlStore

log = logging.getLogger("deconfliction")

DESCRIPTION = """
Parties that share a theatre declare what they will do where and when (4D volumes) and notify protected sites.
The hub finds every conflict with other parties' plans and tells exactly the parties involved, disclosing nothing
beyond the conflict itself. An acknowledgement means **received and understood — never approval**.
"""


async def _sweep(hub: Hub) -> None:
    while True:
        await asyncio.sleep(hub.settings.sweep_interval_s)
        try:
            await run_write(hub, lambda tx: conflict_cases.expire(hub, tx))
            await run_write(hub, lambda tx: track_cases.prune(hub, tx))
            await run_write(hub, lambda tx: line_health.prune(hub, tx))
        except Exception:  # keep sweeping; the failure is logged
            log.exception("sweep failed")


async def _deadlines(hub: Hub) -> None:
    """Escalate notices whose acknowledgement deadline passed; the first pass, at start-up, catches up on those
    that passed while the hub was down."""
    while True:
        try:
            with hub.store.read() as uow:  # most seconds nothing is due: don't write (and fsync) for nothing
                due = uow.overdue_notices(hub.clock(), 1)
            if due:
                await run_write(hub, lambda tx: escalation.escalate(hub, tx))
        except Exception:  # keep watching the deadlines; the failure is logged
            log.exception("deadline check failed")
        await asyncio.sleep(hub.settings.deadline_check_s)


async def _line_tests(hub: Hub, scheduler: LineScheduler) -> None:
    """Send line tests when due; count unanswered ones as missed when their window closes."""
    while True:
        try:
            with hub.store.read() as uow:
                stale = hub.endpoints_stale(uow)
                due = scheduler.due(uow, hub.clock())
            if stale:
                await refresh_endpoints(hub)
            if due:
                scheduler.scheduled(await run_write(hub, scheduler.tick))
        except Exception:  # keep testing the line; the failure is logged
            log.exception("line test pass failed")
        await asyncio.sleep(hub.settings.deadline_check_s)


def _pusher(hub: Hub) -> WebhookPusher:
    s = hub.settings
    policy = RetryPolicy(max_attempts=s.webhook_max_attempts, base_s=s.webhook_base_s, cap_s=s.webhook_cap_s)

    async def save(endpoint: Endpoint, before: WebhookState, after: WebhookState) -> None:
        await run_write(
            hub, functools.partial(endpoint_cases.record_push, hub, endpoint=endpoint, before=before, after=after)
        )

    return WebhookPusher(
        hub.store,
        hub.listeners,
        WebhookSender(timeout_s=s.webhook_timeout_s),
        policy,
        targets=lambda: [ep for eps in hub.endpoints.values() for ep in eps if ep.webhook_url],
        save=save,
        clock=hub.clock,
        tick_s=s.deadline_check_s,
        dead_probe_s=s.webhook_dead_probe_s,
    )


async def _tactical(hub: Hub, pool: ProcessPoolExecutor) -> None:
    """Every pass: encounters between live tracks (the detector in its own process, so that it takes the other core
    and not the hub's GIL), then entries into volumes and the alerts' life (in the writer, which owns the index and
    the alerts)."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(hub.settings.tactical_pass_s)
        try:
            if len(hub.tracks) or len(hub.alerts):
                snap = await asyncio.to_thread(tactical.snapshot, hub, hub.clock())
                given = tactical.detection(hub, snap)
                pairs: list[Encounter] = []
                if given is not None:
                    found = await loop.run_in_executor(pool, detect, *given)
                    pairs = tactical.encounters_of(snap, found)

                def apply(tx: Tx, snap: tactical.Snapshot = snap, pairs: list[Encounter] = pairs) -> object:
                    return tactical.apply_pass(hub, tx, [*pairs, *tactical.intrusions(hub, snap)])

                await run_write(hub, apply)
        except Exception:  # the next pass will try again; the failure is logged
            log.exception("tactical pass failed")


async def _heads(hub: Hub) -> None:
    """Sign the last batch's head within a second (``AuditLog.latest``), and a new head at least every
    ``audit_head_interval_s``, even when nothing changes."""
    while True:
        await asyncio.sleep(1.0)
        try:
            hub.audit.latest()
            with hub.store.read() as uow:
                stored = uow.audit_size()
            if hub.audit.head_due(hub.clock(), stored):
                await run_write(hub, lambda tx: None)
        except Exception:  # the next pass will try again; the failure is logged
            log.exception("signing a tree head failed")


async def _checkpoint(hub: Hub) -> None:
    while True:
        await asyncio.sleep(1.0)
        try:
            await asyncio.to_thread(hub.store.checkpoint)
        except Exception:  # the next one will try again; the failure is logged
            log.exception("checkpoint failed")


def create_app(settings: Settings, hub: Hub | None = None) -> FastAPI:
    """Build the app. Without ``hub``, it opens the SQLite store named by ``settings.db``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        the_hub = hub or Hub(SqlStore.sqlite(settings.db, settings.sqlite_synchronous), settings)
        the_hub.start()
        app.state.hub = the_hub
        app.state.tokens = TokenCache()
        app.state.pusher = pusher = _pusher(the_hub)
        app.state.parsers = parsers = Parsers(settings.track_parse_workers, settings.track_parse_min_bytes)
        detector = worker_pool(1)  # the pairwise detector's process
        tasks = [
            asyncio.create_task(_sweep(the_hub)),
            asyncio.create_task(_deadlines(the_hub)),
            asyncio.create_task(_line_tests(the_hub, LineScheduler(the_hub))),
            asyncio.create_task(pusher.run()),
            asyncio.create_task(_heads(the_hub)),
            asyncio.create_task(_tactical(the_hub, detector)),
            asyncio.create_task(_checkpoint(the_hub)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pusher.sender.aclose()
            detector.shutdown(wait=False, cancel_futures=True)
            parsers.close()
            the_hub.stop()

    # FastAPI's own OpenTelemetry off: an air-gapped hub exports nowhere, and merely asking whether it should costs
    # every request three provider lookups in the environment.
    app = FastAPI(
        title="Deconfliction Hub",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)
    for module in (
        operations,
        sites,
        conflicts,
        events,
        parties,
        endpoints,
        channels,
        messages,
        line,
        audit,
        tracks,
        alerts,
    ):
        app.include_router(module.router)

    web.install(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
