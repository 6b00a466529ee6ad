"""The hub's side of the record: its signing key, the Merkle tree over the log, signed heads and receipts.

Use cases append entries with ``tx.uow.record(...)`` in their own transaction. At the start of a batch ``begin``
adds what another process (the admin CLI) appended, if the store says someone else committed;
before the batch commits, ``seal`` extends the in-memory tree with what the batch appended and makes the new head:
every committed change has its entry, and every committed batch its head. When nothing changed, a head is still
signed once every ``audit_head_interval_s`` so that a party can tell a quiet log from a stalled one.

A head is stored at most once a second; that one is signed inside its transaction. The heads of the batches in
between are signed when first asked for (``latest``: the head routes, and the 1 Hz task that keeps heads coming),
not on the writer's path, where an Ed25519 signature per batch cost ~35 µs of every one-declaration batch: a head is
only ever served signed, a party that got its 2xx is served a head that covers its write, and no committed batch
waits more than a second for a signed head. Such a head's root is computed then too (``Mark``): the tree answers
the root of any past size, and a batch that no one asks about before the next one never needs it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.core.disclosure import endpoint_ref, iso_z
from deconfliction.core.merkle import MerkleLog
from deconfliction.core.record import (
    LogEntry,
    Receipt,
    SignedHead,
    TreeHead,
    key_to_hex,
    private_key_from_hex,
    sign_head,
    sign_receipt_batch,
    to_ms,
)
from deconfliction.core.record import from_ms as record_time
from deconfliction.store.port import Store, UnitOfWork

_KEY_META = "audit_key"
STORE_HEAD_MS = 1_000
_LOAD_CHUNK = 100_000


@lru_cache(maxsize=1024)
def from_ms(at_ms: int) -> str:
    """A record time as RFC 3339 (UTC, ``Z``). Memoised: a transaction's entries and receipts share one time."""
    return iso_z(record_time(at_ms))


def hub_key(uow: UnitOfWork) -> Ed25519PrivateKey:
    """The hub's Ed25519 key, made on first use and kept in the database beside the log it signs."""
    stored = uow.meta(_KEY_META)
    if stored is None:
        stored = secrets.token_hex(32)
        uow.set_meta(_KEY_META, stored)
    return private_key_from_hex(stored)


def head_json(signed: SignedHead) -> dict[str, Any]:
    h = signed.head
    return {
        "size": h.size,
        "root_hash": h.root_hash.hex(),
        "timestamp_ms": h.timestamp_ms,
        "timestamp": from_ms(h.timestamp_ms),
        "signature": signed.signature.hex(),
    }


def record_ref(secret: bytes, endpoint_id: str) -> str:
    """How the record names an endpoint to those who read a delivery or an acknowledgement: nameless, and unlike the
    ``unit_…`` refs the API shows each party. Its owner finds it as ``record_ref`` in ``GET /v1/endpoints/{id}``."""
    return endpoint_ref(secret, "record", endpoint_id)


def log_about(
    uow: UnitOfWork, at: datetime, kind: str, subject: str, data: dict[str, Any], also: Iterable[str] = ()
) -> LogEntry:
    """Log a step in the life of ``subject`` (a delivery, a read, an acknowledgement, an escalation), shown to
    whoever may read the last entry about it (and ``also``), and bound to that entry by index and leaf hash."""
    about = uow.audit_latest(subject)
    data = {**data, "about_index": about.index if about else None}
    data["about_leaf_hash"] = about.leaf_hash.hex() if about else None
    shown = about.visible if about is not None else frozenset()
    visible = None if shown is None else {*shown, *also}
    return uow.record(at, kind, subject, data, visible)


def entry_json(entry: LogEntry, viewer_id: str) -> dict[str, Any]:
    """An entry as ``viewer_id`` may see it: index, time and leaf hash for all; the document when it may read it."""
    out: dict[str, Any] = {"index": entry.index, "at_ms": entry.at_ms, "leaf_hash": entry.leaf_hash.hex()}
    if entry.visible_to(viewer_id):
        out["document"] = entry.document.decode()
    return out


class Mark(NamedTuple):
    """A committed batch's head before it is made: the log's size then, and the head's time. ``AuditLog.latest``
    completes it (root, signature) when first asked for."""

    size: int
    timestamp_ms: int


class AuditLog:
    """What the hub holds in memory of its log: the tree (for heads and proofs), the key, the last head."""

    def __init__(self, interval_s: float) -> None:
        self.interval_ms = int(interval_s * 1000)
        self.tree = MerkleLog()
        self.key = Ed25519PrivateKey.generate()  # replaced by the stored key in ``load``
        self.public_key_hex = ""
        self._last_head: SignedHead | None = None  # served through ``latest``
        self._sealed: SignedHead | Mark | None = None  # this batch's head (made and signed when it is stored)
        self._pending: Mark | None = None  # committed, not made yet
        self._signing = threading.Lock()  # the writer signs ``_pending``, or a reader that wants the head first
        self._stored_ms: int | None = None  # the time and size of the last head stored
        self._stored_size = -1
        self._storing: Mark | None = None  # the head this batch stores, until it commits

    def load(self, store: Store) -> None:
        """Read the key and every leaf hash from the store (start-up, and after a rolled-back batch)."""
        with store.write() as uow:
            self.key = hub_key(uow)
        self.public_key_hex = key_to_hex(self.key.public_key())
        leaves: list[bytes] = []
        with store.read() as uow:
            size = uow.audit_size()
            for start in range(0, size, _LOAD_CHUNK):
                leaves.extend(uow.audit_leaves(start, min(size, start + _LOAD_CHUNK)))
            self._last_head = uow.latest_head()
        self.tree = MerkleLog.from_leaf_hashes(leaves)
        self._sealed = self._storing = self._pending = None
        self._stored_ms = self._last_head.head.timestamp_ms if self._last_head else None
        self._stored_size = self._last_head.head.size if self._last_head else -1

    def head_due(self, now: datetime, stored_size: int | None = None) -> bool:
        """Whether a new head is due: none yet, the last one is as old as the interval, or the log holds entries no
        head covers (``stored_size``: left by a hub killed before its head, or by the admin CLI)."""
        last = self._newest()
        size = self.tree.size if stored_size is None else stored_size
        if last is None or last.size != size:
            return True
        if self._stored_size != last.size and to_ms(now) - last.timestamp_ms >= STORE_HEAD_MS:
            return True  # the last head was only served: store one now that the log is quiet
        return to_ms(now) - last.timestamp_ms >= self.interval_ms

    def begin(self, uow: UnitOfWork) -> None:
        """At the start of a batch: add to the tree what another process (the admin CLI) appended, if the store says
        someone else committed; tell the unit of work the log's size, so that it need not ask."""
        if uow.committed_elsewhere:
            size = uow.audit_size()
            if size > self.tree.size:
                self.tree.extend(uow.audit_leaves(self.tree.size, size))
        uow.expect_audit_size(self.tree.size)

    def seal(self, uow: UnitOfWork, now: datetime) -> None:
        """Add this transaction's entries to the tree (``begin`` brought it up to date) and, when it grew or a head
        is due, make the head. Once a second it is also stored, signed, in this transaction."""
        appended = uow.recorded()
        tree = self.tree
        for entry in appended:
            tree.append(entry.leaf_hash)
        last = self._newest()  # not made, if nobody asked for it: this batch's head supersedes it
        grew = last is None or last.size != tree.size
        if not (grew or self.head_due(now)):
            return
        mark = Mark(tree.size, max(to_ms(now), last.timestamp_ms if last else 0))
        # Every batch's head may be served (made and signed when first asked for); one a second at most is stored,
        # signed here (a head served and not stored is still provably consistent with the next stored one, and
        # batches of one declaration each would otherwise write two more pages apiece).
        if self._stored_ms is None or mark.timestamp_ms - self._stored_ms >= STORE_HEAD_MS:
            signed = self._sign(mark)
            uow.insert_head(signed)
            self._storing = mark
            self._sealed = signed
        else:
            self._sealed = mark

    def committed(self) -> None:
        """The batch that ``seal`` made a head for is durable: its head may be served (``latest`` signs it first)."""
        sealed, self._sealed = self._sealed, None
        with self._signing:
            if isinstance(sealed, SignedHead):
                self._last_head, self._pending = sealed, None
            elif sealed is not None:
                self._pending = sealed
        if self._storing is not None:
            self._stored_size, self._stored_ms = self._storing
            self._storing = None

    def _newest(self) -> Mark | TreeHead | None:
        """The newest committed head, made or not (the writer's view: it never waits for a root or a signature)."""
        pending, last = self._pending, self._last_head
        return pending if pending is not None else (last.head if last is not None else None)

    def _sign(self, mark: Mark) -> SignedHead:
        """The head of the log's first ``mark.size`` leaves, signed. The tree only grows (a rolled-back batch's
        leaves are dropped by ``load``, which also drops the marks), so its root at that size is the batch's."""
        head = TreeHead(mark.size, self.tree.root(mark.size), mark.timestamp_ms)
        return SignedHead(head, sign_head(self.key, head))

    def latest(self) -> SignedHead | None:
        """The newest signed head of the committed log (what is served). Makes and signs the pending one first."""
        with self._signing:
            pending = self._pending
            if pending is not None:
                self._last_head, self._pending = self._sign(pending), None
            return self._last_head

    def receipts(self, entries: Sequence[LogEntry]) -> list[dict[str, Any]]:
        """The hub's signed word that each entry is in the log, signed now, together (a read: the inbox)."""
        batch = ReceiptBatch()
        out = [batch.add(entry) for entry in entries]
        batch.sign(self.key)
        return out


class ReceiptBatch:
    """The receipts one transaction hands out, signed together with one Ed25519 signature when it ends (see
    ``core.record.sign_receipt_batch``), not one per notice: a declaration that meets 25 others notifies 25 times.

    ``add`` returns the receipt's JSON object at once, for the events that carry it; ``sign`` completes every one
    of them in place (batch path and signature). The hub signs before the unit of work writes its events, which
    it does when it ends (``UnitOfWork.flush``): nothing may serialise a receipt before then."""

    def __init__(self) -> None:
        self._open: list[tuple[Receipt, dict[str, Any]]] = []

    def add(self, entry: LogEntry) -> dict[str, Any]:
        receipt = Receipt(entry.index, entry.leaf_hash, entry.at_ms)
        out = {"index": entry.index, "leaf_hash": entry.leaf_hash.hex(), "at": from_ms(entry.at_ms)}
        out["at_ms"] = entry.at_ms
        self._open.append((receipt, out))
        return out

    def sign(self, key: Ed25519PrivateKey) -> None:
        opened, self._open = self._open, []
        if not opened:
            return
        signature, paths = sign_receipt_batch(key, [r for r, _ in opened])
        size, text = len(opened), signature.hex()
        for position, ((_, out), path) in enumerate(zip(opened, paths, strict=True)):
            out["batch"] = {"size": size, "position": position, "path": [h.hex() for h in path]}
            out["signature"] = text
