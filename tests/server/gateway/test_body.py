"""Inflating a request body stops one byte past the cap, whatever the body expands to."""

from __future__ import annotations

import gzip
import zlib

import pytest

from server.gateway.body import inflate_capped
from sync.errors import BadRequest, RequestTooLarge

LIMIT = 64 * 1024
GZIP, ZLIB, RAW = 31, 15, -15


def _deflate(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize("wbits", [GZIP, ZLIB, RAW])
def test_a_body_within_the_cap_comes_back_whole(wbits: int) -> None:
    data = b"record " * 1000
    assert inflate_capped(_deflate(data, wbits), wbits, LIMIT) == data


def test_a_bomb_is_refused_past_the_cap() -> None:
    # 64 MiB of zeros in ~64 KiB: refused without producing the 64 MiB.
    with pytest.raises(RequestTooLarge):
        inflate_capped(_deflate(bytes(64 << 20), GZIP), GZIP, LIMIT)


def test_concatenated_gzip_members_share_one_budget() -> None:
    half = bytes(LIMIT // 2 + 1)
    assert inflate_capped(gzip.compress(b"a") + gzip.compress(b"b"), GZIP, LIMIT) == b"ab"
    with pytest.raises(RequestTooLarge):
        inflate_capped(gzip.compress(half) + gzip.compress(half), GZIP, LIMIT)


@pytest.mark.parametrize(
    "raw", [b"\x1f\x8b\x08\x00garbage", gzip.compress(b"x" * 1000)[:-20]], ids=["corrupt", "cut"]
)
def test_corrupt_or_truncated_bodies_are_a_400(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        inflate_capped(raw, GZIP, LIMIT)
