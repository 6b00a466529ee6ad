"""The hub: owns the store, the in-memory index, the event log and the write path.

Every write is a use case (see ``operations.py``, ``sites.py``, ``conflicts.py``) run as a function of a ``Tx``:
the hub opens one transaction, runs it, commits durably, and only then wakes the listeners. Writes come through
the group-commit writer (``writer.py``) so that many requests share one fsync; reads go straight to the store.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import orjson

from deconfliction.channel.events import EventLog, Listeners
from deconfliction.config import Settings
from deconfliction.core.alerts import AlertBook
from deconfliction.core.disclosure import conflict_common, conflict_record, conflict_view, same_side
from deconfliction.core.errors import DeconflictionError, InvalidInput
from deconfliction.core.index import Envelope, Key, SpatioTemporalIndex
from deconfliction.core.line import Delivery, Endpoint
from deconfliction.core.model import Conflict, ObjectType, Party, Role
from deconfliction.core.record import Verbatim
from deconfliction.core.tracks import TrackTable, decode_reports
from deconfliction.core.volumes import Buffers, Volume4D, VolumeLimits
from deconfliction.service.record import AuditLog, ReceiptBatch
from deconfliction.service.writer import GroupCommitWriter
from deconfliction.store import codec
from deconfliction.store.port import StaleLog, Store, UnitOfWork

T = TypeVar("T")

KIND_OPERATION = 0
KIND_SITE = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "dh_" + secrets.token_urlsafe(32)


@dataclass
class Tx:
    """One unit of work as seen by a use case: the store, the time, who must be woken after commit, and the
    receipts its notices carry (signed together before it commits)."""

    uow: UnitOfWork
    now: datetime
    woken: set[str] = field(default_factory=set)
    receipts: ReceiptBatch = field(default_factory=ReceiptBatch)


class Hub:
    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.limits = VolumeLimits(max_vertices=settings.max_vertices, max_area_km2=settings.max_area_km2)
        self.buffers = Buffers(
            horizontal_m=settings.horizontal_buffer_m,
            vertical_m=settings.vertical_buffer_m,
            seconds=settings.time_buffer_s,
        )
        self.listeners = Listeners()
        self.events = EventLog()
        self.index = SpatioTemporalIndex(codec.volume_from_text)
        self.site_recipients: dict[str, frozenset[str] | None] = {}
        self.parties: dict[str, Party] = {}
        self.endpoints: dict[str, list[Endpoint]] = {}  # by party, enabled ones only
        self.secret = b""
        self.audit = AuditLog(settings.audit_head_interval_s)
        self.tracks = TrackTable()
        self.alerts = AlertBook()
        self._writer: GroupCommitWriter | None = None
        self._last_id_ms = 0
        self._id_seq = 0
        self.reload()

    # -- state rebuilt from storage ---

    def reload(self) -> None:
        """Rebuild everything held in memory from the store (at start-up, and after a failed batch)."""
        now = self.clock()
        with self.store.write() as uow:
            secret = uow.meta("ref_secret")
            if secret is None:
                secret = secrets.token_hex(32)
                uow.set_meta("ref_secret", secret)
        self.secret = bytes.fromhex(secret)
        self.audit.load(self.store)
        index = SpatioTemporalIndex(codec.volume_from_text)
        recipients: dict[str, frozenset[str] | None] = {}
        now_s = now.timestamp()
        with self.store.read() as uow:
            self.events.load(uow)
            self.parties = {p.id: p for p in uow.parties()}
            self.refresh_endpoints(uow)
            for op_id, party_id, text, priority in uow.live_operation_volumes(now):
                group = self.parties[party_id].coalition_id
                for i, data in enumerate(orjson.loads(text)):
                    envelope = codec.envelope_from_json(data)
                    if envelope.end_s > now_s:
                        key = (ObjectType.OPERATION, op_id, i)
                        payload = orjson.dumps(data).decode()
                        index.add(key, envelope, payload, party_id, group, KIND_OPERATION, priority=priority)
            self.index = index
            for site in uow.live_sites(now):
                group = self.parties[site.party_id].coalition_id
                self.index_volume((ObjectType.SITE, site.id, 0), site.volume, site.party_id, group, KIND_SITE)
                recipients[site.id] = site.recipients
            self._reload_tracks(uow, now_s)
            alerts = AlertBook()
            alerts.load(uow.open_alerts())
            self.alerts = alerts
        self.site_recipients = recipients

    def _reload_tracks(self, uow: UnitOfWork, now_s: float) -> None:
        """The live track table from the batches that can still matter."""
        stale_s = self.settings.track_stale_s
        tracks = TrackTable()
        for party_id, received_at, blob in uow.track_batches_since(now_s - stale_s):
            tracks.update(party_id, decode_reports(blob), received_at, stale_s)
        tracks.expire(now_s, stale_s)
        self.tracks = tracks

    def index_volume(
        self, key: Key, volume: Volume4D, owner: str, group: str | None, kind: int, priority: int | None = None
    ) -> None:
        self.index.add(key, Envelope.of(volume), codec.volume_text(volume), owner, group, kind, volume, priority)

    def refresh_parties(self, uow: UnitOfWork) -> None:
        """Parties are created by the admin CLI, possibly while the hub runs; they never change coalition."""
        self.parties = {p.id: p for p in uow.parties()}

    def refresh_endpoints(self, uow: UnitOfWork) -> None:
        endpoints: dict[str, list[Endpoint]] = {}
        for ep in uow.endpoints():
            if not ep.disabled:
                endpoints.setdefault(ep.party_id, []).append(ep)
        self.endpoints = endpoints

    def endpoints_stale(self, uow: UnitOfWork) -> bool:
        """Whether the admin CLI made or retired endpoints in another process (a count, so cheap). Refresh in the
        writer (``refresh_endpoints`` in a ``Tx``): from a read, a registration in flight would be dropped."""
        return uow.enabled_endpoint_count() != sum(len(eps) for eps in self.endpoints.values())

    def knows_endpoint(self, ep: Endpoint) -> bool:
        return any(known.id == ep.id for known in self.endpoints.get(ep.party_id, ()))

    def party(self, uow: UnitOfWork, party_id: str) -> Party:
        found = self.parties.get(party_id)
        if found is None:
            self.refresh_parties(uow)
            found = self.parties[party_id]
        return found

    def new_id(self, prefix: str, now: datetime) -> str:
        """Increasing and unguessable: milliseconds since the epoch, a sequence within the millisecond, then 64
        random bits. Lists page by id, so ids must sort in the order objects were made."""
        ms = max(int(now.timestamp() * 1000), self._last_id_ms)
        self._id_seq = self._id_seq + 1 if ms == self._last_id_ms else 0
        self._last_id_ms = ms
        return f"{prefix}_{ms:012x}{self._id_seq:04x}{secrets.token_hex(8)}"

    def same_side_ids(self, party: Party) -> list[str]:
        """The party and its coalition partners: who reads its operations in full."""
        return [p.id for p in self.parties.values() if same_side(p, party)] or [party.id]

    def monitors(self) -> list[Party]:
        return [p for p in self.parties.values() if p.role is Role.MONITOR]

    # -- the write path ---

    def execute(self, command: Callable[[Tx], T]) -> T:
        """Run one use case in its own transaction, now (the synchronous path: CLI, tests, benchmarks)."""
        return cast(T, self.execute_batch([command])[0].result())

    def execute_batch(
        self, commands: list[Callable[[Tx], Any]], futures: list[Future[Any]] | None = None, again: bool = True
    ) -> list[Future[Any]]:
        """Run use cases in one transaction and one fsync, settling ``futures`` (new ones by default) with their
        outcomes. A use case that raises a ``DeconflictionError`` has changed nothing (use cases validate before
        they write), so the others still commit. A batch that met entries another process appended to the record
        is run once more after a reload (``again``)."""
        if futures is None:
            futures = [Future() for _ in commands]
        outcomes: list[tuple[bool, Any]] = []
        tx: Tx | None = None
        try:
            with self.store.write() as uow:
                tx = Tx(uow=uow, now=self.clock())
                self.catch_up(uow)
                for command in commands:
                    try:
                        outcomes.append((True, command(tx)))
                    except DeconflictionError as exc:
                        outcomes.append((False, exc))
                tx.receipts.sign(self.audit.key)
                self.audit.seal(uow, tx.now)
        except Exception as exc:
            # The transaction rolled back: memory may hold changes that never reached the disk.
            self.reload()
            if again and isinstance(exc, StaleLog):
                return self.execute_batch(commands, futures, again=False)
            if len(commands) == 1:
                futures[0].set_exception(exc)
                return futures
            for fut, command in zip(futures, commands, strict=True):
                self.execute_batch([command], [fut])
            return futures
        assert tx is not None
        self.audit.committed()
        self.listeners.wake(tx.woken)
        for fut, (ok, value) in zip(futures, outcomes, strict=True):
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
        return futures

    def catch_up(self, uow: UnitOfWork) -> None:
        """At the start of a batch, take in what another process (the admin CLI) committed: entries appended to the
        record, new parties. Skipped (two queries, ~0.1 ms at a million entries) when nobody else has committed."""
        self.audit.begin(uow)
        if uow.committed_elsewhere and len(self.parties) != uow.party_count():
            self.refresh_parties(uow)
        uow.caught_up()

    def start(self) -> None:
        if self._writer is None:
            self._writer = GroupCommitWriter(self.execute_batch, self.settings.batch_max)

    def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.store.close()

    def submit(self, command: Callable[[Tx], T]) -> Future[T]:
        """Queue a use case for the group-commit writer; the future resolves after its commit."""
        if self._writer is None:
            raise RuntimeError("the hub's writer is not started")
        return self._writer.submit(command)

    # -- idempotent writes ---

    def idempotent(
        self,
        tx: Tx,
        caller: Party,
        key: str | None,
        request: Callable[[], Any],
        run: Callable[[Tx], tuple[int, bytes]],
    ) -> tuple[int, bytes]:
        """Run ``run`` unless the same key was used before: then return the first answer, byte for byte.
        ``request()`` gives what identifies the request; it is only worked out when there is a key."""
        if key is None:
            return run(tx)
        digest = hashlib.sha256(orjson.dumps(request(), option=orjson.OPT_SORT_KEYS)).hexdigest()
        stored = tx.uow.stored_response(caller.id, key)
        if stored is not None:
            if stored[0] != digest:
                raise InvalidInput(
                    "This Idempotency-Key was already used for a different request; use a new key for a new write.",
                    {"idempotency_key": key},
                )
            return stored[1], stored[2].encode()
        status, body = run(tx)
        tx.uow.store_response(caller.id, key, digest, status, body.decode(), tx.now)
        return status, body

    # -- events and views ---

    def view(self, conflict: Conflict, viewer: Party, common: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return conflict_view(conflict, viewer, self.parties, self.secret, common)

    def publish(self, tx: Tx, type_: str, conflict: Conflict, notify: bool = False) -> None:
        """Append the event to the log of both parties and every monitor, each with its own view. With ``notify``
        the event carries the conflict's notice to the two parties: each of their endpoints gets a delivery record.
        """
        common = conflict_common(conflict)
        self.announce(
            tx,
            type_,
            conflict.id,
            Verbatim.of(conflict_record(conflict, self.secret, common)),  # built from validated objects only
            conflict.party_ids,
            lambda pid: self.view(conflict, self.party(tx.uow, pid), common),
            notice=notify,
        )

    def announce(
        self,
        tx: Tx,
        type_: str,
        subject: str,
        document: dict[str, Any] | Verbatim,
        parties: Iterable[str],
        view: Callable[[str], dict[str, Any] | None],
        notice: bool = False,
        receipt: bool | None = None,
    ) -> None:
        """Log one change (``document``, shown to ``parties`` and the monitors) and tell each of them as its own
        ``view`` of it. The parties' events carry the entry's signed receipt (``receipt``, by default when it is a
        ``notice``); a notice also gets each of their endpoints a delivery record."""
        involved = set(parties)
        readers = sorted({*involved, *(m.id for m in self.monitors())})
        entry = tx.uow.record(tx.now, type_, subject, document, readers)
        signed = tx.receipts.add(entry) if (notice if receipt is None else receipt) else None
        for pid in readers:
            data = view(pid)
            if data is None:
                continue
            told = pid in involved
            if signed is not None and told:
                data["receipt"] = signed
            self.deliver(tx, pid, type_, data, notice_id=subject if notice and told else None)

    def deliver(
        self,
        tx: Tx,
        party_id: str,
        type_: str,
        data: dict[str, Any],
        notice_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> int:
        """Append an event to the party's log (for one endpoint only, with ``endpoint_id``) and wake its streams.
        When the event first carries a notice (``notice_id``), every endpoint it reaches gets a ``queued`` delivery."""
        seq = self.events.append(tx.uow, party_id, type_, data, tx.now, endpoint_id)
        tx.woken.add(party_id)
        if notice_id is not None:
            for ep in self.endpoints.get(party_id, ()):
                if (endpoint_id is None or ep.id == endpoint_id) and ep.wants(type_):
                    tx.uow.insert_delivery(Delivery(notice_id, ep.id, party_id, seq, tx.now))
        return seq
