"""``beatsync-server serve`` as a real process: SIGTERM during writes loses no
acknowledged write and exits 0, and its logs are JSON lines without secrets."""

from __future__ import annotations

import asyncio
import base64
import signal
from pathlib import Path

import aiohttp
import orjson
import pytest

from server.policy.admin import DEMO_PASSWORD
from tests.peers import free_port
from tests.server.conftest import record
from tests.server.gateway.serve_process import serve, stop

AUTH = "Basic " + base64.b64encode(f"sho-kotwali:{DEMO_PASSWORD}".encode()).decode()
SIGTERM_AFTER_ACKS = 30
# A client gives up on a silent server after this long (it then counts nothing as stored).
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=30)


async def _writer(
    url: str, seeds: range, acked: list[str], enough: asyncio.Event, stopped: asyncio.Event
) -> None:
    async with aiohttp.ClientSession(
        headers={"Authorization": AUTH}, timeout=CLIENT_TIMEOUT
    ) as http:
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
            if stopped.is_set() and len(acked) >= 3 * SIGTERM_AFTER_ACKS:
                return  # the server keeps serving old connections for a while; enough


@pytest.mark.slow
async def test_sigterm_during_writes_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    data, port, log = tmp_path / "data", free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}/station-kotwali"
    process = await serve(data, port, log)
    acked: list[str] = []
    enough, stopped = asyncio.Event(), asyncio.Event()
    try:
        writers = [
            asyncio.create_task(
                _writer(url, range(1000 * w, 1000 * w + 500), acked, enough, stopped)
            )
            for w in range(4)
        ]
        await asyncio.wait_for(enough.wait(), 120)
        process.send_signal(signal.SIGTERM)
        stopped.set()
        await asyncio.wait_for(asyncio.gather(*writers), 120)
    finally:
        returncode = await stop(process)
    assert returncode == 0, log.read_text()[-3000:]
    assert len(acked) >= SIGTERM_AFTER_ACKS

    # Restart on the same folder: every acknowledged write is there.
    process = await serve(data, port, log)
    try:
        async with (
            aiohttp.ClientSession(headers={"Authorization": AUTH}) as http,
            http.post(f"{url}/_all_docs", json={"keys": acked}) as answer,
        ):
            rows = (await answer.json())["rows"]
    finally:
        assert await stop(process) == 0
    assert [row["id"] for row in rows if "value" in row] == acked

    logs = log.read_text()
    requests = [orjson.loads(line) for line in logs.splitlines() if '"request"' in line]
    assert len(requests) >= len(acked)
    assert {"method", "path", "status", "ms", "officer", "device"} <= set(requests[0])
    # The demo banner names the demo password on purpose; no log line does.
    assert not [
        line for line in logs.splitlines() if line.startswith("{") and DEMO_PASSWORD in line
    ]
    assert AUTH.split()[1] not in logs
