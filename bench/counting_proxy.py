"""A loopback HTTP proxy that counts requests and bytes each way.

Both clients of a benchmark talk to the server through the same proxy, so
their request counts and byte counts are measured the same way. Bodies pass
through untouched (still compressed if they were), so bytes are wire bytes
(headers excluded).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from yarl import URL

__all__ = ["CountingProxy", "Traffic"]

# Hop-by-hop headers (RFC 9110 section 7.6.1) and the ones aiohttp recomputes.
_DROP = {
    "host",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
}


@dataclass
class Traffic:
    requests: int = 0
    bytes_up: int = 0  # request bodies, client -> server
    bytes_down: int = 0  # response bodies, server -> client


class CountingProxy:
    def __init__(
        self, upstream: str, *, round_trip: float = 0.0, bandwidth_bps: float | None = None
    ) -> None:
        self.upstream = upstream.rstrip("/")
        # Added to every request: a crude rural link (300-1000 ms round trips),
        # where the number of requests, not bytes, sets the time.
        self.round_trip = round_trip
        # A 2G link's bits per second, shared by every connection (bodies
        # wait their turn on the one line); None: as fast as loopback.
        self.bandwidth_bps = bandwidth_bps
        self._line = asyncio.Lock()
        self.traffic = Traffic()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    def reset(self) -> Traffic:
        """The traffic so far; counting starts again from zero."""
        seen, self.traffic = self.traffic, Traffic()
        return seen

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _transmit(self, size: int) -> None:
        if self.bandwidth_bps and size:
            async with self._line:
                await asyncio.sleep(size * 8 / self.bandwidth_bps)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        if self.round_trip:
            await asyncio.sleep(self.round_trip)
        self.traffic.requests += 1
        self.traffic.bytes_up += len(body)
        await self._transmit(len(body))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        async with self._session.request(
            request.method,
            URL(f"{self.upstream}{request.raw_path}", encoded=True),  # as the client sent it
            headers=headers,
            data=body or None,
        ) as upstream:
            payload = await upstream.read()
            self.traffic.bytes_down += len(payload)
            await self._transmit(len(payload))
            out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP}
            return web.Response(status=upstream.status, body=payload, headers=out_headers)
