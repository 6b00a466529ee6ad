"""Posting batches of position reports to a running hub (``POST /v1/tracks``), patiently and never silently.

* A transport error (hub down, connection reset, timeout), a 5xx or a 429 is retried with exponential backoff and
  jitter (``core/backoff.retry_delay``: ``base_s`` doubling up to ``cap_s``) for up to ``retry_for_s`` seconds,
  after which the batch is given up with an error in the log and counted as ``unsent``. Reports older than the
  hub's ``DECONFLICTION_TRACK_STALE_S`` (60 s by default) would be dropped as stale anyway, hence the default.
  A retried batch the hub had in fact stored is harmless: its reports come back as ``out_of_order``.
* A 400 naming one report (``reports[i].field``) drops that report, says so in the log, counts it as ``rejected``
  and sends the rest; any other 4xx but 401/403/404 rejects the whole batch, loudly.
* 401, 403 and 404 (a wrong token, a party that may not report tracks, not a hub) raise ``HubRefused``: no
  retry will help, so the feed stops.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import orjson

from deconfliction.core.backoff import retry_delay
from deconfliction.core.tracks import MAX_BATCH
from deconfliction.feeds.report import PositionReport

log = logging.getLogger("deconfliction.feeds")

DEFAULT_HUB = "http://127.0.0.1:8321"
_BAD_REPORT = re.compile(r"^reports\[(\d+)\]")
_FATAL = (401, 403, 404)
_MAX_DROPS_PER_BATCH = 10


class HubRefused(Exception):
    """The hub refused the feed itself (wrong token, no right to report tracks, wrong URL)."""


@dataclass(slots=True)
class Totals:
    """What the hub did with everything posted so far, and what never reached it."""

    batches: int = 0
    reports: int = 0  # reports handed to ``post``
    accepted: int = 0
    stale: int = 0
    out_of_order: int = 0
    future: int = 0
    rejected: int = 0  # refused by the hub as invalid (each logged)
    unsent: int = 0  # given up after ``retry_for_s`` of failures (each batch logged)
    retries: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _message(response: httpx.Response) -> tuple[str, str | None]:
    """The hub's error message and the field it names, from ``{"error": {"message", "details": {"field"}}}``."""
    try:
        error = orjson.loads(response.content)["error"]
        return str(error["message"]), error.get("details", {}).get("field")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return response.text[:200], None


class HubClient:
    """An HTTP/1.1 keep-alive connection to one hub, posting as one party (or endpoint) token."""

    def __init__(
        self,
        hub: str,
        token: str,
        *,
        retry_for_s: float = 60.0,
        base_s: float = 0.5,
        cap_s: float = 10.0,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.hub = hub.rstrip("/")
        self.retry_for_s, self.base_s, self.cap_s = retry_for_s, base_s, cap_s
        self.totals = Totals()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.hub,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout_s,
            transport=transport,
        )

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(self, reports: Sequence[PositionReport]) -> None:
        """Post one batch (at most 10,000 reports); returns once the hub has it durably, or it was given up (logged
        and counted). Raises ``HubRefused`` when the hub refuses the feed itself."""
        if len(reports) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH:,} reports per batch, got {len(reports):,}")
        self.totals.batches += 1
        self.totals.reports += len(reports)
        pending = list(reports)
        started = time.monotonic()
        attempt = drops = 0
        while pending:
            body = orjson.dumps([r.to_wire() for r in pending])
            try:
                response = await self._http.post("/v1/tracks", content=body)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 200:
                    counts: dict[str, Any] = orjson.loads(response.content)
                    for name in ("accepted", "stale", "out_of_order", "future"):
                        setattr(self.totals, name, getattr(self.totals, name) + int(counts.get(name, 0)))
                    return
                message, field = _message(response)
                if status in _FATAL:
                    raise HubRefused(f"{self.hub} answered {status}: {message}")
                if 400 <= status < 500 and status not in (408, 429):
                    found = _BAD_REPORT.match(field or "")
                    if found is None or drops >= _MAX_DROPS_PER_BATCH or int(found.group(1)) >= len(pending):
                        log.error("the hub refused a batch of %d reports (%d): %s", len(pending), status, message)
                        self.totals.rejected += len(pending)
                        return
                    bad = pending.pop(int(found.group(1)))
                    log.warning("the hub refused report %s at %.3f: %s; sending the rest", bad.track_id, bad.t, message)
                    self.totals.rejected += 1
                    drops += 1
                    continue
                problem = f"HTTP {status}: {message}"
            waited = time.monotonic() - started
            if waited >= self.retry_for_s:
                log.error(
                    "gave up on a batch of %d reports after %.0f s of failures (last: %s)",
                    len(pending),
                    waited,
                    problem,
                )
                self.totals.unsent += len(pending)
                return
            delay = min(retry_delay(attempt, self._rng, self.base_s, self.cap_s), self.retry_for_s - waited)
            log.warning("posting %d reports failed (%s); retrying in %.1f s", len(pending), problem, delay)
            attempt += 1
            self.totals.retries += 1
            await self._sleep(max(delay, 0.0))
