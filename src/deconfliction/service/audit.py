"""Exporting what one party may see of the record, as a bundle it can check alone (``core/bundle.py``).

A bundle holds every entry up to the latest signed head (later entries are not yet covered by a signature, so
they wait for the next bundle), each entry's public part, the documents the party may read, the signed heads
thinned to at most ``max_heads`` and a consistency proof between each two consecutive heads it keeps.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime
from typing import Any

from deconfliction.core.bundle import BUNDLE_FORMAT
from deconfliction.core.disclosure import iso_z
from deconfliction.core.errors import InvalidInput, NotFound
from deconfliction.core.merkle import MerkleLog
from deconfliction.core.record import SignedHead, key_to_hex
from deconfliction.service.record import entry_json, head_json, hub_key
from deconfliction.store.port import UnitOfWork

_CHUNK = 10_000


def thin_heads(heads: list[SignedHead], max_heads: int) -> list[SignedHead]:
    """At most ``max_heads`` of ``heads`` (oldest first), spread evenly by size, the first and last always kept.

    At each of ``max_heads`` sizes evenly spaced between the first head's and the last's, the first head to reach
    it is kept: a quiet log's many heads of one size collapse to one.
    """
    if len(heads) <= max_heads:
        return list(heads)
    sizes = [h.head.size for h in heads]
    first, last = sizes[0], sizes[-1]
    picks = {0, len(heads) - 1}
    for j in range(1, max_heads - 1):
        picks.add(bisect_left(sizes, first + (last - first) * j // (max_heads - 1), 0, len(heads) - 1))
    return [heads[i] for i in sorted(picks)]


def _proofs(heads: list[SignedHead], tree: MerkleLog) -> list[dict[str, Any]]:
    proofs = []
    for a, b in zip(heads, heads[1:], strict=False):
        s1, s2 = a.head.size, b.head.size
        # A store tampered with can hold heads no proof joins (sizes backwards, past its entries): left out, the
        # verifier reports them.
        if s1 <= s2 <= tree.size:
            proofs.append({"from": s1, "to": s2, "proof": [p.hex() for p in tree.consistency_proof(s1, s2)]})
    return proofs


def export_bundle(uow: UnitOfWork, party_id: str, max_heads: int = 1000, now: datetime | None = None) -> dict[str, Any]:
    """The bundle of party ``party_id`` (``core/bundle.py`` describes it), paging through the log in chunks."""
    if uow.party(party_id) is None:
        raise NotFound(f"No party with id {party_id!r}: export the record for a party the hub knows.")
    if max_heads < 2:
        raise InvalidInput(f"max_heads must be at least 2 (the first and last heads are always kept), got {max_heads}.")
    # The last head read is the bundle's end: entries are committed before (or with) the head that covers them.
    all_heads = uow.audit_heads()
    if not all_heads:
        raise NotFound("The record has no signed tree head yet: start the hub once, and it signs one.")
    size = all_heads[-1].head.size
    entries: list[dict[str, Any]] = []
    leaves: list[bytes] = []
    start = 0
    while start < size:
        page = uow.audit_entries(start, min(_CHUNK, size - start))
        for e in page:
            if e.index >= size:
                break
            entries.append(entry_json(e, party_id))
            leaves.append(e.leaf_hash)
        if not page:
            break
        start = page[-1].index + 1
    heads = thin_heads(all_heads, max_heads)
    try:
        tree = MerkleLog.from_leaf_hashes(leaves)
    except ValueError:  # a leaf hash of the wrong length (a tampered store): no proofs; the verifier names it
        tree = MerkleLog()
    return {
        "format": BUNDLE_FORMAT,
        "party_id": party_id,
        "hub_key": key_to_hex(hub_key(uow).public_key()),
        "exported_at": iso_z(now or datetime.now(UTC)),
        "size": size,
        "entries": entries,
        "heads": [head_json(h) for h in heads],
        "consistency": _proofs(heads, tree),
    }
