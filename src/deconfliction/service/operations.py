"""Use cases on operations: declare, change, cancel, end; and what a caller may read of them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from deconfliction.core.disclosure import conflict_record, operation_public, same_side
from deconfliction.core.errors import Forbidden, InvalidTransition, InvalidVolume, NotFound, VersionConflict
from deconfliction.core.model import Conflict, ObjectType, Operation, Party, Resolution, Role
from deconfliction.core.record import Verbatim
from deconfliction.core.volumes import Volume4D
from deconfliction.service.conflicts import Subject, preview, reconcile
from deconfliction.service.hub import KIND_OPERATION, Hub, Tx
from deconfliction.store.port import UnitOfWork

CHECKED = "operation.checked"


@dataclass(frozen=True, slots=True)
class OperationDraft:
    volumes: tuple[Volume4D, ...]
    description: str | None = None
    callsign: str | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class OperationResult:
    operation: Operation
    conflicts: list[Conflict]
    public: dict[str, Any]  # the operation as its owner reads it at the change: what the record's entry shows


def require_party_role(caller: Party, what: str) -> None:
    if caller.role is not Role.PARTY:
        raise Forbidden(f"A monitor cannot {what}; monitors only read conflicts. Use a party's token.")


def _check_not_past(draft: OperationDraft, tx: Tx) -> None:
    for i, vol in enumerate(draft.volumes):
        if vol.time.end <= tx.now:
            raise InvalidVolume(
                f"volumes[{i}].time.end is in the past; declare volumes that end after now ({tx.now.isoformat()}).",
                {"field": f"volumes[{i}].time.end"},
            )


def _index(hub: Hub, op: Operation, group: str | None) -> None:
    for i, vol in enumerate(op.volumes):
        hub.index_volume((ObjectType.OPERATION, op.id, i), vol, op.party_id, group, KIND_OPERATION, op.priority)


def _unindex(hub: Hub, op: Operation) -> None:
    for i in range(len(op.volumes)):
        hub.index.remove((ObjectType.OPERATION, op.id, i))


def _log(hub: Hub, tx: Tx, kind: str, op: Operation, owner: Party) -> dict[str, Any]:
    """The operation's entry in the record, shown in full to its owner and coalition partners only; returns the
    entry's data, which is also what the owner is answered (built once, not once for each). The operation's
    volumes were validated, so the record writes it unchecked (``Verbatim.of``)."""
    public = operation_public(op, tx.now)
    tx.uow.record(tx.now, kind, op.id, Verbatim.of(public), hub.same_side_ids(owner))
    return public


def declare(hub: Hub, tx: Tx, caller: Party, draft: OperationDraft) -> OperationResult:
    require_party_role(caller, "declare operations")
    _check_not_past(draft, tx)
    op = Operation(
        id=hub.new_id("op", tx.now),
        party_id=caller.id,
        version=1,
        volumes=draft.volumes,
        created_at=tx.now,
        updated_at=tx.now,
        description=draft.description,
        callsign=draft.callsign,
        priority=draft.priority,
    )
    tx.uow.insert_operation(op)
    public = _log(hub, tx, "operation.declared", op, caller)
    subject = Subject(ObjectType.OPERATION, op.id, caller, op.volumes, priority=op.priority)
    conflicts = reconcile(hub, tx, subject, True, Resolution.CHANGED)
    _index(hub, op, caller.coalition_id)
    return OperationResult(op, conflicts, public)


def check(hub: Hub, tx: Tx, caller: Party, draft: OperationDraft) -> list[Conflict]:
    """The conflicts declaring ``draft`` now would open (a dry run), each with the check's id; nothing is stored.

    A check discloses what a declaration would, but tells nobody: so each party whose object it met gets an entry
    in the record it can read (who checked, when, and the overlap), and nobody maps others' plans without a trace.
    """
    require_party_role(caller, "check operations")
    _check_not_past(draft, tx)
    found = preview(hub, Subject(ObjectType.OPERATION, hub.new_id("chk", tx.now), caller, draft.volumes), tx.now)
    met: dict[str, list[Conflict]] = {}
    for conflict in found:
        met.setdefault(conflict.b.party_id, []).append(conflict)
    for party_id, conflicts in met.items():
        overlaps = [conflict_record(c, hub.secret) for c in conflicts]
        tx.uow.record(
            tx.now, CHECKED, conflicts[0].id, {"checked_by": caller.id, "overlaps": overlaps}, (caller.id, party_id)
        )
    return found


def _own_live(hub: Hub, tx: Tx, caller: Party, op_id: str, what: str) -> Operation:
    require_party_role(caller, what)
    op = tx.uow.operation(op_id)
    if op is None or op.party_id != caller.id:
        # Someone else's operation is reported exactly like a missing one: its existence is not disclosed.
        raise NotFound(f"No operation {op_id!r} of yours.", {"operation_id": op_id})
    if not op.is_live(tx.now):
        raise InvalidTransition(
            f"Operation {op_id!r} is {op.state(tx.now)}; only declared or active operations can {what}.",
            {"operation_id": op_id, "state": str(op.state(tx.now))},
        )
    return op


def update(hub: Hub, tx: Tx, caller: Party, op_id: str, if_match: int, draft: OperationDraft) -> OperationResult:
    op = _own_live(hub, tx, caller, op_id, "be changed")
    if op.version != if_match:
        raise VersionConflict(
            f"Operation {op_id!r} is at version {op.version}, not {if_match}; read it again and resend with "
            f"If-Match: {op.version}.",
            {"current_version": op.version},
        )
    _check_not_past(draft, tx)
    changed = replace(
        op,
        version=op.version + 1,
        volumes=draft.volumes,
        description=draft.description,
        callsign=draft.callsign,
        priority=draft.priority,
        updated_at=tx.now,
    )
    tx.uow.update_operation(changed)
    public = _log(hub, tx, "operation.changed", changed, caller)
    _unindex(hub, op)
    subject = Subject(ObjectType.OPERATION, op.id, caller, changed.volumes, priority=changed.priority)
    conflicts = reconcile(hub, tx, subject, False, Resolution.CHANGED)
    _index(hub, changed, caller.coalition_id)
    return OperationResult(changed, conflicts, public)


def _stop(hub: Hub, tx: Tx, caller: Party, op_id: str, cancel: bool) -> OperationResult:
    op = _own_live(hub, tx, caller, op_id, "be cancelled" if cancel else "be ended")
    stopped = replace(
        op,
        version=op.version + 1,
        updated_at=tx.now,
        cancelled=cancel,
        ended_at=None if cancel else tx.now,
    )
    tx.uow.update_operation(stopped)
    public = _log(hub, tx, "operation.cancelled" if cancel else "operation.ended", stopped, caller)
    _unindex(hub, op)
    reason = Resolution.CANCELLED if cancel else Resolution.ENDED
    reconcile(hub, tx, Subject(ObjectType.OPERATION, op.id, caller, ()), False, reason)
    return OperationResult(stopped, [], public)


def cancel(hub: Hub, tx: Tx, caller: Party, op_id: str) -> OperationResult:
    """Cancel before or during execution: every open conflict of the operation is resolved."""
    return _stop(hub, tx, caller, op_id, cancel=True)


def end(hub: Hub, tx: Tx, caller: Party, op_id: str) -> OperationResult:
    """End an active operation early: like a cancel, but the record says it happened."""
    return _stop(hub, tx, caller, op_id, cancel=False)


def readable(uow: UnitOfWork, caller: Party, op_id: str) -> Operation:
    """The owner and its coalition read an operation in full; to anyone else it does not exist."""
    op = uow.operation(op_id)
    if op is not None:
        if op.party_id == caller.id:
            return op
        owner = uow.party(op.party_id)
        if owner is not None and same_side(owner, caller):
            return op
    raise NotFound(f"No operation {op_id!r} that you may read.", {"operation_id": op_id})
