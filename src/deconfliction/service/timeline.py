"""The incident timeline: every logged step about one object, in order, for the hub's operator or an inquiry.

For an operation or a site: its own entries (declared, changed, cancelled…) and those of every conflict it was
ever in — opened, changed, each notice's deliveries to each endpoint, reads, acknowledgements (with their
signatures), escalations, resolution. For a conflict or a message: its own. Read from the log itself, so each
line can be proved with an inclusion proof against a signed head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from deconfliction.core.errors import NotFound
from deconfliction.core.record import LogEntry
from deconfliction.service.record import from_ms
from deconfliction.store.port import UnitOfWork


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    at: str
    kind: str
    subject: str | None
    party: str | None
    detail: str
    leaf_hash: str


def _detail(kind: str, data: dict[str, Any]) -> str:
    """What the step says, in a few words."""
    if kind.startswith(("operation.", "site.")):
        return f"version {data.get('version')}" + (f", {data['state']}" if data.get("state") else "")
    if kind.startswith("conflict."):
        parties = " × ".join(s["party_id"] for s in data.get("sides", []))
        acks = [a for a in data.get("acknowledgements", []) if a.get("revision") == data.get("revision")]
        signed = sum(1 for a in acks if a.get("signature"))
        tail = f", {len(acks)} acknowledged ({signed} signed)" if acks else ""
        return f"{parties}: {data.get('status')} revision {data.get('revision')}{tail}"
    if kind == "notice.delivered":
        return f"to {data.get('party_id')} endpoint {data.get('endpoint_ref')} (event {data.get('seq')})"
    if kind == "notice.read":
        return f"read by {data.get('party_id')} at endpoint {data.get('endpoint_ref')}"
    if kind == "notice.acknowledged":
        by = f" at endpoint {data['endpoint_ref']}" if data.get("endpoint_ref") else ""
        note = f": {data['note']!r}" if data.get("note") else ""
        return f"by {data.get('party_id')}{by}{note}"
    if kind == "notice.escalated":
        return f"{data.get('recipient_id')} missed {data.get('missed_deadline_at')}: step {data.get('step')}"
    if kind == "message.sent":
        return f"from {data.get('from', {}).get('id')} to {', '.join(data.get('to', []))}, {data.get('priority')}"
    return ", ".join(f"{k}={v}" for k, v in sorted(data.items()) if isinstance(v, str | int) and k != "salt")


def _party(data: dict[str, Any]) -> str | None:
    for key in ("party_id", "recipient_id"):
        if isinstance(data.get(key), str):
            return str(data[key])
    sender = data.get("from")
    return sender.get("id") if isinstance(sender, dict) else None


def _step(entry: LogEntry) -> Step:
    doc = orjson.loads(entry.document)
    data = doc.get("data", {})
    return Step(
        index=entry.index,
        at=from_ms(entry.at_ms),
        kind=entry.kind,
        subject=entry.subject,
        party=_party(data),
        detail=_detail(entry.kind, data),
        leaf_hash=entry.leaf_hash.hex(),
    )


def timeline(uow: UnitOfWork, object_id: str) -> list[Step]:
    """Every entry about ``object_id`` and the conflicts it was in, in log order."""
    subjects = [object_id, *uow.conflict_ids_of(object_id)]
    entries = uow.audit_about(subjects)
    if not entries:
        raise NotFound(f"The record has nothing about {object_id!r}; give an operation, site, conflict or message id.")
    return [_step(e) for e in entries]
