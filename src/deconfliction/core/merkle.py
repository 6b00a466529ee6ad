"""The hub's append-only Merkle log, as Certificate Transparency v2 (RFC 9162 §2.1) defines it.

Hashing (SHA-256 throughout, §2.1.1)::

    leaf_hash(d)        = SHA-256(0x00 || d)
    node_hash(l, r)     = SHA-256(0x01 || l || r)
    MTH({})             = SHA-256()                         (the empty string: e3b0c442…b855)
    MTH({d0})           = leaf_hash(d0)
    MTH(D[n])           = node_hash(MTH(D[0:k]), MTH(D[k:n]))   k = the largest power of two < n

Everything here works on *leaf hashes* (``leaf_hash`` of each entry), never on the entries themselves: what the
hub logs as a leaf is a salted commitment (see ``core/record.py``), and the tree never needs more than its hash.

Two ways to get roots and proofs, giving the same bytes:

* the free functions ``root``, ``inclusion_proof`` and ``consistency_proof`` take a sequence of leaf hashes and
  cost O(n) each: what a verifier that holds a whole exported log runs (``root`` of 1M leaves takes about a
  second; ``bench/merkle.py`` measures it);
* ``MerkleLog`` keeps the hash of every complete, aligned subtree (level k holds the hashes of leaves
  ``[i·2^k, (i+1)·2^k)``), so appending costs O(1) hashes amortised and a root, inclusion proof or consistency
  proof for *any* past size costs O(log n) look-ups plus O(log n) hashes for the ragged right edge.

The verifiers ``verify_inclusion`` and ``verify_consistency`` are the RFC's §2.1.3.2 and §2.1.4.2 algorithms
step by step. They answer ``False`` for anything malformed (a hash that is not 32 bytes, sizes out of range, a
proof of the wrong length) and never raise. The generators raise ``ValueError`` for arguments no log could
answer (an index past the size, a size past the log): the caller checks what a user asked for before it asks.

Proofs are lists of 32-byte hashes in the RFC's order (the leaf's sibling, or the deepest node, first).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Sequence
from hashlib import sha256

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()
"""MTH of the empty log: SHA-256 of the empty string (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# The hash of the subtree over leaves [lo, hi): how the RFC's recursions reach the tree, whatever holds it.
SubtreeHash = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: ``SHA-256(0x00 || data)``."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: ``SHA-256(0x01 || left || right)``."""
    return sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The RFC's ``k``: the largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


# --- Building the tree level by level ---------------------------------------------------------------------------


def _next_level(level: bytes | bytearray) -> bytes:
    """The parents of every complete pair of a level (a lone last node has no parent at this level)."""
    view = memoryview(level)
    end = len(level) // (2 * HASH_SIZE) * (2 * HASH_SIZE)
    # One 64-byte slice of a memoryview per parent is the cheapest way through hashlib (see bench/merkle.py).
    return b"".join([sha256(_NODE_PREFIX + view[i : i + 2 * HASH_SIZE]).digest() for i in range(0, end, 2 * HASH_SIZE)])


def _levels_of(leaf_hashes: Iterable[bytes]) -> list[bytearray]:
    """Every complete aligned subtree hash, level by level, for a whole list of leaf hashes at once."""
    hashes = leaf_hashes if isinstance(leaf_hashes, list | tuple) else list(leaf_hashes)
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} must be {HASH_SIZE} bytes, got {len(h)}")
    levels = [bytearray(b"".join(hashes))]
    while len(levels[-1]) >= 2 * HASH_SIZE:
        levels.append(bytearray(_next_level(levels[-1])))
    return levels


def _fold_peaks(peaks: list[bytes]) -> bytes:
    """MTH from the perfect subtrees that make up a log, largest (leftmost) first: a fold from the right."""
    if not peaks:
        return EMPTY_ROOT
    acc = peaks[-1]
    for peak in reversed(peaks[:-1]):
        acc = node_hash(peak, acc)
    return acc


def _peaks(levels: Sequence[bytes | bytearray], size: int) -> list[bytes]:
    """The perfect subtrees of a log of ``size`` leaves: one per set bit of ``size``, highest first."""
    peaks, start = [], 0
    for k in range(size.bit_length() - 1, -1, -1):
        if size >> k & 1:
            i = (start >> k) * HASH_SIZE
            peaks.append(bytes(levels[k][i : i + HASH_SIZE]))
            start += 1 << k
    return peaks


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (RFC 9162 §2.1.1), computed level by level: what a bundle verifier runs.

    Pairing neighbours level by level and carrying a lone last node up is the same tree as the RFC's recursive
    split: the RFC's left subtrees are exactly the complete aligned blocks, and what is left over on the right
    joins them from the right (``_fold_peaks``).
    """
    levels = _levels_of(leaf_hashes)
    return _fold_peaks(_peaks(levels, len(leaf_hashes)))


# --- Proof generation (RFC 9162 §2.1.3.1 and §2.1.4.1), over any subtree-hash accessor ----------------------------


def _inclusion_path(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """PATH(index, D[size]), unrolled: walk down from the root, taking the sibling at each split, then reverse."""
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo += k
    path.reverse()
    return path


def _consistency_path(size1: int, size2: int, subtree: SubtreeHash) -> list[bytes]:
    """PROOF(size1, D[size2]) = SUBPROOF(size1, D[size2], true), unrolled the same way (0 < size1 < size2)."""
    path: list[bytes] = []
    lo, hi, whole_old_tree = 0, size2, True
    while size1 != hi:
        k = _split(hi - lo)
        if size1 - lo <= k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo += k
            whole_old_tree = False
    if not whole_old_tree:
        # SUBPROOF(m, D[m], false) = {MTH(D[m])}: the verifier cannot know this node unless it is told.
        path.append(subtree(lo, hi))
    path.reverse()
    return path


def _check_inclusion_args(index: int, size: int, log_size: int) -> None:
    if not 0 <= size <= log_size:
        raise ValueError(f"size must be between 0 and the log's size {log_size}, got {size}")
    if not 0 <= index < size:
        raise ValueError(f"index must be between 0 and size - 1 = {size - 1}, got {index}")


def _check_consistency_args(size1: int, size2: int, log_size: int) -> None:
    if not 0 <= size2 <= log_size:
        raise ValueError(f"size2 must be between 0 and the log's size {log_size}, got {size2}")
    if not 0 <= size1 <= size2:
        raise ValueError(f"size1 must be between 0 and size2 = {size2}, got {size1}")


def inclusion_proof(index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the log of the first ``size`` leaf hashes (RFC 9162 §2.1.3.1). O(n)."""
    _check_inclusion_args(index, size, len(leaf_hashes))
    return _inclusion_path(index, size, lambda lo, hi: root(leaf_hashes[lo:hi]))


def every_inclusion_proof(leaf_hashes: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """MTH of a non-empty list of leaf hashes and the audit path of every leaf in it, in one walk of the RFC's
    recursion: n - 1 hashes in all (a batch of receipts: ``core/record.py``). The same paths as
    ``inclusion_proof(i, n, leaf_hashes)``, which would cost O(n) each."""
    if not leaf_hashes:
        raise ValueError("no leaves: an empty tree has no inclusion proofs")
    paths: list[list[bytes]] = [[] for _ in leaf_hashes]
    return _walk(leaf_hashes, 0, len(leaf_hashes), paths), paths


def _walk(leaf_hashes: Sequence[bytes], lo: int, hi: int, paths: list[list[bytes]]) -> bytes:
    """MTH of ``[lo, hi)``, appending to each leaf's path its sibling at every level below (deepest first)."""
    if hi - lo == 1:
        return leaf_hashes[lo]
    k = lo + _split(hi - lo)
    left, right = _walk(leaf_hashes, lo, k, paths), _walk(leaf_hashes, k, hi, paths)
    for i in range(lo, k):
        paths[i].append(right)
    for i in range(k, hi):
        paths[i].append(left)
    return node_hash(left, right)


def consistency_proof(size1: int, size2: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The proof that the log of the first ``size1`` leaves is a prefix of the first ``size2`` (§2.1.4.1). O(n).

    RFC 9162 defines the proof for ``0 < size1 < size2``; for ``size1 == 0`` or ``size1 == size2`` it is empty
    (every log extends the empty one, and a log is consistent with itself), which ``verify_consistency`` accepts.
    """
    _check_consistency_args(size1, size2, len(leaf_hashes))
    if size1 in (0, size2):
        return []
    return _consistency_path(size1, size2, lambda lo, hi: root(leaf_hashes[lo:hi]))


# --- Verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ---------------------------------------------------------------


def _all_hashes(values: Iterable[bytes]) -> bool:
    return all(isinstance(v, bytes | bytearray) and len(v) == HASH_SIZE for v in values)


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root that ``proof`` claims for leaf hash ``leaf`` at ``index`` of ``size``, or ``None`` if malformed.

    Steps 1-4 of RFC 9162 §2.1.3.2, plus its check that ``sn`` ends at 0 (the proof has exactly the right length).
    """
    if not 0 <= index < size or not _all_hashes([leaf, *proof]):
        return None
    fn, sn = index, size - 1
    r = bytes(leaf)
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                # We are on the right edge of a ragged tree: the levels where we have no sibling are skipped.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the log of ``size`` leaves whose root is given.

    Take ``size`` and ``root_hash`` together from one signed tree head: a proof and a root alone do not pin the
    size (the path of leaf 0 in a log of 3 also checks out against that same root when called with size 4).
    """
    got = root_from_inclusion_proof(index, size, leaf, proof)
    return got is not None and len(root_hash) == HASH_SIZE and hmac.compare_digest(got, root_hash)


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the log (size1, root1) is a prefix of the log (size2, root2) (RFC 9162 §2.1.4.2).

    The RFC's algorithm covers ``0 < size1 < size2``. Around it: a log of size 0 has the one root ``EMPTY_ROOT``
    and is a prefix of every log; a log is consistent with itself when the roots are equal; in both cases the
    proof must be empty.
    """
    if not _all_hashes([root1, root2, *proof]) or not 0 <= size1 <= size2:
        return False
    if size1 == 0:
        return not proof and root1 == EMPTY_ROOT and (size2 > 0 or root2 == EMPTY_ROOT)
    if size1 == size2:
        return not proof and hmac.compare_digest(root1, root2)
    if not proof:  # step 1
        return False
    path = [bytes(root1), *proof] if size1 & (size1 - 1) == 0 else list(proof)  # step 2
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = bytes(path[0])  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, root1) and hmac.compare_digest(sr, root2)  # step 7


# --- The incremental log -----------------------------------------------------------------------------------------


class MerkleLog:
    """An append-only log of leaf hashes that answers roots and proofs for its current and every past size.

    It stores the hash of every complete aligned subtree: ``level k`` is one ``bytearray`` of 32-byte hashes, the
    i-th covering leaves ``[i·2^k, (i+1)·2^k)``. That is just under 2n hashes, 64 bytes per leaf (64 MB for a
    million leaves) with no per-hash Python object. Any subtree the RFC's recursions ask for is either one of
    these (the left halves always are) or a ragged right edge ``[lo, size)``, computed from them and memoised for
    the one proof, so a proof costs O(log n) look-ups plus O(log n) hashes.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> MerkleLog:
        """A log holding these leaf hashes, built level by level (faster than appending them one by one)."""
        log = cls()
        log._levels = _levels_of(leaf_hashes)
        log._size = len(log._levels[0]) // HASH_SIZE
        return log

    def __len__(self) -> int:
        return self._size

    @property
    def size(self) -> int:
        """How many leaves the log holds."""
        return self._size

    def append(self, leaf: bytes) -> int:
        """Add one leaf hash at the end; return its index. O(1) hashes amortised (at most log2 n)."""
        _check_hash(leaf, "leaf hash")
        index = self._size
        levels = self._levels
        levels[0] += leaf
        h, count, k = bytes(leaf), index + 1, 0
        # While level k now holds an even number of nodes, its last two just became complete siblings.
        while count & 1 == 0:
            left = levels[k][-2 * HASH_SIZE : -HASH_SIZE]
            h = sha256(_NODE_PREFIX + left + h).digest()
            k += 1
            count >>= 1
            if k == len(levels):
                levels.append(bytearray())
            levels[k] += h
        self._size = index + 1
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append every leaf hash, in order."""
        for leaf in leaf_hashes:
            self.append(leaf)

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        if not 0 <= index < self._size:
            raise ValueError(f"index must be between 0 and {self._size - 1}, got {index}")
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them). O(log n) hashes."""
        size = self._size if size is None else size
        if not 0 <= size <= self._size:
            raise ValueError(f"size must be between 0 and the log's size {self._size}, got {size}")
        return _fold_peaks(_peaks(self._levels, size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the log's first ``size`` leaves (default: all). O(log n)."""
        size = self._size if size is None else size
        _check_inclusion_args(index, size, self._size)
        return _inclusion_path(index, size, self._subtree_hashes())

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """The proof that the first ``size1`` leaves are a prefix of the first ``size2`` (default: all). O(log n).

        Empty when ``size1`` is 0 or equals ``size2``, as for the free function ``consistency_proof``.
        """
        size2 = self._size if size2 is None else size2
        _check_consistency_args(size1, size2, self._size)
        if size1 in (0, size2):
            return []
        return _consistency_path(size1, size2, self._subtree_hashes())

    def _subtree_hashes(self) -> SubtreeHash:
        """A subtree-hash accessor for one proof: stored nodes, plus the ragged right edges, each computed once."""
        return _Subtrees(self._levels)


class _Subtrees:
    """The hash of any subtree ``[lo, hi)`` a proof asks for: a stored node when it is perfect, else computed from
    them, each ragged right edge once. A class, not a recursive closure: that would be a reference cycle per proof,
    left for the garbage collector (whose pauses showed in the tail of ``GET /v1/audit/proof/inclusion``)."""

    __slots__ = ("_levels", "_ragged")

    def __init__(self, levels: Sequence[bytes | bytearray]) -> None:
        self._levels = levels
        self._ragged: dict[tuple[int, int], bytes] = {}

    def __call__(self, lo: int, hi: int) -> bytes:
        width = hi - lo
        if width & (width - 1) == 0:
            # The RFC's recursion only ever asks for perfect subtrees that are aligned (lo is a multiple of their
            # width), so each is one stored node.
            k = width.bit_length() - 1
            i = (lo >> k) * HASH_SIZE
            return bytes(self._levels[k][i : i + HASH_SIZE])
        got = self._ragged.get((lo, hi))
        if got is None:
            k = _split(width)
            got = self._ragged[(lo, hi)] = node_hash(self(lo, lo + k), self(lo + k, hi))
        return got
