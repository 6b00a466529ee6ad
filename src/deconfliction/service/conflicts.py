"""Strategic detection and the life of a conflict: opened, changed, resolved, acknowledged, expired."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from deconfliction.core.errors import NotFound
from deconfliction.core.index import Candidate
from deconfliction.core.model import (
    Acknowledgement,
    Conflict,
    ConflictKind,
    ObjectRef,
    ObjectType,
    Party,
    Resolution,
)
from deconfliction.core.volumes import Volume4D, volumes_overlap
from deconfliction.service.hub import KIND_OPERATION, KIND_SITE, Hub, Tx
from deconfliction.service.notices import acknowledge_notice, owed_for_conflict
from deconfliction.service.party_keys import CONFLICT_NOTICES, SignedAck, check_signed_ack

OPENED = "conflict.opened"
CHANGED = "conflict.changed"
RESOLVED = "conflict.resolved"
ACKNOWLEDGED = "conflict.acknowledged"


@dataclass(frozen=True, slots=True)
class Subject:
    """The object being checked, with the volumes it has now (none when it is cancelled, ended or withdrawn)."""

    type: ObjectType
    id: str
    party: Party
    volumes: tuple[Volume4D, ...]
    recipients: frozenset[str] | None = None  # sites only
    priority: int | None = None  # operations only

    def ref(self, volume: int) -> ObjectRef:
        return ObjectRef(self.type, self.id, self.party.id, volume)


def _notified(recipients: frozenset[str] | None, party_id: str) -> bool:
    return recipients is None or party_id in recipients


def _candidates(hub: Hub, subject: Subject) -> dict[tuple[int, ObjectRef], Candidate]:
    """Every (my volume, other volume) pair the index cannot rule out, with the other volume as a candidate."""
    kinds = (KIND_OPERATION, KIND_SITE) if subject.type is ObjectType.OPERATION else (KIND_OPERATION,)
    group = None if hub.settings.coalition_conflicts else subject.party.coalition_id
    found: dict[tuple[int, ObjectRef], Candidate] = {}
    for i, vol in enumerate(subject.volumes):
        for cand in hub.index.candidates(vol, hub.buffers, subject.party.id, group, kinds):
            other_type, other_id, other_volume = ObjectType(cand.key[0]), cand.key[1], cand.key[2]
            if subject.type is ObjectType.SITE:
                allowed = _notified(subject.recipients, cand.owner)
            else:
                allowed = other_type is ObjectType.OPERATION or _notified(
                    hub.site_recipients.get(other_id), subject.party.id
                )
            if allowed:
                found[(i, ObjectRef(other_type, other_id, cand.owner, other_volume))] = cand
    return found


def _new_conflict(
    hub: Hub, subject: Subject, volume: int, other: ObjectRef, other_volume: Volume4D, now: datetime
) -> Conflict | None:
    """The conflict between the subject's ``volume`` and ``other`` (with the subject's id), or None: no overlap."""
    mine = subject.ref(volume)
    # Operation × site conflicts always hold the operation as ``a``.
    subject_first = subject.type is ObjectType.OPERATION
    a, b = (mine, other) if subject_first else (other, mine)
    va, vb = (subject.volumes[volume], other_volume) if subject_first else (other_volume, subject.volumes[volume])
    overlap = volumes_overlap(va, vb, hub.buffers)
    if overlap is None:
        return None
    both_ops = a.type is ObjectType.OPERATION and b.type is ObjectType.OPERATION
    kind = ConflictKind.OPERATION_OPERATION if both_ops else ConflictKind.OPERATION_SITE
    return Conflict(id=subject.id, kind=kind, a=a, b=b, overlap=overlap, created_at=now, updated_at=now)


def preview(hub: Hub, subject: Subject, now: datetime) -> list[Conflict]:
    """The conflicts that storing ``subject`` now would open, each carrying the subject's id; nothing is stored."""
    pairs = _candidates(hub, subject).items()
    found = (_new_conflict(hub, subject, v, other, cand.volume, now) for (v, other), cand in pairs)
    return [c for c in found if c is not None]


def reconcile(hub: Hub, tx: Tx, subject: Subject, fresh: bool, reason: Resolution) -> list[Conflict]:
    """Bring the subject's conflicts in line with its volumes; returns its open conflicts afterwards.

    Pairs that no longer overlap are resolved with ``reason``; pairs whose overlap moved get a new revision (their
    acknowledgements then no longer count); new pairs open new conflicts. Each change is published to both parties.
    """
    found = _candidates(hub, subject) if subject.volumes else {}
    current = [] if fresh else tx.uow.open_conflicts_of(subject.type, subject.id)
    still_open: list[Conflict] = []
    # The operations' priorities set the new notices' deadlines: the index hands them over with the candidates (a
    # query would read the operations' rows from all over the table, one page each).
    priorities = {other.id: c.priority for (_, other), c in found.items() if other.type is ObjectType.OPERATION}
    if subject.type is ObjectType.OPERATION:
        priorities[subject.id] = subject.priority
    owed = []  # acknowledgements owed on new conflicts, stored together at the end
    for conflict in current:
        mine_is_a = conflict.a.type is subject.type and conflict.a.id == subject.id
        mine, other = (conflict.a, conflict.b) if mine_is_a else (conflict.b, conflict.a)
        cand = found.pop((mine.volume, other), None)
        overlap = None
        if cand is not None:
            my_volume = subject.volumes[mine.volume]
            pair = (my_volume, cand.volume) if mine_is_a else (cand.volume, my_volume)
            overlap = volumes_overlap(*pair, hub.buffers)
        if overlap is None:
            resolved = replace(conflict, resolved_at=tx.now, updated_at=tx.now, resolution=reason)
            tx.uow.update_conflict(resolved)
            hub.publish(tx, RESOLVED, resolved)
            tx.uow.close_notices(resolved.id, tx.now)
        elif overlap != conflict.overlap:
            changed = replace(conflict, overlap=overlap, revision=conflict.revision + 1, updated_at=tx.now)
            tx.uow.update_conflict(changed)
            tx.uow.delete_deliveries(changed.id)  # a moved overlap is a new notice, delivered afresh
            hub.publish(tx, CHANGED, changed, notify=True)
            stored = {n.party_id for n in tx.uow.notices_of(changed.id)}  # none for conflicts older than the line
            for notice in owed_for_conflict(hub, tx, changed, priorities):
                (tx.uow.update_notice if notice.party_id in stored else tx.uow.insert_notice)(notice)
            still_open.append(changed)
        else:
            still_open.append(conflict)
    for (volume, other), cand in found.items():
        found_one = _new_conflict(hub, subject, volume, other, cand.volume, tx.now)
        if found_one is None:
            continue
        conflict = replace(found_one, id=hub.new_id("cf", tx.now))
        tx.uow.insert_conflict(conflict)
        hub.publish(tx, OPENED, conflict, notify=True)
        owed.extend(owed_for_conflict(hub, tx, conflict, priorities))
        still_open.append(conflict)
    tx.uow.insert_notices(owed)
    return still_open


def visible_conflict(hub: Hub, tx: Tx, caller: Party, conflict_id: str) -> Conflict:
    conflict = tx.uow.conflict(conflict_id)
    if conflict is None or hub.view(conflict, caller) is None:
        raise NotFound(f"No conflict {conflict_id!r} among those you are party to.", {"conflict_id": conflict_id})
    return conflict


def acknowledge(
    hub: Hub,
    tx: Tx,
    caller: Party,
    conflict_id: str,
    note: str | None,
    signed: SignedAck | None,
    endpoint_id: str | None = None,
) -> Conflict:
    """Record that ``caller`` (through ``endpoint_id``, if an endpoint) received and understood the conflict as it
    stands. Never an approval."""
    conflict = visible_conflict(hub, tx, caller, conflict_id)
    if caller.id not in conflict.party_ids:
        raise NotFound(f"No conflict {conflict_id!r} among those you are party to.", {"conflict_id": conflict_id})
    key_id = None
    if signed is not None:  # checked before anything is written
        key_id = check_signed_ack(tx, caller, conflict.id, conflict.revision, CONFLICT_NOTICES, signed)
    acknowledge_notice(hub, tx, conflict.id, caller.id, endpoint_id, note)
    if any(a.party_id == caller.id for a in conflict.current_acknowledgements()):
        return conflict  # already acknowledged at this revision: acknowledging twice changes nothing
    ack = Acknowledgement(
        party_id=caller.id,
        at=tx.now,
        revision=conflict.revision,
        note=note,
        signature=signed.signature.lower() if signed else None,
        key_id=key_id,
        signed_at=signed.signed_at if signed else None,
    )
    tx.uow.insert_acknowledgement(conflict.id, ack)
    acknowledged = replace(conflict, acknowledgements=(*conflict.acknowledgements, ack), updated_at=tx.now)
    tx.uow.update_conflict(acknowledged)
    hub.publish(tx, ACKNOWLEDGED, acknowledged)
    return acknowledged


def expire(hub: Hub, tx: Tx) -> int:
    """End conflicts whose overlap lies in the past and drop ended volumes from the index."""
    expired = tx.uow.open_conflicts_ending_by(tx.now)
    for conflict in expired:
        resolved = replace(conflict, resolved_at=tx.now, updated_at=tx.now, resolution=Resolution.EXPIRED)
        tx.uow.update_conflict(resolved)
        hub.publish(tx, RESOLVED, resolved)
        tx.uow.close_notices(resolved.id, tx.now)
    for key in hub.index.remove_ended(tx.now.timestamp()):
        if key[0] == ObjectType.SITE:
            hub.site_recipients.pop(key[1], None)
    return len(expired)
