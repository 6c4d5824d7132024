"""Answers cut short and calls that time out (issue 14), on both backends.

* A ``_changes`` answer cut mid-stream is truncated JSON the device throws
  away, so the device's recorded ``last_seq`` (its sync health for the office)
  stays where it was; a sync session cut mid-stream records the last resume
  point the device received whole, since it keeps every complete line.
* A store call that raises ``TimeoutError`` is one warning line and a 503 with
  ``Retry-After`` (it was a text 504 from aiohttp, logged as 500), or, once
  streaming, a cut answer; never a traceback.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.gateway import pages
from sync import session_wire
from tests.server import conftest as fixtures
from tests.server.conftest import bearer, bulk_docs, record, signed, state_of, store_of

backend = fixtures.backend
client = fixtures.client_on_both
district = fixtures.district_on_both

DB = "/station-alpha"
DEVICE = "dev-so-alpha"


def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    """No error, and no traceback at any level above debug."""
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.INFO]


async def _write(client: TestClient[Any, Any], district: Any, seeds: range) -> None:
    docs = [signed(record(s), district, DEVICE) for s in seeds]
    results = await bulk_docs(client, docs, bearer(district, DEVICE))
    assert all(r.get("ok") for r in results), results


def _fail_after(
    monkeypatch: pytest.MonkeyPatch, store: Any, name: str, calls: int, exc: Exception
) -> None:
    """The store's ``name`` works ``calls`` times, then raises ``exc``."""
    real = getattr(store, name)
    made = 0

    async def failing(*args: Any, **options: Any) -> Any:
        nonlocal made
        made += 1
        if made > calls:
            raise exc
        return await real(*args, **options)

    monkeypatch.setattr(store, name, failing)


_probes = itertools.count()


async def _recorded_seq(client: TestClient[Any, Any], district: Any) -> Any:
    """The device's ``last_seq`` as the office reads it, once the device has
    written a checkpoint (the CouchDB state writes a device's contact at most
    every few seconds, and always on a checkpoint)."""
    probe = f"{DB}/_local/probe-{next(_probes)}"
    answer = await client.put(probe, json={}, headers=bearer(district, DEVICE))
    assert answer.status == 201, await answer.text()
    # As the office lists devices (get_device is cached for the write path).
    (device,) = [d for d in await state_of(client).list_devices() if d.id == DEVICE]
    return device.last_seq


async def test_a_cut_changes_answer_leaves_the_devices_last_seq_where_it_was(
    client, district, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    headers = bearer(district, DEVICE)
    await _write(client, district, range(10, 13))
    first = await (await client.get(f"{DB}/_changes", headers=headers)).json()
    assert await _recorded_seq(client, district) == first["last_seq"]
    await _write(client, district, range(20, 32))
    store = await store_of(client)
    monkeypatch.setattr(pages, "ROWS_PAGE", 5)
    _fail_after(monkeypatch, store, "changes", 1, TimeoutError())
    answer = await client.get(f"{DB}/_changes?since={first['last_seq']}", headers=headers)
    assert answer.status == 200
    with pytest.raises(aiohttp.ClientError):
        await answer.read()
    assert any("cut short: timed out" in r.getMessage() for r in caplog.records)
    _quiet(caplog)
    # The device got nothing it can use: its recorded position has not moved.
    assert await _recorded_seq(client, district) == first["last_seq"]
    monkeypatch.undo()
    again = await (
        await client.get(f"{DB}/_changes?since={first['last_seq']}", headers=headers)
    ).json()
    assert len(again["results"]) == 12
    assert await _recorded_seq(client, district) == again["last_seq"]


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
async def test_a_cut_session_records_the_last_seq_the_device_received_whole(
    client, district, monkeypatch: pytest.MonkeyPatch, gzip: bool
) -> None:
    """Twelve changes; the leaves of the first eight are read, the next read
    fails. Plain, each of those eight lines went out whole: the device resumes
    from the eighth. Gzipped, they still waited in zlib for a flush (none is
    due before the page's checkpoint) when the answer was cut: the device got
    none of them, and its recorded position stays where the request began."""
    await _write(client, district, range(40, 52))
    store = await store_of(client)
    feed = await store.changes(style="all_docs")
    assert len(feed["results"]) == 12
    monkeypatch.setattr(session_wire, "_FLUSH_EVERY", 1 << 30)
    _fail_after(monkeypatch, store, "bulk_get", 1, TimeoutError())
    headers = {
        **bearer(district, DEVICE),
        "Accept-Encoding": "gzip" if gzip else "identity",
    }
    answer = await client.post(
        f"{DB}/{session_wire.SESSION_PATH}",
        json={"session": session_wire.VERSION, "docs": [], "since": 0},
        headers=headers,
    )
    assert answer.status == 200
    with pytest.raises(aiohttp.ClientError):
        await answer.read()
    expected = None if gzip else feed["results"][7]["seq"]
    assert await _recorded_seq(client, district) in ((0, None) if expected is None else (expected,))


async def test_a_store_call_that_times_out_is_a_503_and_one_line(
    client, district, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = await store_of(client)
    _fail_after(monkeypatch, store, "info", 0, TimeoutError())
    answer = await client.get(DB, headers=bearer(district, DEVICE))
    body = await answer.json()
    assert answer.status == 503, body
    assert body["error"] == "service_unavailable"
    assert "timed out" in body["reason"]
    assert int(answer.headers["Retry-After"]) >= 1
    lines = [r.getMessage() for r in caplog.records if r.name == "beatsync.error"]
    assert lines == [f"timed out: GET {DB}"]
    access = [r for r in caplog.records if r.name == "beatsync.access"]
    assert [r.fields["status"] for r in access] == [503]  # type: ignore[attr-defined]
    _quiet(caplog)
