"""Request bodies read with a size cap, a pace floor, and decompression bounded by both.

The gateway reads bodies itself (aiohttp's ``auto_decompress`` is off, see
:mod:`server.gateway.connections`) because aiohttp inflates a compressed body
on the event loop and, after answering 413, drains and inflates the rest of
it: a 1 MiB gzip bomb (1 GiB inflated) froze every client for ~2 s (issue 14).
Here the compressed bytes are capped at ``max_body_bytes``, and inflating runs
in a worker thread and stops one byte past the same cap, and at most
``INFLATIONS_AT_ONCE`` bodies inflate at a time: each is a core's worth of
work in the loop's default thread pool, the pool password checks use too, so
a burst of compressed bodies from many clients would otherwise fill every
thread, hold 8 MiB of output each, and make logins wait behind them.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Final

from aiohttp import hdrs, web

from server.config import GatewayConfig
from server.gateway.keys import CONFIG, INFLATIONS
from sync.errors import BadRequest, RequestTimeout, RequestTooLarge, UnsupportedMediaType

__all__ = ["INFLATIONS_AT_ONCE", "inflate_capped", "read_body"]

# The gateway's machines have two cores; more inflations at once only queue in
# the thread pool while each holds its output.
INFLATIONS_AT_ONCE: Final = 2

# zlib's wbits per Content-Encoding: gzip framing, or zlib framing for deflate
# (raw deflate, which some clients send as "deflate", is sniffed below).
_GZIP_WBITS: Final = 31
_ZLIB_WBITS: Final = 15
_RAW_DEFLATE_WBITS: Final = -15
_IDENTITY: Final = frozenset({"", "identity"})


def _wbits(encoding: str, raw: bytes) -> int:
    if encoding in ("gzip", "x-gzip"):
        return _GZIP_WBITS
    if encoding == "deflate":
        # RFC 1950: a zlib stream's first byte names method 8 (deflate).
        return _ZLIB_WBITS if raw[:1] and raw[0] & 0x0F == 8 else _RAW_DEFLATE_WBITS
    raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported (gzip, deflate)")


def inflate_capped(raw: bytes, wbits: int, limit: int) -> bytes:
    """``raw`` inflated, or ``RequestTooLarge`` as soon as it passes ``limit`` bytes:
    never more than ``limit + 1`` bytes are produced. Concatenated gzip members
    (RFC 1952 allows them) share the one budget."""
    out = bytearray()
    rest = raw
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            out += inflater.decompress(rest, limit + 1 - len(out))
            if len(out) > limit:
                raise RequestTooLarge()
            if not inflater.eof:
                raise BadRequest("The compressed body is truncated", error="bad_request")
            rest = inflater.unused_data
            if not rest:
                return bytes(out)
    except zlib.error:
        raise BadRequest("The compressed body is not valid", error="bad_request") from None


async def _read_raw(request: web.Request, config: GatewayConfig, limit: int) -> bytes:
    """The body as sent, refused once over the cap or when it comes too slowly: no
    gap longer than ``body_timeout_s``, and after that grace at least
    ``min_body_bytes_per_s`` on average (a trickle of a byte a second holds a
    connection for hours otherwise)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    body = bytearray()
    while True:
        pace_deadline = started + config.body_timeout_s + len(body) / config.min_body_bytes_per_s
        wait = min(config.body_timeout_s, pace_deadline - loop.time())
        try:
            async with asyncio.timeout(max(wait, 0)):
                chunk = await request.content.readany()
        except TimeoutError:
            raise RequestTimeout() from None
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            raise RequestTooLarge()


async def read_body(request: web.Request, max_bytes: int | None = None) -> bytes:
    """The request body, decompressed per its Content-Encoding, at most
    ``max_bytes`` (default ``max_body_bytes``) both as sent and inflated.

    Routes open to anyone (enrolment) pass a small ``max_bytes``: what an
    anonymous client can make the gateway inflate is then a few KB, not 8 MiB."""
    config = request.app[CONFIG]
    limit = config.max_body_bytes if max_bytes is None else min(max_bytes, config.max_body_bytes)
    raw = await _read_raw(request, config, limit)
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    if encoding in _IDENTITY:
        return raw
    wbits = _wbits(encoding, raw)
    # Off the loop: even capped, inflating 8 MiB takes tens of milliseconds.
    async with request.config_dict[INFLATIONS]:
        return await asyncio.to_thread(inflate_capped, raw, wbits, limit)
