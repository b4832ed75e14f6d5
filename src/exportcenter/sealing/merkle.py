"""RFC 6962 (section 2.1) Merkle tree hash.

MTH({}) = SHA-256(""), MTH({d}) = SHA-256(0x00 || d) and, for n > 1 with k the largest power of two
smaller than n, MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).

The evidence seal feeds it the raw 32-byte SHA-256 digests of the sealed artifacts, sorted bytewise
(which is the same order as their lowercase hex), so the root does not depend on input order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def merkle_tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH over ``leaves`` in the order given (RFC 6962 2.1), computed without recursion.

    The RFC split (largest power of two first) is equivalent to folding a stack of perfect subtrees
    from the right, which is what this loop does in O(n) time and O(log n) memory.
    """
    if not leaves:
        return hashlib.sha256(b"").digest()
    # stack of (height, hash) of perfect subtrees, heights strictly decreasing from bottom to top
    stack: list[tuple[int, bytes]] = []
    for leaf in leaves:
        height, digest = 0, leaf_hash(leaf)
        while stack and stack[-1][0] == height:
            _, left = stack.pop()
            digest = node_hash(left, digest)
            height += 1
        stack.append((height, digest))
    # the trailing, smaller subtrees are the right-hand side of each RFC split
    _, root = stack.pop()
    while stack:
        _, left = stack.pop()
        root = node_hash(left, root)
    return root


def merkle_root_of_digests(hex_digests: Iterable[str]) -> str:
    """``sha256:<hex>`` root over SHA-256 digests given as hex (any order; sorted here)."""
    raw = sorted(bytes.fromhex(value) for value in hex_digests)
    return "sha256:" + merkle_tree_hash(raw).hex()
