"""``beatsync-server serve`` as a real process: SIGTERM during writes loses no
acknowledged write, and its logs are JSON lines without secrets."""

from __future__ import annotations

import asyncio
import base64
import signal
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest

from server.admin import DEMO_PASSWORD
from tests.peers import free_port
from tests.server.conftest import record

AUTH = "Basic " + base64.b64encode(f"sho-kotwali:{DEMO_PASSWORD}".encode()).decode()
SIGTERM_AFTER_ACKS = 30


async def _serve(data: Path, port: int) -> asyncio.subprocess.Process:
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
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                raise RuntimeError("beatsync-server exited early")
            try:
                async with http.get(f"http://127.0.0.1:{port}/_up") as answer:
                    if answer.status == 200:
                        return process
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError("beatsync-server did not start")


async def _stop(process: asyncio.subprocess.Process) -> bytes:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    return err


async def _writer(url: str, seeds: range, acked: list[str], enough: asyncio.Event) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": AUTH}) as http:
        for seed in seeds:
            doc = record(seed, station="kotwali", beat="kotwali-bazaar", officer="sho-kotwali")
            try:
                async with http.post(f"{url}/_bulk_docs", json={"docs": [doc]}) as answer:
                    if answer.status != 201:
                        return
                    if (await answer.json())[0].get("ok"):
                        acked.append(doc["_id"])
            except (TimeoutError, aiohttp.ClientError):
                return  # the server has stopped accepting: stop writing
            if len(acked) >= SIGTERM_AFTER_ACKS:
                enough.set()


@pytest.mark.slow
async def test_sigterm_during_writes_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}/station-kotwali"
    process = await _serve(data, port)
    acked: list[str] = []
    enough = asyncio.Event()
    try:
        writers = [
            asyncio.create_task(_writer(url, range(1000 * w, 1000 * w + 500), acked, enough))
            for w in range(4)
        ]
        await asyncio.wait_for(enough.wait(), 120)
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(asyncio.gather(*writers), 120)
    finally:
        logs = await _stop(process)
    assert process.returncode == 0
    assert len(acked) >= SIGTERM_AFTER_ACKS

    # Restart on the same folder: every acknowledged write is there.
    process = await _serve(data, port)
    try:
        async with (
            aiohttp.ClientSession(headers={"Authorization": AUTH}) as http,
            http.post(f"{url}/_all_docs", json={"keys": acked}) as answer,
        ):
            rows = (await answer.json())["rows"]
    finally:
        logs += await _stop(process)
    assert [row["id"] for row in rows if "value" in row] == acked

    lines = [line for line in logs.decode().splitlines() if line.startswith("{")]
    requests = [orjson.loads(line) for line in lines if '"request"' in line]
    assert len(requests) >= len(acked)
    assert {"method", "path", "status", "ms", "officer", "device"} <= set(requests[0])
    assert DEMO_PASSWORD not in logs.decode()
    assert AUTH.split()[1] not in logs.decode()
