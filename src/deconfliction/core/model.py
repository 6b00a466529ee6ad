"""The domain: parties, operations, protected sites and the conflicts between them.

Frozen dataclasses only; storage rows live in ``store/`` and wire schemas in ``api/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from deconfliction.core.volumes import Overlap, TimeWindow, Volume4D


class Role(StrEnum):
    PARTY = "party"
    MONITOR = "monitor"


class OperationState(StrEnum):
    DECLARED = "declared"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


class ConflictKind(StrEnum):
    OPERATION_OPERATION = "operation-operation"
    OPERATION_SITE = "operation-site"


class ConflictStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    CHANGED = "changed"  # an edit removed the overlap
    CANCELLED = "cancelled"
    ENDED = "ended"  # an operation was ended early
    EXPIRED = "expired"  # the overlap's time window has passed
    WITHDRAWN = "withdrawn"  # a protected site was withdrawn


class ObjectType(StrEnum):
    OPERATION = "operation"
    SITE = "site"


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    role: Role
    coalition_id: str | None = None
    language: str = "en"  # the language templates are rendered in for it


@dataclass(frozen=True, slots=True)
class Coalition:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Operation:
    """A party's declared intent: one or more 4D volumes. Description, callsign and priority stay with the owner."""

    id: str
    party_id: str
    version: int
    volumes: tuple[Volume4D, ...]
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    callsign: str | None = None
    priority: int | None = None
    cancelled: bool = False
    ended_at: datetime | None = None  # set when the owner ends it early

    @property
    def window(self) -> TimeWindow:
        return TimeWindow(start=min(v.time.start for v in self.volumes), end=max(v.time.end for v in self.volumes))

    def state(self, now: datetime) -> OperationState:
        """The lifecycle is derived from time, except for the owner's explicit cancel or early end."""
        if self.cancelled:
            return OperationState.CANCELLED
        if self.ended_at is not None or now >= self.window.end:
            return OperationState.ENDED
        if now >= self.window.start:
            return OperationState.ACTIVE
        return OperationState.DECLARED

    def is_live(self, now: datetime) -> bool:
        return self.state(now) in (OperationState.DECLARED, OperationState.ACTIVE)


@dataclass(frozen=True, slots=True)
class Site:
    """A protected site (hospital, school, aid warehouse, convoy route…) notified to its recipients."""

    id: str
    party_id: str
    version: int
    name: str
    category: str
    volume: Volume4D  # altitude None: protected from the surface up
    created_at: datetime
    recipients: frozenset[str] | None = None  # None: every party
    withdrawn: bool = False

    def notified_to(self, party_id: str) -> bool:
        return self.recipients is None or party_id in self.recipients

    def is_live(self, now: datetime) -> bool:
        return not self.withdrawn and now < self.volume.time.end


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One side of a conflict: which object, whose, and which of its volumes."""

    type: ObjectType
    id: str
    party_id: str
    volume: int


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """ "Received and understood" — never approval."""

    party_id: str
    at: datetime
    revision: int
    note: str | None = None
    signature: str | None = None  # the party's Ed25519 signature (hex) over core.record.ack_digest
    key_id: str | None = None
    signed_at: datetime | None = None  # the time the party put in what it signed


@dataclass(frozen=True, slots=True)
class Conflict:
    """An overlap between a volume of ``a`` and a volume of ``b`` (different parties).

    ``revision`` grows each time the overlap changes; acknowledgements count for the revision they were made on.
    """

    id: str
    kind: ConflictKind
    a: ObjectRef
    b: ObjectRef
    overlap: Overlap
    created_at: datetime
    updated_at: datetime
    revision: int = 1
    resolved_at: datetime | None = None
    resolution: Resolution | None = None
    acknowledgements: tuple[Acknowledgement, ...] = field(default=())

    @property
    def party_ids(self) -> tuple[str, str]:
        return (self.a.party_id, self.b.party_id)

    def current_acknowledgements(self) -> tuple[Acknowledgement, ...]:
        return tuple(a for a in self.acknowledgements if a.revision == self.revision)

    @property
    def status(self) -> ConflictStatus:
        if self.resolved_at is not None:
            return ConflictStatus.RESOLVED
        acked = {a.party_id for a in self.current_acknowledgements()}
        if set(self.party_ids) <= acked:
            return ConflictStatus.ACKNOWLEDGED
        return ConflictStatus.OPEN

    def side_of(self, party_id: str) -> tuple[ObjectRef, ObjectRef] | None:
        """(the caller's side, the other side), or None when the caller is not party to it."""
        if self.a.party_id == party_id:
            return self.a, self.b
        if self.b.party_id == party_id:
            return self.b, self.a
        return None
