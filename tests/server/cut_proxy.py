"""A loopback TCP proxy that can cut the link on command, like a station's internet going down.

``cut()`` drops every open connection and refuses new ones (connection
reset); ``stall()`` accepts connections but forwards nothing (a black hole,
like a link that died without a reset); ``restore()`` forwards again. Runs on
the test's own event loop; ``async with CutProxy(port) as proxy`` stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import Enum
from typing import Self

__all__ = ["CutProxy", "LinkState", "reset_connection"]

_CHUNK = 64 * 1024


class LinkState(Enum):
    UP = "up"
    CUT = "cut"
    STALLED = "stalled"


class CutProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.state = LinkState.UP
        self.connections = 0  # accepted and forwarded, for tests to see traffic happened

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def cut(self) -> None:
        """Drop every connection now (RST) and refuse new ones until :meth:`restore`."""
        self.state = LinkState.CUT
        self._drop_all()

    def stall(self) -> None:
        """Drop open connections; accept new ones but never answer."""
        self.state = LinkState.STALLED
        self._drop_all()

    def restore(self) -> None:
        self.state = LinkState.UP

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            reset_connection(writer)
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.state is LinkState.CUT:
            reset_connection(writer)
            return
        self._writers.add(writer)
        if self.state is LinkState.STALLED:
            return  # held open, silent, until a cut/close drops it
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            reset_connection(writer)
            return
        self.connections += 1
        self._writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink, (writer, up_writer)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while self.state is LinkState.UP:
                data = await source.read(_CHUNK)
                if not data or self.state is not LinkState.UP:
                    break
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            for writer in pair:
                self._writers.discard(writer)
                if self.state is LinkState.UP:
                    writer.close()
                else:
                    reset_connection(writer)

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def reset_connection(writer: asyncio.StreamWriter) -> None:
    """Close with RST, not FIN: the peer sees the connection reset, as when a link dies."""
    transport = writer.transport
    with contextlib.suppress(Exception):
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket
            import struct

            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
