"""What goes into the hub's Merkle log, and the signatures around it: entry commitments, tree heads, acks.

**Entries are logged as commitments, not contents.** An entry (a declaration, a conflict notice, an
acknowledgement…) is a JSON object of fields. The hub draws 32 random bytes of salt for it and writes the entry's
*document*, the canonical JSON of ``{"salt": <64 lowercase hex digits>, ...fields}``; the log's leaf data is the
*commitment* ``SHA-256(document)``, and the leaf hash is ``merkle.leaf_hash(commitment)``. A party shown the
document of its own entry checks it against the leaf (``verify_entry_document``); anyone holding only the log
learns nothing from the leaf, because the salt is secret and too long to guess. The salt comes in as an argument:
the core draws no randomness.

**Canonical JSON** (``canonical_json``): UTF-8, object keys sorted by code point (as orjson's ``OPT_SORT_KEYS``
does, which is also UTF-8 byte order), no whitespace, strings unescaped except what JSON requires. Values may be
objects with string keys, arrays (lists or tuples), strings, booleans, null, integers in [-2^63, 2^64) and finite
floats; anything else, NaN and infinities included, is refused rather than coerced. Numbers are written as
Python holds them: ``1`` and ``1.0`` are different documents (this is not RFC 8785 JCS, which would merge them),
so callers keep a field's type stable; times and ids belong in integers and strings. A member may also be given
as ``Verbatim`` canonical JSON that its maker vouches for, already written (a conflict's overlap polygon) or as a
value to be written without the check (``Verbatim.of``: a conflict's or an operation's entry, built from validated
objects); the rest of the document is checked as ever.

**Signed tree heads.** ``TreeHead.signed_bytes()`` is RFC 9162 §4.10's ``TreeHeadDataV2`` in TLS encoding, 51
bytes, all integers big-endian::

    uint64 timestamp          milliseconds since the Unix epoch (UTC), ignoring leap seconds
    uint64 tree_size          the number of leaves
    uint8  32                 length of the root hash (HashValue is opaque<32..2^8-1>)
    opaque root_hash[32]      MTH of the first tree_size leaves
    uint16 0                  length of sth_extensions (none)

The log signs these bytes with Ed25519 (RFC 8032, pure, no pre-hash): ``sign_head`` / ``verify_head``. The log's
key must sign nothing else: every other signed message in the hub has a different length and a textual prefix.

**Acknowledgements** (``Acknowledgement``): a party may sign what it acknowledged. The signed message is the
32-byte ``ack_digest`` = SHA-256 of ``b"deconfliction-ack-v1\\n"`` followed by the canonical JSON of::

    {"acknowledged_at_ms": int, "notice_leaf_hash": <64 hex>, "object_id": str, "party_id": str,
     "revision": int, "statement": "received and understood"}

so a signature names the party, the object and its revision, the logged notice it answers (by leaf hash), the
time, and what it means: received and understood, never approval.

**Receipts** (``Receipt``): the hub's word that entry ``index`` with this leaf hash was logged at ``at_ms``. The
receipts of one transaction are signed together (``sign_receipts``): each receipt's leaf is ``leaf_hash`` of the
canonical JSON of ``{"at_ms", "index", "leaf_hash"}``, the batch's root is the RFC 9162 MTH of those leaves in order,
and the signed message is ``b"deconfliction-receipts-v2\n"`` followed by the canonical JSON of ``{"root_hash": <64
hex>, "size": n}``; each receipt carries its position, the batch's size and its inclusion path (``SignedReceipt``).

Keys are ``cryptography``'s ``Ed25519PrivateKey`` / ``Ed25519PublicKey``, passed in. ``key_to_hex`` and the two
``*_from_hex`` helpers carry the raw 32-byte keys as 64 lowercase hex digits (keys are made and stored elsewhere).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from deconfliction.core.merkle import HASH_SIZE, every_inclusion_proof, leaf_hash, root_from_inclusion_proof

SALT_SIZE = 32
KEY_SIZE = 32
SIGNATURE_SIZE = 64
ACK_STATEMENT = "received and understood"
_ACK_CONTEXT = b"deconfliction-ack-v1\n"
_UINT64 = 1 << 64
_INT64_MIN = -(1 << 63)


# --- Canonical JSON and entry commitments ------------------------------------------------------------------------


class Verbatim:
    """A document member given as canonical JSON (``text``), which ``canonical_json`` embeds as is.

    Whoever makes one vouches that ``text`` is the canonical JSON of a value that holds only what canonical JSON
    carries (see above): a conflict's overlap polygon, whose coordinates the core checks finite where it draws
    them. The rest of the document is still checked, but without reading the member back: the polygon is most of a
    conflict's document, and reading it back was most of what logging the conflict cost. A ``Verbatim`` equals
    another with the same text, and its text as a string: that is how the check reads it back.

    ``Verbatim.of(value)`` vouches for a value not written yet, written on first use (``text``) by orjson with
    sorted keys and no read-back: an entry's data that the hub builds from validated objects only (strings,
    integers, booleans, None, lists, objects, other ``Verbatim`` members, and floats the core checked finite when
    it parsed them), such as a conflict's or an operation's entry. orjson still refuses what it cannot write
    (non-string keys, integers beyond 64 bits, lone surrogates), datetimes, dataclasses and subclasses of JSON's
    types other than enums; it would write a NaN as null, an enum member or a UUID as its value: keeping those out
    is what the maker vouches for. Reading back a conflict's entry cost as much as writing it twice."""

    __slots__ = ("_text", "_value")

    def __init__(self, text: bytes) -> None:
        self._text: bytes | None = text
        self._value: Any = None

    @classmethod
    def of(cls, value: Any) -> Verbatim:
        made = cls.__new__(cls)
        made._text, made._value = None, value
        return made

    @property
    def text(self) -> bytes:
        if self._text is None:
            try:
                self._text = orjson.dumps(self._value, default=_fragment, option=_VOUCHED)
            except orjson.JSONEncodeError as exc:
                raise ValueError(f"not canonical JSON: {exc}") from exc
            self._value = None
        return self._text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Verbatim):
            return self.text == other.text
        if isinstance(other, str):
            return other.encode() == self.text
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self._text is None:  # not written yet: a repr does not write it (nor raise for it)
            return f"Verbatim.of({self._value!r:.60})"
        return f"Verbatim({self._text[:40]!r}{'...' if len(self._text) > 40 else ''})"


_VOUCHED = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _fragment(value: Any) -> Any:
    if isinstance(value, Verbatim):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _as_text(value: Any) -> Any:
    if isinstance(value, Verbatim):
        return value.text.decode()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _check_json(value: Any, where: str) -> None:
    """Refuse every value canonical JSON does not carry one way only."""
    if value is None or isinstance(value, str | bool | Verbatim):
        return
    if isinstance(value, int):
        if not _INT64_MIN <= value < _UINT64:
            raise ValueError(f"{where}: integer {value} is outside [-2^63, 2^64)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} has no JSON form; use a finite number or null")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: object key {key!r} is not a string")
            _check_json(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
    else:
        raise ValueError(f"{where}: {type(value).__name__} is not a JSON value; convert it to a string or number")


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """The one byte string for a JSON object: sorted keys, no whitespace, UTF-8 (see the module docstring).
    Members may be given as :class:`Verbatim` canonical JSON, embedded as they are.

    Fast path: orjson writes it, and reading it back must give the value again. That round trip is what catches
    what orjson would otherwise coerce (NaN and infinities become null, a datetime a string); only then is the
    value walked, to refuse it with the path of the offending member (or to accept tuples, which read back as
    lists). With verbatim members, what is read back is the document with each of them as a string."""
    embedded = False

    def embed(member: Any) -> Any:
        nonlocal embedded
        embedded = True  # or refused: orjson then raises, and nothing reads the flag
        return _fragment(member)

    try:
        out = orjson.dumps(value, default=embed, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # a non-string key, an integer out of range, a lone surrogate…
        _check_json(value, "$")
        raise ValueError(f"not canonical JSON: {exc}") from exc
    check = orjson.dumps(value, default=_as_text, option=orjson.OPT_SORT_KEYS) if embedded else out
    if orjson.loads(check) != value:
        _check_json(value, "$")
    return out


def entry_document(fields: Mapping[str, Any], salt: bytes) -> bytes:
    """The canonical JSON of ``{"salt": salt.hex(), **fields}``: what a party is shown of its own entry.

    The fields of ``entry_fields`` (the hub's entries) are written directly around their data's canonical JSON: two
    integers, two strings (``subject`` may be null) and the salt's hex have one canonical form each, so only the data
    needs the check, or none when it is ``Verbatim`` (a test holds both ways to ``canonical_json``)."""
    if len(salt) != SALT_SIZE:
        raise ValueError(f"salt must be {SALT_SIZE} random bytes, got {len(salt)}")
    if "salt" in fields:
        raise ValueError('an entry may not have a field named "salt"; it is the commitment\'s own')
    if fields.keys() == _ENTRY_KEYS:
        index, at_ms, kind, subject, data = (fields[k] for k in ("index", "at_ms", "kind", "subject", "data"))
        if (
            type(index) is int
            and type(at_ms) is int
            and 0 <= index < _UINT64
            and 0 <= at_ms < _UINT64
            and type(kind) is str
            and (subject is None or type(subject) is str)
            and (type(data) is dict or isinstance(data, Verbatim))
        ):
            try:
                body = data.text if isinstance(data, Verbatim) else canonical_json(data)
                return b'{"at_ms":%d,"data":%b,"index":%d,"kind":%b,"salt":"%b","subject":%b}' % (
                    at_ms,
                    body,
                    index,
                    orjson.dumps(kind),
                    salt.hex().encode(),
                    orjson.dumps(subject),
                )
            except (ValueError, orjson.JSONEncodeError):
                pass  # refused below, with the path of the offending member in the whole document
    return canonical_json({"salt": salt.hex(), **fields})


def entry_commitment(fields: Mapping[str, Any], salt: bytes) -> bytes:
    """The leaf *data* of an entry: SHA-256 of its document. Reveals nothing without the salt."""
    return sha256(entry_document(fields, salt)).digest()


def document_leaf_hash(document: bytes) -> bytes:
    """The leaf hash of an entry from its document: ``leaf_hash(SHA-256(document))``."""
    return leaf_hash(sha256(document).digest())


def entry_leaf_hash(fields: Mapping[str, Any], salt: bytes) -> bytes:
    """The leaf hash the log holds for an entry: ``leaf_hash(entry_commitment(fields, salt))``."""
    return leaf_hash(entry_commitment(fields, salt))


def verify_entry_document(document: bytes, leaf: bytes) -> bool:
    """Whether a disclosed document is a canonical, salted entry whose leaf hash is ``leaf``."""
    try:
        parsed = orjson.loads(document)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(parsed, dict):
        return False
    salt = parsed.get("salt")
    if not isinstance(salt, str) or len(salt) != 2 * SALT_SIZE or salt != salt.lower():
        return False
    try:
        bytes.fromhex(salt)
        if canonical_json(parsed) != document:
            return False
    except ValueError:
        return False
    return len(leaf) == HASH_SIZE and hmac.compare_digest(document_leaf_hash(document), leaf)


# --- Signed tree heads -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The log's state at one moment: ``size`` leaves whose MTH is ``root_hash``, as of ``timestamp_ms`` (UTC)."""

    size: int
    root_hash: bytes
    timestamp_ms: int

    def __post_init__(self) -> None:
        if not 0 <= self.size < _UINT64:
            raise ValueError(f"size must be in [0, 2^64), got {self.size}")
        if len(self.root_hash) != HASH_SIZE:
            raise ValueError(f"root_hash must be {HASH_SIZE} bytes, got {len(self.root_hash)}")
        if not 0 <= self.timestamp_ms < _UINT64:
            raise ValueError(f"timestamp_ms must be in [0, 2^64), got {self.timestamp_ms}")

    def signed_bytes(self) -> bytes:
        """RFC 9162 ``TreeHeadDataV2``: timestamp, tree size, length-prefixed root hash, no extensions (51 bytes)."""
        return (
            self.timestamp_ms.to_bytes(8, "big")
            + self.size.to_bytes(8, "big")
            + bytes([HASH_SIZE])
            + self.root_hash
            + b"\x00\x00"
        )


def sign_head(private_key: Ed25519PrivateKey, head: TreeHead) -> bytes:
    """The log's Ed25519 signature (64 bytes) over ``head.signed_bytes()``."""
    return private_key.sign(head.signed_bytes())


def _verify(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def verify_head(public_key: Ed25519PublicKey, head: TreeHead, signature: bytes) -> bool:
    """Whether ``signature`` is the log's signature over exactly this head."""
    return _verify(public_key, signature, head.signed_bytes())


# --- Acknowledgement signatures ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What a party states when it acknowledges a notice: received and understood, never approval."""

    party_id: str
    object_id: str
    revision: int
    notice_leaf_hash: bytes
    acknowledged_at_ms: int

    def __post_init__(self) -> None:
        if not self.party_id or not self.object_id:
            raise ValueError("party_id and object_id must not be empty")
        if not 0 <= self.revision < _UINT64:
            raise ValueError(f"revision must be in [0, 2^64), got {self.revision}")
        if len(self.notice_leaf_hash) != HASH_SIZE:
            raise ValueError(f"notice_leaf_hash must be {HASH_SIZE} bytes, got {len(self.notice_leaf_hash)}")
        if not 0 <= self.acknowledged_at_ms < _UINT64:
            raise ValueError(f"acknowledged_at_ms must be in [0, 2^64), got {self.acknowledged_at_ms}")


def ack_message(ack: Acknowledgement) -> bytes:
    """The bytes whose SHA-256 a party signs: the context line, then the canonical JSON (module docstring)."""
    return _ACK_CONTEXT + canonical_json(
        {
            "acknowledged_at_ms": ack.acknowledged_at_ms,
            "notice_leaf_hash": ack.notice_leaf_hash.hex(),
            "object_id": ack.object_id,
            "party_id": ack.party_id,
            "revision": ack.revision,
            "statement": ACK_STATEMENT,
        }
    )


def ack_digest(ack: Acknowledgement) -> bytes:
    """The 32-byte digest a party signs with Ed25519 to acknowledge: ``SHA-256(ack_message(ack))``."""
    return sha256(ack_message(ack)).digest()


def sign_ack(private_key: Ed25519PrivateKey, ack: Acknowledgement) -> bytes:
    """A party's Ed25519 signature over ``ack_digest(ack)`` (what a client does; here for tests and tools)."""
    return private_key.sign(ack_digest(ack))


def verify_ack(public_key: Ed25519PublicKey, ack: Acknowledgement, signature: bytes) -> bool:
    """Whether ``signature`` is the party's signature over exactly this acknowledgement."""
    return _verify(public_key, signature, ack_digest(ack))


# --- Raw keys as hex ---------------------------------------------------------------------------------------------


def key_to_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte key (RFC 8032 encoding; a private key's seed) as 64 lowercase hex digits."""
    if isinstance(key, Ed25519PrivateKey):
        return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _raw_key(text: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"{what} must be {2 * KEY_SIZE} hex digits") from exc
    if len(raw) != KEY_SIZE:
        raise ValueError(f"{what} must be {2 * KEY_SIZE} hex digits, got {len(text.strip())}")
    return raw


def private_key_from_hex(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from its 32-byte seed in hex."""
    return Ed25519PrivateKey.from_private_bytes(_raw_key(text, "an Ed25519 private key"))


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from its 32 raw bytes in hex.

    Any 32 bytes load (OpenSSL does not check the point here); bytes that are not a valid key verify nothing.
    """
    return Ed25519PublicKey.from_public_bytes(_raw_key(text, "an Ed25519 public key"))


# --- Times ---------------------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(at: datetime) -> int:
    """Milliseconds since the Unix epoch, exactly (no float rounding): how the record holds times."""
    return (at - _EPOCH) // _MS


def from_ms(at_ms: int) -> datetime:
    return _EPOCH + at_ms * _MS


# --- Log entries and receipts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry as the hub stores it: its public part (index, time, leaf hash) and its salted document, shown
    only to ``visible`` (party ids; ``None``: every party)."""

    index: int
    at_ms: int
    kind: str
    subject: str | None
    visible: frozenset[str] | None
    document: bytes
    leaf_hash: bytes

    def visible_to(self, party_id: str) -> bool:
        return self.visible is None or party_id in self.visible


@dataclass(frozen=True, slots=True)
class SignedHead:
    head: TreeHead
    signature: bytes


@dataclass(frozen=True, slots=True)
class PartyKey:
    """An Ed25519 public key a party signs its acknowledgements with."""

    id: str
    party_id: str
    public_key: str  # 64 hex digits
    created_at_ms: int
    revoked_at_ms: int | None = None


_ENTRY_KEYS = frozenset({"index", "at_ms", "kind", "subject", "data"})


def entry_fields(
    index: int, at_ms: int, kind: str, subject: str | None, data: Mapping[str, Any] | Verbatim
) -> dict[str, Any]:
    """The fields of the log's entry ``index``: its place, time (ms, UTC), kind, the object it is about and the
    change itself (an object, or ``Verbatim`` when its maker vouches for it). Position and time sit inside the
    commitment, so a disclosed document proves both."""
    return {
        "index": index,
        "at_ms": at_ms,
        "kind": kind,
        "subject": subject,
        "data": data if isinstance(data, Verbatim) else dict(data),
    }


_RECEIPTS_CONTEXT = b"deconfliction-receipts-v2\n"


@dataclass(frozen=True, slots=True)
class Receipt:
    """The hub's word that entry ``index`` with this leaf hash was logged at ``at_ms``: a notice carries the receipt
    of the entry it is about, so its recipient can later prove what it was told, and when, without the hub."""

    index: int
    leaf_hash: bytes
    at_ms: int

    def leaf(self) -> bytes:
        """Its leaf in the batch it is signed in: ``leaf_hash`` of the canonical JSON of its three fields, written
        directly (two integers and a hex string have one canonical form; a test holds it to ``canonical_json``)."""
        document = b'{"at_ms":%d,"index":%d,"leaf_hash":"%s"}' % (self.at_ms, self.index, self.leaf_hash.hex().encode())
        return leaf_hash(document)


@dataclass(frozen=True, slots=True)
class SignedReceipt:
    """A receipt as a notice carries it: one of the ``batch_size`` receipts the hub signed at once, at
    ``position``, with the Merkle path (RFC 9162 hashing) from its leaf to the batch's root, and the signature."""

    receipt: Receipt
    batch_size: int
    position: int
    path: tuple[bytes, ...]
    signature: bytes


def receipts_message(size: int, root: bytes) -> bytes:
    """What the hub signs for a batch of ``size`` receipts whose Merkle root is ``root``."""
    return _RECEIPTS_CONTEXT + canonical_json({"root_hash": root.hex(), "size": size})


def sign_receipt_batch(private_key: Ed25519PrivateKey, receipts: Sequence[Receipt]) -> tuple[bytes, list[list[bytes]]]:
    """Sign a non-empty batch of receipts with one signature, over the Merkle root of their leaves
    (``Receipt.leaf``): the signature, and each receipt's path to that root, in order. A transaction's notices
    share one (an Ed25519 signature costs ~40 µs)."""
    root, paths = every_inclusion_proof([r.leaf() for r in receipts])
    return private_key.sign(receipts_message(len(receipts), root)), paths


def sign_receipts(private_key: Ed25519PrivateKey, receipts: Sequence[Receipt]) -> list[SignedReceipt]:
    """``sign_receipt_batch``, each receipt as it is carried and verified (``SignedReceipt``)."""
    if not receipts:
        return []
    signature, paths = sign_receipt_batch(private_key, receipts)
    size = len(receipts)
    pairs = enumerate(zip(receipts, paths, strict=True))
    return [SignedReceipt(r, size, i, tuple(path), signature) for i, (r, path) in pairs]


def verify_receipt(public_key: Ed25519PublicKey, signed: SignedReceipt) -> bool:
    """Whether the hub signed this receipt: its path leads from its leaf to a batch root the signature covers."""
    root = root_from_inclusion_proof(signed.position, signed.batch_size, signed.receipt.leaf(), signed.path)
    return root is not None and _verify(public_key, signed.signature, receipts_message(signed.batch_size, root))
