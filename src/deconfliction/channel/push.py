"""The webhook push loop: every endpoint with a webhook URL is POSTed its events, in order, at least once.

One task per endpoint walks its party's event log from the endpoint's push cursor (``WebhookState.pushed_seq``,
stored), the same events its stream would carry, and POSTs each one signed (``webhooks.py``) with the event id
``{endpoint_id}:{seq}``, the same on every retry, so that the receiver can drop repeats. The cursor moves past an
event only once the receiver answered 2xx; a failure holds the line (later events wait: order matters more than
speed on this line) and backs off by the retry policy, then goes to dead-letter (``core/health.py``). The state is
saved through the hub's writer, so it survives a restart: a hub killed between a 2xx and the save sends that event
again, with the same id.

Body of every POST: ``{"id": seq, "event": type, "endpoint": endpoint_id, "data": {...}}`` (``data`` as on the
event stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime

from deconfliction.channel.events import Listeners
from deconfliction.channel.webhooks import WebhookSender
from deconfliction.core.backoff import RetryPolicy
from deconfliction.core.health import WebhookState
from deconfliction.core.line import Endpoint
from deconfliction.store.port import Store

log = logging.getLogger("deconfliction.push")

_PAGE = 100

Save = Callable[[Endpoint, WebhookState, WebhookState], Awaitable[None]]


def event_id(endpoint_id: str, seq: int) -> str:
    return f"{endpoint_id}:{seq}"


def body(endpoint_id: str, seq: int, type_: str, data: str) -> bytes:
    return b'{"id":%d,"event":"%s","endpoint":"%s","data":%s}' % (
        seq,
        type_.encode(),
        endpoint_id.encode(),
        data.encode(),
    )


class WebhookPusher:
    """Runs one push task per webhook endpoint named by ``targets()``, started and stopped as that list changes.

    ``save(endpoint, before, after)`` stores the new state durably (and tells the party of dead-letter changes);
    ``tick_s`` bounds every wait, so a moved clock (tests) or a new endpoint is noticed within it.
    """

    def __init__(
        self,
        store: Store,
        listeners: Listeners,
        sender: WebhookSender,
        policy: RetryPolicy,
        *,
        targets: Callable[[], list[Endpoint]],
        save: Save,
        clock: Callable[[], datetime],
        tick_s: float,
        dead_probe_s: float,
        rng: random.Random | None = None,
    ) -> None:
        self.store, self.listeners, self.sender, self.policy = store, listeners, sender, policy
        self.targets, self.save, self.clock = targets, save, clock
        self.tick_s, self.dead_probe_s = tick_s, dead_probe_s
        self.rng = rng or random.Random()
        self._tasks: dict[str, tuple[Endpoint, asyncio.Task[None]]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._forced: set[str] = set()

    async def run(self) -> None:
        try:
            while True:
                self._reconcile()
                await asyncio.sleep(self.tick_s)
        finally:
            for _, task in self._tasks.values():
                task.cancel()
            for _, task in self._tasks.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks.clear()

    def retry_now(self, endpoint_id: str) -> None:
        """Try the endpoint's next event now, whatever its backoff says (the party fixed its receiver)."""
        self._forced.add(endpoint_id)
        wake = self._wake.get(endpoint_id)
        if wake is not None:
            wake.set()

    def _reconcile(self) -> None:
        wanted = {ep.id: ep for ep in self.targets()}
        for ep_id, (ep, task) in list(self._tasks.items()):
            if wanted.get(ep_id) != ep or task.done():
                task.cancel()
                del self._tasks[ep_id]
        for ep_id, ep in wanted.items():
            if ep_id not in self._tasks:
                self._tasks[ep_id] = (ep, asyncio.create_task(self._push(ep), name=f"push {ep_id}"))

    async def _push(self, ep: Endpoint) -> None:
        handle = self.listeners.subscribe(ep.party_id)
        self._wake[ep.id] = handle[1]
        try:
            while True:
                handle[1].clear()
                try:
                    wait = await self._step(ep)
                except Exception:  # keep pushing; the failure is logged
                    log.exception("webhook push to %s failed", ep.id)
                    wait = self.tick_s
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(handle[1].wait(), timeout=wait)
        finally:
            self.listeners.unsubscribe(ep.party_id, handle)
            self._wake.pop(ep.id, None)

    async def _step(self, ep: Endpoint) -> float:
        """Push what is due; return how long to wait before looking again (0: look again at once)."""
        assert ep.webhook_url is not None
        now = self.clock()
        forced = ep.id in self._forced
        with self.store.read() as uow:
            before = uow.webhook_state(ep.id)
            if not (forced or before.due(now)):
                assert before.next_attempt_at is not None
                return min(self.tick_s, max(0.0, (before.next_attempt_at - now).total_seconds()))
            rows = uow.events_for_endpoint(ep.party_id, ep.id, before.pushed_seq, _PAGE)
            secret = (uow.webhook_secret(ep.id) or "").encode()
        self._forced.discard(ep.id)
        if not rows:
            return self.tick_s
        after = before
        for seq, type_, data in rows:
            if not ep.wants(type_):
                after = after.skipped(seq)
                continue
            stamp = self.clock()
            attempt = await self.sender.post(
                ep.webhook_url, secret, event_id(ep.id, seq), body(ep.id, seq, type_, data), int(stamp.timestamp())
            )
            if attempt.ok:
                after = after.succeeded(seq, attempt.status, stamp)
                continue
            retry_at = self.policy.next_attempt_at(after.attempts + 1, stamp, self.rng)
            after = after.failed(attempt.status, attempt.error, stamp, retry_at, self.dead_probe_s)
            break
        await self.save(ep, before, after)
        return 0.0 if after.attempts == 0 else self.tick_s
