"""``beatsync-server serve --demo`` as a real process, for tests that signal or kill it."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

__all__ = ["serve", "stop"]


async def serve(data: Path, port: int, log: Path, *extra: str) -> asyncio.subprocess.Process:
    # Logs go to a file: an undrained pipe would fill up and stall the server.
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            "serve",
            "--demo",
            "--data",
            str(data),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *extra,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=sink,
        )
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                raise RuntimeError("beatsync-server exited early; see " + str(log))
            try:
                async with http.get(f"http://127.0.0.1:{port}/_up") as answer:
                    if answer.status == 200:
                        return process
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    process.kill()
    await process.wait()
    raise RuntimeError("beatsync-server did not start")


async def stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 60)
