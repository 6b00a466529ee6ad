"""Checking a party's copy of the record with nothing but the hub's public key: audit bundles and split views.

A **bundle** (``deconfliction-audit-bundle/1``) is what one party may see of the log, as JSON::

    {"format": "deconfliction-audit-bundle/1", "party_id": str, "hub_key": <64 hex>, "exported_at": RFC 3339 Z,
     "size": N,
     "entries": [{"index": i, "at_ms": int, "leaf_hash": <64 hex>, "document"?: str}, ...]   i = 0 .. N-1
     "heads": [{"size", "root_hash", "timestamp_ms", "timestamp", "signature"}, ...]  oldest first, last of size N
     "consistency": [{"from": s1, "to": s2, "proof": [<64 hex>, ...]}, ...]  between consecutive heads}

``document`` (the entry's salted canonical JSON, exactly as committed) is present only for entries the party may
read; of the others it holds the public part, whose leaf hash is all the tree needs. ``verify_bundle`` rebuilds
the tree once from every leaf hash and checks, each against what the hub signed:

* the entries run 0, 1, … N-1 with no gap, duplicate or reordering, and there are exactly as many as the last
  head's size (fewer: truncated; more: not covered by any signature);
* every disclosed document hashes to its leaf and names its own position and time (``index``, ``at_ms``);
* every head is signed by the hub's key, sizes and timestamps never go backwards, the root recomputed at each
  head's size is the head's root, and each consistency proof between consecutive heads verifies;
* every head the party saved earlier (``known_heads``) matches the root recomputed at its size: if not, the log
  it saw was rewritten and re-signed since — a fork.

A failure names the **first bad index**. It is exact when the evidence is one entry (a document, a gap). A leaf
hash the party cannot read is only pinned by the roots: the first head whose root no longer matches says some
entry between the previous head's size and its own changed, and the report gives that range's lower bound
(``exact`` is false). When several checks fail, the report leads with the one that proves a failure earliest:
the smallest index proven bad, or a range that ends before it (every problem found is listed in ``problems``).

``fork_between`` is the split-view check for two heads that two parties (or one party, at two times) were given:
both validly signed, the same size and different roots, or a consistency proof between them that fails, means
the hub showed two different logs. Nothing here reads a clock or a file: callers parse JSON and pass mappings.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from deconfliction.core.merkle import HASH_SIZE, MerkleLog, verify_consistency
from deconfliction.core.record import (
    SIGNATURE_SIZE,
    Receipt,
    SignedHead,
    SignedReceipt,
    TreeHead,
    document_leaf_hash,
    public_key_from_hex,
    to_ms,
    verify_head,
)

BUNDLE_FORMAT = "deconfliction-audit-bundle/1"
_HEX = 2 * HASH_SIZE


class BundleError(ValueError):
    """A bundle, head or proof that is not even well-formed; ``index``: the entry at fault, when there is one."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


@dataclass(frozen=True, slots=True)
class Report:
    """What ``verify_bundle`` found. ``first_bad_index``: the first entry that cannot be trusted (``None`` when
    the failure is not about one entry); ``exact`` false: it is the lower bound of a range the message names."""

    ok: bool
    message: str
    first_bad_index: int | None = None
    exact: bool = True
    fork: bool = False
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class _Problem:
    # Ordered by the latest index at which it proves something went wrong, exact evidence before ranges.
    upper: int
    ranged: bool
    rank: int
    lo: int = field(compare=False)
    message: str = field(compare=False)
    fork: bool = field(default=False, compare=False)


def _exact(index: int, message: str, rank: int = 0) -> _Problem:
    return _Problem(index, False, rank, index, message)


def _ranged(lo: int, hi: int, message: str, rank: int, fork: bool = False) -> _Problem:
    return _Problem(max(lo, hi - 1), True, rank, lo, message, fork)


# --- Parsing -----------------------------------------------------------------------------------------------------


def _hex_bytes(value: object, size: int, what: str) -> bytes:
    if isinstance(value, str) and len(value) == 2 * size:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise BundleError(f"{what} must be {2 * size} hex digits, got {value!r:.80}")


def _uint(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise BundleError(f"{what} must be a non-negative integer, got {value!r:.40}")
    return value


def head_from_json(value: object, what: str = "head") -> SignedHead:
    """A signed head from its JSON (as ``GET /v1/audit/head`` serves it, or wrapped as ``{"head": {...}}``).

    ``timestamp`` is a readable copy of the signed ``timestamp_ms``; when present it must say the same.
    """
    if isinstance(value, Mapping) and "size" not in value and isinstance(value.get("head"), Mapping):
        value = value["head"]
    if not isinstance(value, Mapping):
        raise BundleError(f"{what} is not a JSON object")
    size = _uint(value.get("size"), f"{what}.size")
    stamp = _uint(value.get("timestamp_ms"), f"{what}.timestamp_ms")
    root = _hex_bytes(value.get("root_hash"), HASH_SIZE, f"{what}.root_hash")
    signature = _hex_bytes(value.get("signature"), SIGNATURE_SIZE, f"{what}.signature")
    try:
        head = TreeHead(size, root, stamp)
    except ValueError as exc:
        raise BundleError(f"{what}: {exc}") from exc
    readable = value.get("timestamp")
    if readable is not None and _readable_ms(readable) != stamp:
        raise BundleError(f"{what}.timestamp {readable!r} does not say the signed timestamp_ms {stamp}")
    return SignedHead(head, signature)


def receipt_from_json(value: object, what: str = "receipt") -> SignedReceipt:
    """A notice's receipt from its JSON (``receipt`` in an event or in ``GET /v1/notices``); ``at`` is a readable
    copy of the signed ``at_ms`` and must say the same when present."""
    if not isinstance(value, Mapping) or not isinstance(value.get("batch"), Mapping):
        raise BundleError(f"{what} is not a JSON object with a batch")
    batch, path = value["batch"], value["batch"].get("path")
    if not isinstance(path, list):
        raise BundleError(f"{what}.batch.path must be a list of hashes")
    receipt = Receipt(
        _uint(value.get("index"), f"{what}.index"),
        _hex_bytes(value.get("leaf_hash"), HASH_SIZE, f"{what}.leaf_hash"),
        _uint(value.get("at_ms"), f"{what}.at_ms"),
    )
    readable = value.get("at")
    if readable is not None and _readable_ms(readable) != receipt.at_ms:
        raise BundleError(f"{what}.at {readable!r} does not say the signed at_ms {receipt.at_ms}")
    return SignedReceipt(
        receipt,
        _uint(batch.get("size"), f"{what}.batch.size"),
        _uint(batch.get("position"), f"{what}.batch.position"),
        tuple(_hex_bytes(h, HASH_SIZE, f"{what}.batch.path[{i}]") for i, h in enumerate(path)),
        _hex_bytes(value.get("signature"), SIGNATURE_SIZE, f"{what}.signature"),
    )


def _readable_ms(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if moment.tzinfo is None else to_ms(moment)


def _proofs(value: object) -> dict[tuple[int, int], list[bytes]]:
    if not isinstance(value, list):
        raise BundleError("consistency must be a list of {from, to, proof}")
    proofs: dict[tuple[int, int], list[bytes]] = {}
    for i, item in enumerate(value):
        what = f"consistency[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("proof"), list):
            raise BundleError(f"{what} must be an object with from, to and a proof list")
        key = (_uint(item.get("from"), f"{what}.from"), _uint(item.get("to"), f"{what}.to"))
        proofs[key] = [_hex_bytes(h, HASH_SIZE, f"{what}.proof[{j}]") for j, h in enumerate(item["proof"])]
    return proofs


def _column(entries: list[Any], name: str) -> list[Any]:
    """Field ``name`` of every entry, in one pass; a malformed entry is named."""
    try:
        return [e[name] for e in entries]
    except (KeyError, TypeError, IndexError):
        for p, e in enumerate(entries):
            if not isinstance(e, Mapping) or name not in e:
                raise BundleError(f"entry at position {p} has no {name!r}", p) from None
        raise


def _leaf_bytes(hexes: list[Any]) -> bytes:
    """Every leaf hash, concatenated: one C-level pass when they are all well-formed (the common case)."""
    try:
        if set(map(len, hexes)) <= {_HEX}:
            raw = bytes.fromhex("".join(hexes))
            if len(raw) == HASH_SIZE * len(hexes):
                return raw
    except (TypeError, ValueError):
        pass
    for p, h in enumerate(hexes):
        try:
            _hex_bytes(h, HASH_SIZE, f"entry {p}: leaf_hash")
        except BundleError as exc:
            raise BundleError(exc.message, p) from None
    raise BundleError("leaf hashes are malformed")  # not reached: one of them failed above


# --- The checks --------------------------------------------------------------------------------------------------


def _check_sequence(indices: list[Any]) -> list[_Problem]:
    if set(map(type, indices)) <= {int} and indices == list(range(len(indices))):
        return []
    for p, i in enumerate(indices):
        if type(i) is not int:
            raise BundleError(f"entry at position {p} has index {i!r:.40}, not an integer", p)
        if i > p:
            return [_exact(p, f"entry {p} is missing: position {p} holds entry {i} (entries deleted or reordered)")]
        if i < p:
            return [_exact(i, f"entry {i} appears again at position {p} (an entry inserted, duplicated or moved)")]
    return []


def _check_documents(entries: list[Any], leaves: bytes, at_ms: list[Any]) -> tuple[int, list[_Problem]]:
    shown = [p for p, e in enumerate(entries) if "document" in e]
    for p in shown:
        document = entries[p]["document"]
        if not isinstance(document, str):
            return len(shown), [_exact(p, f"entry {p}: its document is not a JSON string")]
        raw = document.encode()
        if not hmac.compare_digest(document_leaf_hash(raw), leaves[p * HASH_SIZE : (p + 1) * HASH_SIZE]):
            return len(shown), [_exact(p, f"entry {p}: its document does not hash to its leaf hash (changed)")]
        try:
            inner = orjson.loads(raw)
        except orjson.JSONDecodeError:
            inner = None
        if not isinstance(inner, dict) or inner.get("index") != p:
            said = inner.get("index") if isinstance(inner, dict) else None
            return len(shown), [_exact(p, f"entry {p}: its document says it is entry {said!r} (moved)")]
        if inner.get("at_ms") != at_ms[p]:
            return len(shown), [_exact(p, f"entry {p}: at_ms {at_ms[p]} differs from its document's time")]
    return len(shown), []


def _check_heads(
    heads: list[SignedHead], key: Ed25519PublicKey, tree: MerkleLog, proofs: dict[tuple[int, int], list[bytes]]
) -> list[_Problem]:
    problems: list[_Problem] = []
    matched = 0  # the largest size at which a signed root matched the entries
    root_failed = False
    for k, signed in enumerate(heads):
        h = signed.head
        name = f"head #{k} (size {h.size})"
        prev = heads[k - 1].head if k else None
        lo = prev.size if prev else 0
        if not verify_head(key, h, signed.signature):
            problems.append(_ranged(lo, h.size, f"{name}: bad signature — altered, or signed with another key", 0))
        if prev and h.size < prev.size:
            problems.append(_ranged(h.size, prev.size, f"{name} is smaller than head #{k - 1} ({prev.size})", 1))
        if prev and h.timestamp_ms < prev.timestamp_ms:
            problems.append(_ranged(lo, h.size, f"{name}: its timestamp goes back before head #{k - 1}'s", 1))
        if not root_failed and h.size <= tree.size:
            if hmac.compare_digest(tree.root(h.size), h.root_hash):
                matched = max(matched, h.size)
            else:
                root_failed = True
                problems.append(
                    _ranged(
                        min(matched, h.size),
                        h.size,
                        f"the entries do not give {name}'s root: a leaf hash between {min(matched, h.size)} and"
                        f" {h.size - 1} was changed (a range: those leaves are only pinned by the signed roots)",
                        2,
                    )
                )
        if prev and prev.size <= h.size:
            proof = proofs.get((prev.size, h.size), [] if prev.size == h.size else None)
            if proof is None:
                problems.append(_ranged(lo, h.size, f"no consistency proof from size {lo} to {h.size}", 3))
            elif not verify_consistency(prev.size, h.size, prev.root_hash, h.root_hash, proof):
                problems.append(_ranged(lo, h.size, f"the consistency proof from size {lo} to {h.size} fails", 3))
    return problems


def _check_known(known: list[SignedHead], key: Ed25519PublicKey, tree: MerkleLog) -> list[_Problem]:
    problems: list[_Problem] = []
    matched = 0
    for i, signed in sorted(enumerate(known), key=lambda item: item[1].head.size):
        h = signed.head
        name = f"known head #{i} (size {h.size}, timestamp_ms {h.timestamp_ms})"
        if not verify_head(key, h, signed.signature):
            problems.append(_Problem(-1, False, 0, -1, f"{name} is not signed by this hub key: it proves nothing"))
        elif h.size > tree.size:
            why = f"{name} is beyond the bundle's {tree.size} entries: the log was truncated (or the bundle is older)"
            problems.append(_ranged(tree.size, h.size, why, 4))
        elif hmac.compare_digest(tree.root(h.size), h.root_hash):
            matched = h.size
        else:
            why = (
                f"fork: {name}, saved earlier, does not match the root recomputed at its size — the log was"
                f" rewritten (somewhere in entries {matched}..{h.size - 1}) and re-signed"
            )
            problems.append(_ranged(matched, h.size, why, 4, fork=True))
    return problems


def _check_extent(n: int, size: object, heads: list[SignedHead]) -> list[_Problem]:
    if not heads:
        return [_exact(0, f"no signed head covers the bundle's {n} entries")] if n else []
    last = heads[-1].head.size
    problems = []
    if n < last:
        problems.append(_exact(n, f"truncated: {n} entries, but the last signed head covers {last}"))
    elif n > last:
        problems.append(_exact(last, f"entries {last}..{n - 1} are not covered by any signed head"))
    if size != last:
        problems.append(_exact(min(_uint(size, "size"), last), f"the bundle says size {size}; its last head, {last}"))
    return problems


def verify_bundle(bundle: Mapping[str, Any], public_key_hex: str, known_heads: Sequence[Any] = ()) -> Report:
    """Check a bundle against the hub's public key, and against heads the party saved earlier (module docstring).

    Costs one pass over the entries, one tree build (about 2 million SHA-256 for a million entries) and two
    SHA-256 plus a JSON parse per disclosed document.
    """
    try:
        key = public_key_from_hex(public_key_hex)
        if bundle.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"not a {BUNDLE_FORMAT} bundle (format {bundle.get('format')!r:.60})")
        entries = bundle.get("entries")
        if not isinstance(entries, list):
            raise BundleError("entries must be a list")
        heads = bundle.get("heads")
        if not isinstance(heads, list):
            raise BundleError("heads must be a list")
        signed = [head_from_json(h, f"head #{k}") for k, h in enumerate(heads)]
        proofs = _proofs(bundle.get("consistency", []))
        known = [head_from_json(h, f"known head #{i}") for i, h in enumerate(known_heads)]
        indices = _column(entries, "index")
        at_ms = _column(entries, "at_ms")
        if not set(map(type, at_ms)) <= {int}:
            p = next(p for p, t in enumerate(at_ms) if type(t) is not int)
            raise BundleError(f"entry at position {p} has at_ms {at_ms[p]!r:.40}, not an integer", p)
        leaves = _leaf_bytes(_column(entries, "leaf_hash"))
        problems = _check_sequence(indices) + _check_extent(len(entries), bundle.get("size"), signed)
        shown, found = _check_documents(entries, leaves, at_ms)
        problems += found
    except BundleError as exc:
        return Report(False, exc.message, exc.index)
    except ValueError as exc:  # the key
        return Report(False, str(exc))
    tree = MerkleLog.from_leaf_hashes([leaves[i : i + HASH_SIZE] for i in range(0, len(leaves), HASH_SIZE)])
    problems += _check_heads(signed, key, tree, proofs) + _check_known(known, key, tree)
    note = ""
    claimed = bundle.get("hub_key")
    if not isinstance(claimed, str) or claimed.lower() != public_key_hex.strip().lower():
        note = f" (note: the bundle names hub key {claimed!r:.70}, not the key it was checked with)"
    if not problems:
        last = signed[-1].head if signed else TreeHead(0, tree.root(0), 0)
        return Report(
            True,
            f"{len(entries):,} entries ({shown:,} documents checked), {len(signed):,} signed heads and the proofs"
            f" between them, {len(known):,} known heads: all verify. Last head: size {last.size:,},"
            f" root {last.root_hash.hex()}, timestamp_ms {last.timestamp_ms}{note}",
        )
    problems.sort()
    first = problems[0]
    return Report(
        False,
        first.message + note,
        first.lo if first.lo >= 0 else None,
        exact=not first.ranged,
        fork=any(p.fork for p in problems),
        problems=tuple(p.message for p in problems),
    )


# --- Split views -------------------------------------------------------------------------------------------------


class Verdict(StrEnum):
    CONSISTENT = "consistent"  # both heads can be honest: one log extends the other
    FORK = "fork"  # the hub signed two logs that cannot both be true
    UNDECIDED = "undecided"  # not enough (or not valid) evidence either way


@dataclass(frozen=True, slots=True)
class Comparison:
    """What ``fork_between`` found, and why, in words a party can forward with the two heads."""

    verdict: Verdict
    message: str


def fork_between(head_a: object, head_b: object, proof: object, public_key_hex: str) -> Comparison:
    """Whether two heads the hub signed can both be honest.

    The same size and different roots: a fork, proven by the two signatures alone. Different sizes: ``proof``
    (``{"from", "to", "proof": [hex...]}`` as ``GET /v1/audit/proof/consistency`` serves it, or ``None``) must
    show the smaller log is a prefix of the larger; if it fails, the hub cannot produce one, so a fork.
    """
    try:
        key = public_key_from_hex(public_key_hex)
        signed_a, signed_b = head_from_json(head_a, "head A"), head_from_json(head_b, "head B")
        for name, signed in (("A", signed_a), ("B", signed_b)):
            if not verify_head(key, signed.head, signed.signature):
                return Comparison(Verdict.UNDECIDED, f"head {name} is not signed by this hub key: it proves nothing")
        a, b = signed_a.head, signed_b.head
        if a.size > b.size:
            a, b = b, a
        if a.size == b.size:
            if hmac.compare_digest(a.root_hash, b.root_hash):
                return Comparison(Verdict.CONSISTENT, f"both heads are size {a.size} with the same root")
            return Comparison(Verdict.FORK, f"fork: two signed heads of size {a.size} with different roots")
        if proof is None:
            return Comparison(Verdict.UNDECIDED, f"need a consistency proof from {a.size} to {b.size}")
        steps = _proofs([proof])
        if (a.size, b.size) not in steps:
            return Comparison(Verdict.UNDECIDED, f"the proof is not from {a.size} to {b.size}: {list(steps)}")
    except ValueError as exc:
        return Comparison(Verdict.UNDECIDED, str(exc))
    if verify_consistency(a.size, b.size, a.root_hash, b.root_hash, steps[(a.size, b.size)]):
        return Comparison(Verdict.CONSISTENT, f"the log of size {b.size} extends the log of size {a.size}")
    return Comparison(
        Verdict.FORK,
        f"fork: the consistency proof from {a.size} to {b.size} does not verify, so these two signed heads cannot"
        " both be honest (unless the proof was damaged on its way: fetch it again from the hub)",
    )
