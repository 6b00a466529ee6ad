"""Launch ``deconfliction serve`` for ``bench/record.py``, optionally with the record switched off.

    .venv/bin/python -m bench.record_hub [--no-record] serve --db PATH --port N

Without ``--no-record`` this is exactly the CLI (``deconfliction.cli.app``), so that both hubs of the comparison
start through the same launcher. With ``--no-record`` it first replaces, in this process only:

* ``AuditQueries.record`` (``store/sql_audit.py``): returns a ``LogEntry`` with the next index and a fixed leaf
  hash, and neither builds the salted document nor inserts a row;
* ``AuditLog.begin`` (``service/record.py``): nothing (when another process committed, the log's size is not
  asked);
* ``AuditLog.seal``: nothing (no tree append, no root, no head made, signed or stored);
* ``ReceiptBatch.sign``: the same receipt shape with a fixed path of the right length and a fixed signature (no
  Merkle tree over the transaction's receipts, no Ed25519 signature), so that the events a notice carries are as
  long as with the record on;
* ``AuditLog.load``: reads the key only, not the leaf hashes (a hub without a record holds no tree);
* ``conflict_record`` in ``service/hub.py``, which there only builds the document the record logs: an empty dict.
  (An operation's entry shows what its owner is answered, built once for both: the spine builds it anyway.)

What is left is the spine the record was added to: the declaration's own rows, the conflicts, events and notices.
This is a benchmark's instrument, not a setting: the product has no way to switch its record off.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

_FAKE_LEAF = bytes(32)
_FAKE_SIGNATURE = "00" * 64
_FAKE_HASH = "00" * 32


def _path_length(position: int, size: int) -> int:
    """How many hashes the RFC 9162 path of leaf ``position`` in a tree of ``size`` leaves holds."""
    n = 0
    while size > 1:
        k = 1 << ((size - 1).bit_length() - 1)  # the largest power of two below size
        position, size = (position, k) if position < k else (position - k, size - k)
        n += 1
    return n


def switch_record_off() -> None:
    from deconfliction.core.record import LogEntry, to_ms
    from deconfliction.service.record import AuditLog, ReceiptBatch, hub_key
    from deconfliction.store.port import Store
    from deconfliction.store.sql_audit import AuditQueries

    next_index = [0]

    def record(
        self: AuditQueries,
        at: datetime,
        kind: str,
        subject: str | None,
        data: Mapping[str, Any],
        visible: Iterable[str] | None,
    ) -> LogEntry:
        index = next_index[0]
        next_index[0] += 1
        shown = frozenset(visible) if visible is not None else None
        return LogEntry(index, to_ms(at), kind, subject, shown, b"", _FAKE_LEAF)

    def begin(self: AuditLog, uow: Any) -> None:
        return None

    def seal(self: AuditLog, uow: Any, now: datetime) -> None:
        return None

    def sign(self: ReceiptBatch, key: Any) -> None:
        opened, self._open = self._open, []
        for i, (_, out) in enumerate(opened):
            path = [_FAKE_HASH] * _path_length(i, len(opened))
            out["batch"] = {"size": len(opened), "position": i, "path": path}
            out["signature"] = _FAKE_SIGNATURE

    def load(self: AuditLog, store: Store) -> None:
        from deconfliction.core.record import key_to_hex

        with store.write() as uow:
            self.key = hub_key(uow)
        self.public_key_hex = key_to_hex(self.key.public_key())
        with store.read() as uow:
            next_index[0] = uow.audit_size()

    import deconfliction.service.hub as hub_module

    hub_module.conflict_record = lambda conflict, secret, common=None: {}  # type: ignore[attr-defined]
    AuditQueries.record = record  # type: ignore[method-assign]
    AuditLog.begin = begin  # type: ignore[method-assign]
    AuditLog.seal = seal  # type: ignore[method-assign]
    ReceiptBatch.sign = sign  # type: ignore[method-assign]
    AuditLog.load = load  # type: ignore[method-assign]


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--no-record"]:
        args = args[1:]
        switch_record_off()
    from deconfliction.cli import app

    app(args=args, prog_name="deconfliction")


if __name__ == "__main__":
    main()
