"""One request must not stall or starve the others (issue 14): a gzip bomb, a
catastrophic regex, a huge ``_bulk_get``, slow clients, and bad input that used
to answer 500 or log a traceback.

"Does not stall" is checked by a heartbeat on the test's own event loop (the
in-process gateway shares it): a stall of a second or more, as these attacks
caused, shows as a late heartbeat; the bound is generous (0.5 s) because the
machine is shared. Speed itself is measured by ``bench/attacks.py``.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import shutil
import threading
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient

from server.config import FairLimits, GatewayConfig
from server.gateway.app import create_app
from server.gateway.pages import MAX_BULK_GET_ENTRIES
from tests.server import conftest as fixtures
from tests.server.conftest import basic, bulk_docs, record, store_of

# Every test with `client` runs on the embedded backend and over CouchDB (pouchdb-server).
backend = fixtures.backend
client = fixtures.client_on_both
district = fixtures.district_on_both

DB = "/station-alpha"
JSON = {"Content-Type": "application/json"}
# A stall longer than this on the shared loop is the bug, not the machine's load.
STALL_BOUND_S = 0.5
# The regex the issue found: exponential backtracking on "a…ab" in a backtracking engine.
EVIL_REGEX = "^(a|aa)+$"


@asynccontextmanager
async def longest_stall() -> AsyncIterator[list[float]]:
    """Yields a one-item list holding, on exit, the longest gap between heartbeats
    scheduled every 10 ms on this loop (how long the loop was frozen)."""
    worst = [0.0]
    done = asyncio.Event()

    async def beat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            worst[0] = max(worst[0], now - last - 0.01)
            last = now

    task = asyncio.create_task(beat())
    try:
        yield worst
    finally:
        done.set()
        await task


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 256 KiB of gzip that inflates to 256 MiB of zeros."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join([*(deflate.compress(zeros) for _ in range(256)), deflate.flush()])


# -- gzip bomb -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", f"{DB}/_bulk_docs", 413),
        ("POST", "/_beatsync/enrol", 413),
        # /_up never reads its body: the bomb is drained, never inflated.
        ("GET", "/_up", 200),
    ],
)
async def test_a_gzip_bomb_is_refused_without_inflating_it(
    client: TestClient[Any, Any], district: Any, gzip_bomb: bytes, method: str, path: str,
    status: int,
) -> None:
    """Inflating the bomb's 256 MiB costs over a second of CPU: this process (the
    gateway is in it) may spend at most a fraction of that, the rest drained
    (aiohttp inflated it in slices, both before and after answering)."""
    headers = {**JSON, **basic("so-alpha"), "Content-Encoding": "gzip"}
    cpu = time.process_time()
    async with longest_stall() as stall:
        answer = await client.request(method, path, data=gzip_bomb, headers=headers)
        await answer.read()
        await asyncio.sleep(1.5)  # aiohttp's lingering drain of the refused body
    cpu = time.process_time() - cpu
    assert answer.status == status
    if status == 413:
        assert (await answer.json())["error"] == "too_large"
    assert stall[0] < STALL_BOUND_S, f"the loop froze {stall[0]:.2f} s"
    assert cpu < 0.5, f"{cpu:.2f} s of CPU for one refused body"


async def test_an_anonymous_enrolment_body_is_capped_far_below_the_body_limit(client) -> None:
    """Anyone may enrol, so anyone could make the gateway inflate 8 MiB per request:
    an enrolment (four short strings) is refused past 16 KiB, inflated or not."""
    padded = orjson.dumps({"officer_id": "so-alpha", "password": "x", "pad": " " * 20_000})
    for body, headers in (
        (padded, JSON),
        (zlib.compress(padded, wbits=31), {**JSON, "Content-Encoding": "gzip"}),
    ):
        answer = await client.post("/_beatsync/enrol", data=body, headers=headers)
        assert answer.status == 413, await answer.text()
        assert (await answer.json())["error"] == "too_large"


async def test_a_gzip_body_under_the_limit_is_still_read(client, district) -> None:
    doc = record(11)
    body = zlib.compress(orjson.dumps({"docs": [doc]}), wbits=31)
    answer = await client.post(
        f"{DB}/_bulk_docs",
        data=body,
        headers={**JSON, **basic("so-alpha"), "Content-Encoding": "gzip"},
    )
    assert answer.status == 201, await answer.text()
    assert (await answer.json())[0]["ok"] is True


async def test_a_corrupt_gzip_body_is_a_400(client, district) -> None:
    answer = await client.post(
        f"{DB}/_bulk_docs",
        data=b"\x1f\x8b\x08\x00garbage",
        headers={**JSON, **basic("so-alpha"), "Content-Encoding": "gzip"},
    )
    assert answer.status == 400
    assert (await answer.json())["error"] == "bad_request"


async def test_compressed_bodies_inflate_a_few_at_a_time(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    district_template: tuple[Path, Any],
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eight clients' gzip bodies at once: at most INFLATIONS_AT_ONCE inflate in
    the thread pool at a time (the pool password checks share), and all are stored.
    Each inflation is slowed so that, uncapped, they would overlap."""
    from server.gateway import body as body_module

    shutil.copytree(district_template[0], data_dir, dirs_exist_ok=True)
    config = dataclasses.replace(GatewayConfig(data_dir=data_dir), fair=FairLimits(per_client=8))
    client = await aiohttp_client(create_app(config))
    lock, inflating, most = threading.Lock(), [0], [0]
    real = body_module.inflate_capped

    def slow_inflate(raw: bytes, wbits: int, limit: int) -> bytes:
        with lock:
            inflating[0] += 1
            most[0] = max(most[0], inflating[0])
        try:
            time.sleep(0.2)
            return real(raw, wbits, limit)
        finally:
            with lock:
                inflating[0] -= 1

    monkeypatch.setattr(body_module, "inflate_capped", slow_inflate)
    headers = {**JSON, **basic("so-alpha"), "Content-Encoding": "gzip"}
    await (await client.get(f"{DB}", headers=basic("so-alpha"))).read()  # the KDF, once

    async def push(seed: int) -> int:
        body = zlib.compress(orjson.dumps({"docs": [record(seed)]}), wbits=31)
        answer = await client.post(f"{DB}/_bulk_docs", data=body, headers=headers)
        return answer.status

    statuses = await asyncio.gather(*(push(seed) for seed in range(60, 68)))
    assert statuses == [201] * 8
    assert most[0] == body_module.INFLATIONS_AT_ONCE


# -- regex and selectors ----------------------------------------------------------


async def test_a_catastrophic_regex_does_not_hold_the_server(client, district) -> None:
    """On the CouchDB backend the regex runs in pouchdb-server (a backtracking
    JavaScript engine); the gateway only waits for it, so its loop stays free."""
    doc = {**record(12), "_id": "a" * 35 + "b"}
    results = await bulk_docs(client, [doc], basic("so-alpha"))
    assert results[0]["ok"] is True
    async with longest_stall() as stall:
        answer = await client.post(
            f"{DB}/_changes?filter=_selector",
            json={"selector": {"_id": {"$regex": EVIL_REGEX}}},
            headers=basic("so-alpha"),
        )
        body = await answer.json()
    assert answer.status == 200, body
    assert body["results"] == []
    assert stall[0] < STALL_BOUND_S, f"the loop froze {stall[0]:.2f} s"


def _nested(depth: int) -> bytes:
    """A selector ``depth`` levels deep, as JSON text (too deep for the encoders)."""
    return b'{"$and": [' * depth + b'{"type": "complaint"}' + b"]}" * depth


@pytest.mark.parametrize(
    "selector",
    [
        pytest.param(_nested(500), id="nested-500-deep"),
        pytest.param(orjson.dumps({"$or": [{"n": i} for i in range(5000)]}), id="5000-branches"),
        pytest.param(orjson.dumps({"_id": {"$regex": "(a)\\1"}}), id="backreference"),
        pytest.param(orjson.dumps({"_id": {"$regex": "a" * 5000}}), id="regex-too-long"),
    ],
)
async def test_selectors_beyond_the_bounds_are_a_400(
    client, district, selector: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await client.post(
        f"{DB}/_changes?filter=_selector",
        data=b'{"selector": ' + selector + b"}",
        headers={**JSON, **basic("so-alpha")},
    )
    body = await answer.json()
    assert answer.status == 400, body
    assert body["error"] == "invalid_selector"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- _bulk_get ---------------------------------------------------------------------


PHOTO = base64.b64encode(b"\x89PNG" + bytes(200_000)).decode()


async def _photographed(client: TestClient[Any, Any]) -> dict[str, Any]:
    doc = {
        **record(13),
        "_attachments": {"photo.png": {"content_type": "image/png", "data": PHOTO}},
    }
    (result,) = await bulk_docs(client, [doc], basic("so-alpha"))
    assert result["ok"] is True
    return {"id": doc["_id"], "rev": result["rev"]}


async def test_bulk_get_folds_one_doc_listed_many_times_into_one_answer(client, district) -> None:
    wanted = await _photographed(client)
    answer = await client.post(
        f"{DB}/_bulk_get?attachments=true",
        json={"docs": [wanted] * 200},
        headers=basic("so-alpha"),
    )
    body = await answer.json()
    assert answer.status == 200
    assert [r["id"] for r in body["results"]] == [wanted["id"]]
    (doc,) = body["results"][0]["docs"]
    assert doc["ok"]["_attachments"]["photo.png"]["data"] == PHOTO


async def test_bulk_get_answers_each_distinct_rev_of_one_doc_once(client, district) -> None:
    wanted = await _photographed(client)
    missing = {"id": wanted["id"], "rev": "9-" + "f" * 32}
    answer = await client.post(
        f"{DB}/_bulk_get", json={"docs": [wanted, missing, wanted]}, headers=basic("so-alpha")
    )
    body = await answer.json()
    assert answer.status == 200
    found, absent = body["results"]
    assert (found["id"], absent["id"]) == (wanted["id"], wanted["id"])
    assert found["docs"][0]["ok"]["_rev"] == wanted["rev"]
    assert absent["docs"][0]["error"]["rev"] == missing["rev"]


async def test_bulk_get_over_the_entry_limit_is_413(client, district) -> None:
    docs = [{"id": f"doc-{i}"} for i in range(MAX_BULK_GET_ENTRIES + 1)]
    answer = await client.post(f"{DB}/_bulk_get", json={"docs": docs}, headers=basic("so-alpha"))
    body = await answer.json()
    assert answer.status == 413, body
    assert body["error"] == "too_large"


async def test_large_answers_are_streamed_in_chunks(client, district) -> None:
    """``_bulk_get``, ``_all_docs`` and ``_changes`` are written as they are read,
    not built in memory first: the answer comes chunked, and is still one JSON value."""
    wanted = await _photographed(client)
    await bulk_docs(client, [record(s) for s in range(20, 40)], basic("so-alpha"))
    calls = [
        ("POST", f"{DB}/_bulk_get?attachments=true", {"docs": [wanted]}),
        ("GET", f"{DB}/_all_docs?include_docs=true", None),
        ("GET", f"{DB}/_changes?include_docs=true&style=all_docs", None),
    ]
    for method, path, payload in calls:
        answer = await client.request(method, path, json=payload, headers=basic("so-alpha"))
        assert answer.status == 200
        assert answer.headers.get("Transfer-Encoding") == "chunked", path
        body = await answer.json()
        rows = body.get("results", body.get("rows"))
        assert rows, body


async def test_streamed_changes_pages_through_the_feed_in_order(client, district) -> None:
    docs = [record(s) for s in range(100, 160)]
    await bulk_docs(client, docs, basic("so-alpha"))
    store = await store_of(client)
    whole = await store.changes()
    answer = await client.get(f"{DB}/_changes", headers=basic("so-alpha"))
    body = await answer.json()
    assert [r["id"] for r in body["results"]] == [r["id"] for r in whole["results"]]
    assert body["last_seq"] == whole["last_seq"]
    limited = await (await client.get(f"{DB}/_changes?limit=7", headers=basic("so-alpha"))).json()
    assert [r["id"] for r in limited["results"]] == [r["id"] for r in whole["results"][:7]]


# -- numbers beyond 64 bits ----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"{DB}/_changes?since={2**64}",
        f"{DB}/_changes?limit={2**64}",
        f"{DB}/_all_docs?skip={2**64}",
        f"{DB}/_all_docs?limit={2**63}",
        f"{DB}/_changes?since=%D9%A1%D9%A2",  # Arabic-Indic digits pass str.isdigit()
    ],
)
async def test_numbers_beyond_64_bits_are_a_400(
    client, district, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await client.get(path, headers=basic("so-alpha"))
    body = await answer.json()
    assert answer.status == 400, body
    assert body["error"] == "query_parse_error"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- slow clients, long URLs, disconnects ----------------------------------------------

TIMEOUTS = GatewayConfig(header_timeout_s=0.5, body_timeout_s=0.5, min_body_bytes_per_s=1000)
SLOW_SOCKETS = 20


@pytest.fixture
async def timed_client(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    district_template: tuple[Path, Any],
    data_dir: Path,
) -> TestClient[Any, Any]:
    """The embedded gateway with short read timeouts (connection handling does
    not depend on the backend)."""
    shutil.copytree(district_template[0], data_dir, dirs_exist_ok=True)
    config = dataclasses.replace(TIMEOUTS, data_dir=data_dir)
    return await aiohttp_client(create_app(config))


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server sent before closing; raises TimeoutError if it kept the socket."""
    return await asyncio.wait_for(reader.read(), seconds)


async def test_slow_headers_are_cut_off_and_others_still_served(timed_client) -> None:
    host, port = timed_client.server.host, timed_client.server.port
    sockets = [await asyncio.open_connection(host, port) for _ in range(SLOW_SOCKETS)]
    try:
        started = time.perf_counter()
        for _reader, writer in sockets:
            writer.write(b"GET /_up HTTP/1.1\r\nHost: x\r\n")
        # Trickle one header line each 0.1 s: never finishing the headers.
        for n in range(5):
            for _reader, writer in sockets:
                if not writer.is_closing():
                    writer.write(f"X-Slow-{n}: 1\r\n".encode())
            await asyncio.sleep(0.1)
        up = await timed_client.get("/_up")
        assert up.status == 200
        for reader, _writer in sockets:
            await _closed_within(reader, 5)
        assert time.perf_counter() - started < 5
    finally:
        for _reader, writer in sockets:
            writer.close()


async def test_a_stalled_body_gets_408(timed_client, caplog: pytest.LogCaptureFixture) -> None:
    reader, writer = await asyncio.open_connection(
        timed_client.server.host, timed_client.server.port
    )
    try:
        auth = basic("so-alpha")["Authorization"]
        writer.write(
            f"POST {DB}/_bulk_docs HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"docs\": [".encode()
        )
        await writer.drain()
        answer = await _closed_within(reader, 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert orjson.loads(body)["error"] == "request_timeout"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_ten_kilobyte_url_is_a_400_without_a_traceback(
    client, district, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await client.get(f"{DB}/{'a' * 10_000}", headers=basic("so-alpha"))
    assert answer.status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.INFO]
    assert any("bad HTTP request" in r.getMessage() for r in caplog.records)


async def test_a_client_that_disconnects_is_logged_as_499_not_500(
    client, district, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(
            client.get(f"{DB}/_changes?feed=longpoll&since=now", headers=basic("so-alpha")), 0.5
        )
    for _ in range(100):
        access = [r for r in caplog.records if r.name == "beatsync.access"
                  and r.fields["path"].endswith("/_changes")]  # type: ignore[attr-defined]
        if access:
            break
        await asyncio.sleep(0.05)
    assert [r.fields["status"] for r in access] == [499]  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_store_failure_mid_stream_cuts_the_answer_short(
    client, district, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Once 200 is sent a failure cannot become an error answer: the connection is
    cut, so the client never takes a partial feed for the whole one."""
    from server.gateway import pages
    from sync.errors import ServiceUnavailable

    await bulk_docs(client, [record(s) for s in range(200, 212)], basic("so-alpha"))
    monkeypatch.setattr(pages, "ROWS_PAGE", 5)
    store = await store_of(client)
    calls = 0
    real_changes = store.changes

    async def failing_second_page(**options: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ServiceUnavailable("the database went away")
        return await real_changes(**options)

    monkeypatch.setattr(store, "changes", failing_second_page)
    answer = await client.get(f"{DB}/_changes", headers=basic("so-alpha"))
    assert answer.status == 200
    with pytest.raises(aiohttp.ClientError):
        await answer.read()
    assert any("cut short" in r.getMessage() for r in caplog.records)
