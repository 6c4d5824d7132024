"""A loopback TCP proxy that shapes the link like rural 2G: latency, bandwidth, resets.

* ``round_trip``: every byte arrives half a round trip after it was sent, each
  way; a new connection costs one more round trip (the TCP handshake).
* ``down_bps`` / ``up_bps``: bits per second each way, one line shared by every
  connection (bytes wait their turn), as on one phone's radio link.
* ``cut_every``: after this many bytes (both ways together) the connection
  carrying the byte that crosses the mark is reset (RST) mid-stream: a request
  or an answer cut in the middle of its body.

It counts bytes each way (the TCP stream: request and answer heads and
bodies), connections and cuts. It knows nothing of HTTP, so it shapes any
client the same way (PouchDB, our field client). Tests and ``bench/`` use it;
``async with LinkProxy(port, ...) as link`` stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass
from typing import Self

from tests.server.cut_proxy import reset_connection

__all__ = ["LinkProxy", "LinkTraffic"]

# Bytes read per forwarding step: small enough that a cut lands mid-body and
# the bandwidth pacing is smooth, large enough to keep loopback cheap.
_CHUNK = 4 * 1024
# An HTTP/1.1 request line: what the request count counts. A body that holds
# one verbatim would count too; gzipped or JSON bodies do not in practice.
_REQUEST_LINE = re.compile(rb"(?:GET|HEAD|POST|PUT|DELETE|COPY|OPTIONS) [^ \r\n]+ HTTP/1\.1\r\n")


@dataclass
class LinkTraffic:
    bytes_up: int = 0  # client -> server
    bytes_down: int = 0  # server -> client
    connections: int = 0
    requests: int = 0  # HTTP/1.1 request lines seen going up (a count for benchmarks)
    cuts: int = 0


class _Line:
    """One direction of the radio link: bytes leave it one after another at ``bps``."""

    def __init__(self, bps: float | None) -> None:
        self.bps = bps
        self._free_at = 0.0

    def departure(self, size: int) -> float:
        """When ``size`` bytes queued now have all left (monotonic seconds)."""
        now = time.monotonic()
        start = max(now, self._free_at)
        self._free_at = start + (size * 8 / self.bps if self.bps else 0.0)
        return self._free_at


class LinkProxy:
    def __init__(
        self,
        target_port: int,
        *,
        round_trip: float = 0.0,
        down_bps: float | None = None,
        up_bps: float | None = None,
        cut_every: int | None = None,
        target_host: str = "127.0.0.1",
    ) -> None:
        self._target = (target_host, target_port)
        self.round_trip = round_trip
        self._down, self._up = _Line(down_bps), _Line(up_bps)
        self.cut_every = cut_every
        self._until_cut = cut_every
        self.traffic = LinkTraffic()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def shape(self, *, round_trip: float, down_bps: float | None, up_bps: float | None) -> None:
        """Change the link from now on (a benchmark sets up over a fast link first)."""
        self.round_trip = round_trip
        self._down.bps, self._up.bps = down_bps, up_bps

    def cut_every_bytes(self, every: int | None) -> None:
        """From now on, reset the link every ``every`` bytes (None: never)."""
        self.cut_every = self._until_cut = every

    def reset_traffic(self) -> LinkTraffic:
        """The traffic so far; counting starts again from zero."""
        seen, self.traffic = self.traffic, LinkTraffic()
        return seen

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            reset_connection(writer)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await asyncio.sleep(self.round_trip)  # the handshake's round trip
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            reset_connection(writer)
            self._writers.discard(writer)
            return
        self.traffic.connections += 1
        self._writers.add(up_writer)
        pair = (writer, up_writer)
        task = asyncio.create_task(self._both_ways(reader, up_reader, pair))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _both_ways(
        self,
        reader: asyncio.StreamReader,
        up_reader: asyncio.StreamReader,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        writer, up_writer = pair
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, True, pair),
                self._pump(up_reader, writer, False, pair),
            )
        finally:
            for one in pair:
                self._writers.discard(one)
                one.close()

    def _allowance(self, size: int) -> int | None:
        """How much of ``size`` bytes may pass before the next cut (None: all of it)."""
        if self._until_cut is None:
            return None
        if size < self._until_cut:
            self._until_cut -= size
            return None
        allowed = self._until_cut
        self._until_cut = self.cut_every
        return allowed

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        upward: bool,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        line = self._up if upward else self._down
        # Bytes in flight, delivered in order after their latency: reading goes
        # on meanwhile, so the link holds a round trip's worth of data like a real one.
        queue: asyncio.Queue[tuple[float, bytes, bool] | None] = asyncio.Queue()
        deliver = asyncio.create_task(self._deliver(queue, sink, pair))
        try:
            while True:
                data = await source.read(_CHUNK)
                if not data:
                    break
                allowed = self._allowance(len(data))
                cut = allowed is not None
                if cut:
                    data = data[:allowed]
                self._count(upward, data)
                due = line.departure(len(data)) + self.round_trip / 2
                queue.put_nowait((due, data, cut))
                if cut:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await deliver

    async def _deliver(
        self,
        queue: asyncio.Queue[tuple[float, bytes, bool] | None],
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while (item := await queue.get()) is not None:
                due, data, cut = item
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if data:
                    sink.write(data)
                    await sink.drain()
                if cut:
                    self.traffic.cuts += 1
                    for writer in pair:
                        reset_connection(writer)
                    return
            with contextlib.suppress(OSError, RuntimeError):
                if sink.can_write_eof():
                    sink.write_eof()  # half-close, as TCP passes a FIN on
        except (ConnectionError, OSError):
            for writer in pair:
                reset_connection(writer)

    def _count(self, upward: bool, data: bytes) -> None:
        size = len(data)
        if upward:
            self.traffic.bytes_up += size
            self.traffic.requests += len(_REQUEST_LINE.findall(data))
        else:
            self.traffic.bytes_down += size
