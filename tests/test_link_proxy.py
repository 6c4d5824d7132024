"""The link-shaping proxy of the tests and benchmarks shapes what it claims to:
a round trip per connection and per exchange, a bandwidth, a reset every N bytes."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.link_proxy import LinkProxy

PAYLOAD = b"x" * 16_000


async def _server() -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(5)
        writer.write(PAYLOAD)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def _fetch(link: LinkProxy) -> bytes:
    port = int(link.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello")
    try:
        return await reader.read(-1)
    finally:
        writer.close()


async def test_round_trips_and_bandwidth_set_the_time() -> None:
    server = await _server()
    port = server.sockets[0].getsockname()[1]
    try:
        async with LinkProxy(port, round_trip=0.2, down_bps=256_000) as link:
            started = time.monotonic()
            assert await _fetch(link) == PAYLOAD
            elapsed = time.monotonic() - started
        # handshake (0.2) + request and answer (0.2) + 16 KB at 256 kbit/s (0.5)
        assert 0.85 <= elapsed < 2.0, elapsed
        assert (link.traffic.bytes_up, link.traffic.bytes_down) == (5, len(PAYLOAD))
    finally:
        server.close()
        await server.wait_closed()


async def test_a_cut_resets_the_connection_mid_answer() -> None:
    server = await _server()
    port = server.sockets[0].getsockname()[1]
    try:
        async with LinkProxy(port, cut_every=10_000) as link:
            with pytest.raises(ConnectionResetError):
                await _fetch(link)
            assert link.traffic.cuts == 1
            assert link.traffic.bytes_down == 10_000 - 5
    finally:
        server.close()
        await server.wait_closed()
