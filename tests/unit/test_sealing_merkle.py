"""The Merkle root against RFC 6962's published vectors and a recursive reading of the RFC's text."""

from __future__ import annotations

import hashlib
import random

import pytest

from exportcenter.sealing.merkle import merkle_root_of_digests, merkle_tree_hash

# The Certificate Transparency reference inputs and tree heads for sizes 0..8 (RFC 6962 test data,
# as published with the C++/Go CT implementations).
CT_LEAVES = [bytes.fromhex(h) for h in
             ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def rfc_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1 word for word: recursive split at the largest power of two below n."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + rfc_mth(leaves[:k]) + rfc_mth(leaves[k:])).digest()


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_matches_published_rfc6962_tree_heads(size: int) -> None:
    assert merkle_tree_hash(CT_LEAVES[:size]).hex() == CT_ROOTS[size]
    assert rfc_mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


def test_matches_recursive_rfc_definition_for_every_shape() -> None:
    rng = random.Random(6962)
    for size in range(0, 140):
        leaves = [rng.randbytes(rng.randint(0, 40)) for _ in range(size)]
        assert merkle_tree_hash(leaves) == rfc_mth(leaves), size


def test_digest_root_is_order_independent_and_sorted_bytewise() -> None:
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(11)]
    shuffled = digests[:]
    random.Random(1).shuffle(shuffled)
    expected = "sha256:" + rfc_mth(sorted(bytes.fromhex(d) for d in digests)).hex()
    assert merkle_root_of_digests(digests) == expected
    assert merkle_root_of_digests(shuffled) == expected
    # a single changed digest changes the root
    assert merkle_root_of_digests(["00" * 32, *digests[1:]]) != expected


def test_leaf_and_node_prefixes_prevent_second_preimage() -> None:
    a, b = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    two_leaf_root = merkle_tree_hash([a, b])
    # the concatenation of the two leaf hashes, as one leaf, must not give the same root
    leaf_a, leaf_b = (hashlib.sha256(b"\x00" + x).digest() for x in (a, b))
    assert merkle_tree_hash([leaf_a + leaf_b]) != two_leaf_root
    assert two_leaf_root == hashlib.sha256(b"\x01" + leaf_a + leaf_b).digest()
