"""``HttpDatabase`` against pouchdb-server 4.2, and against small loopback servers
that record what arrives (headers, paths, connections) or answer what a test
needs (errors, gzip, no ``_bulk_get``)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from sync.errors import (
    BadRequest,
    Conflict,
    CouchError,
    Forbidden,
    NotFound,
    RetryLater,
    ServiceUnavailable,
    Unauthorized,
)
from sync.http import BadPeerResponse, HttpDatabase, PeerUnreachable, TooManyRequests
from tests import peers
from tests.peers import CouchPeer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- helpers ---------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes
    peer: Any


@dataclass
class Recorder:
    """What a loopback test server received."""

    requests: list[Seen] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [seen.raw_path for seen in self.requests]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[tuple[str, Recorder]]:
    """A loopback aiohttp server running ``handler`` on every path, recording each request."""
    recorder = Recorder()

    async def recording(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        recorder.requests.append(Seen(
            request.method, request.raw_path, dict(request.headers), body,
            request.transport.get_extra_info("peername") if request.transport else None,
        ))
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recording)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), recorder
    finally:
        await server.close()


def answer(status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            status=status, body=orjson.dumps({"ok": True} if body is None else body),
            content_type="application/json", headers=headers,
        )

    return handler


def proxy_to(upstream: str, *, refuse_bulk_get: bool) -> Handler:
    """Forward everything to pouchdb-server; optionally play a server without ``_bulk_get``."""

    async def handler(request: web.Request) -> web.Response:
        if refuse_bulk_get and request.path.endswith("/_bulk_get"):
            return web.json_response({"error": "not_found", "reason": "missing"}, status=404)
        forward = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "accept", "content-encoding")}
        async with aiohttp.ClientSession() as session, session.request(
            request.method, upstream + request.raw_path, data=await request.read(),
            headers=forward, allow_redirects=False,
        ) as upstream_answer:
            return web.Response(
                status=upstream_answer.status, body=await upstream_answer.read(),
                content_type="application/json",
            )

    return handler


@pytest.fixture
async def db(couch_peer: CouchPeer, unique_db_name: str) -> AsyncIterator[HttpDatabase]:
    """A fresh database on pouchdb-server, or on $BEATSYNC_TEST_COUCHDB's CouchDB 3."""
    database = HttpDatabase(f"{couch_peer.url}/{unique_db_name}")
    await database.create()
    yield database
    await database.delete_database()
    await database.close()


# -- URL, credentials, headers, connections ----------------------------------------


@pytest.mark.parametrize(
    ("url", "identity"),
    [
        ("http://officer:s3cr%40t@127.0.0.1:5984/station-north/",
         "http://127.0.0.1:5984/station-north"),
        ("http://officer@127.0.0.1:5984/station-north", "http://127.0.0.1:5984/station-north"),
        ("https://a:b@[::1]:6984/userdb%2Fx?q=1#f", "https://[::1]:6984/userdb%2Fx"),
    ],
)
async def test_identity_has_no_credentials_nor_trailing_slash(url: str, identity: str) -> None:
    db = HttpDatabase(url)
    assert await db.identity() == identity
    assert db.url == identity
    assert "s3cr" not in repr(db)
    await db.close()


def test_a_relative_url_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        HttpDatabase("127.0.0.1:5984/station-north")


async def test_url_credentials_become_basic_auth_and_leave_the_url() -> None:
    async with serve(answer(body={"db_name": "station-north"})) as (base, seen):
        host = base.removeprefix("http://")
        async with HttpDatabase(f"http://officer:s3cr%40t@{host}/station-north") as db:
            await db.info()
    (request,) = seen.requests
    assert request.raw_path == "/station-north"
    expected = base64.b64encode(b"officer:s3cr@t").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


async def test_a_str_auth_is_a_bearer_token_and_wins_over_url_credentials() -> None:
    async with serve(answer(body={"db_name": "d"})) as (base, seen):
        host = base.removeprefix("http://")
        async with HttpDatabase(f"http://officer:pw@{host}/d", auth="tok-123") as db:
            await db.info()
            await db.get("x")
    assert [r.headers["Authorization"] for r in seen.requests] == ["Bearer tok-123"] * 2


async def test_requests_reuse_one_connection_and_ask_for_gzip() -> None:
    async with serve(answer(body={"db_name": "d"})) as (base, seen):
        db = HttpDatabase(f"{base}/d")
        for _ in range(5):
            await db.info()
        await db.close()
    assert len({r.peer for r in seen.requests}) == 1  # one keep-alive connection
    assert all(r.headers["Accept-Encoding"] == "gzip" for r in seen.requests)
    assert all(r.headers["Accept"] == "application/json" for r in seen.requests)


async def test_a_gzipped_answer_is_decoded_and_counted_as_wire_bytes() -> None:
    doc = {"_id": "big", "_rev": "1-a", "text": "station diary " * 500}
    packed = gzip.compress(orjson.dumps(doc))

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(body=packed, content_type="application/json",
                            headers={"Content-Encoding": "gzip"})

    async with serve(gzipped) as (base, _), HttpDatabase(f"{base}/d") as db:
        assert await db.get("big") == doc
        assert db.stats.requests == 1
        # Compressed body plus headers: far below the 7 KB of JSON.
        assert len(packed) < db.stats.bytes_received < len(packed) + 1000


async def test_request_bodies_are_plain_by_default_and_gzipped_on_request() -> None:
    docs = [{"_id": f"d{i}", "text": "visitor entry " * 20} for i in range(20)]

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({} if request.path.endswith("/_revs_diff") else [])

    async with serve(handler) as (base, seen):
        async with HttpDatabase(f"{base}/d") as plain:
            await plain.bulk_docs(docs)
            await plain.revs_diff({"a": ["1-x"]})  # small: never compressed
        async with HttpDatabase(f"{base}/d", compress_requests=True) as packed:
            await packed.bulk_docs(docs)
            await packed.revs_diff({"a": ["1-x"]})
            sent = packed.stats.bytes_sent
    big_plain, small_plain, big_packed, small_packed = seen.requests
    assert "Content-Encoding" not in big_plain.headers
    assert "Content-Encoding" not in small_plain.headers
    assert "Content-Encoding" not in small_packed.headers
    assert big_packed.headers["Content-Encoding"] == "gzip"
    # aiohttp's server inflates the body it reads; the header tells the wire size.
    assert orjson.loads(big_packed.body) == orjson.loads(big_plain.body)
    assert int(big_packed.headers["Content-Length"]) < len(big_plain.body) / 5
    assert sent < len(big_plain.body)


@pytest.mark.pouchdb
async def test_gzipped_bulk_docs_are_accepted_by_pouchdb_server(
    couch_peer: CouchPeer, unique_db_name: str
) -> None:
    async with HttpDatabase(
        f"{couch_peer.url}/{unique_db_name}", compress_requests=True
    ) as db:
        await db.create()
        try:
            docs = [{"_id": f"d{i:03d}", "text": "complaint " * 30} for i in range(50)]
            results = await db.bulk_docs(docs)
            assert all(r.get("ok") for r in results)
            assert (await db.info())["doc_count"] == 50
        finally:
            await db.delete_database()


# -- document ids reach the right URL ------------------------------------------------

AWKWARD_IDS = ["a/b", "../_all_dbs", "a+b c", "..", ".", "100%", "ü?x#y&z=1"]


async def test_doc_ids_are_one_path_segment() -> None:
    async with serve(answer(body={"_id": "x", "_rev": "1-a"})) as (base, seen):
        db = HttpDatabase(f"{base}/d")
        for doc_id in ["a/b", "../_all_dbs", "a+b", "..", "_design/app/x", "_local/c/d"]:
            await db.get(doc_id)
        await db.close()
    assert seen.paths() == [
        "/d/a%2Fb", "/d/..%2F_all_dbs", "/d/a%2Bb", "/d/%2E%2E",
        "/d/_design/app%2Fx", "/d/_local/c%2Fd",
    ]


@pytest.mark.pouchdb
async def test_awkward_doc_ids_round_trip_through_pouchdb_server(db: HttpDatabase) -> None:
    with pytest.raises(NotFound):
        await db.get("../_all_dbs")  # not the server's database list
    for doc_id in AWKWARD_IDS:
        written = await db.put({"_id": doc_id, "n": 1})
        assert written["id"] == doc_id
        assert (await db.get(doc_id))["_id"] == doc_id
    rows = (await db.all_docs())["rows"]
    assert sorted(row["id"] for row in rows) == sorted(AWKWARD_IDS)


@pytest.mark.pouchdb
async def test_local_docs_with_awkward_ids(db: HttpDatabase, couch_peer: CouchPeer) -> None:
    first = await db.put_local({"_id": "_local/rep/a+b", "seq": 1})
    assert (await db.get_local("_local/rep/a+b"))["seq"] == 1
    if couch_peer.couchdb3:
        # CouchDB 3's _local documents never conflict: no _rev gives the next one.
        first = await db.put_local({"_id": "_local/rep/a+b", "seq": 2})
        assert first["rev"] == "0-2"
    else:
        with pytest.raises(Conflict):  # pouchdb-server: no _rev is stale
            await db.put_local({"_id": "_local/rep/a+b", "seq": 2})
    second = await db.put_local({"_id": "_local/rep/a+b", "_rev": first["rev"], "seq": 2})
    await db.delete_local("_local/rep/a+b", second["rev"])
    with pytest.raises(NotFound):
        await db.get_local("_local/rep/a+b")
    assert (await db.all_docs())["rows"] == []  # local docs are not listed


async def test_bad_arguments_are_refused_before_anything_is_sent() -> None:
    async with serve(answer()) as (base, seen), HttpDatabase(f"{base}/d") as db:
        with pytest.raises(BadRequest):
            await db.put({"n": 1})  # no _id
        with pytest.raises(BadRequest):
            await db.get_local("not-local")
        with pytest.raises(BadRequest):
            await db.changes(doc_ids=["a"], selector={"type": "complaint"})
        assert db.stats.requests == 0
    assert seen.requests == []


# -- errors ---------------------------------------------------------------------------


@pytest.mark.pouchdb
async def test_couchdb_errors_map_to_our_classes(db: HttpDatabase) -> None:
    with pytest.raises(NotFound) as missing:
        await db.get("nobody")
    assert missing.value.reason == "missing"
    first = await db.put({"_id": "c1", "n": 1})
    with pytest.raises(Conflict):
        await db.put({"_id": "c1", "n": 2})
    await db.put({"_id": "c1", "_rev": first["rev"], "_deleted": True})
    with pytest.raises(NotFound) as deleted:
        await db.get("c1")
    assert deleted.value.reason in ("deleted", "missing")  # CouchDB 3 / pouchdb-server 4.2
    assert not missing.value.transient


@pytest.mark.pouchdb
async def test_database_lifecycle(couch_peer: CouchPeer, unique_db_name: str) -> None:
    async with HttpDatabase(f"{couch_peer.url}/{unique_db_name}") as db:
        assert not await db.exists()
        with pytest.raises(NotFound):
            await db.info()
        await db.create()
        await db.create()  # 412 file_exists: already there is fine
        assert await db.exists()
        info = await db.info()
        assert info["db_name"] == unique_db_name
        assert info["doc_count"] == 0
        await db.delete_database()
        assert not await db.exists()


@pytest.mark.parametrize(
    ("status", "body", "headers", "error_class", "transient", "retry_after"),
    [
        (400, {"error": "bad_request", "reason": "x"}, None, BadRequest, False, None),
        (401, {"error": "unauthorized", "reason": "x"}, None, Unauthorized, False, None),
        (401, {"error": "device_revoked", "reason": "wipe"}, None, Unauthorized, False, None),
        (403, {"error": "forbidden", "reason": "x"}, None, Forbidden, False, None),
        (503, {"error": "service_unavailable", "reason": "x"}, {"Retry-After": "7"},
         ServiceUnavailable, True, 7.0),
        (429, {"error": "too_many_requests", "reason": "x"}, {"Retry-After": "3"},
         TooManyRequests, True, 3.0),
        (500, "<html>oops</html>", None, CouchError, True, None),
    ],
)
async def test_error_answers_keep_status_name_and_retry_after(
    status: int, body: Any, headers: dict[str, str] | None, error_class: type[CouchError],
    transient: bool, retry_after: float | None,
) -> None:
    async with serve(answer(status, body, headers)) as (base, _), HttpDatabase(f"{base}/d") as db:
        with pytest.raises(error_class) as caught:
            await db.get("x")
    assert caught.value.status == status
    assert caught.value.transient is transient
    if isinstance(body, dict):
        assert caught.value.error_name == body["error"]
        assert caught.value.reason == body["reason"]
    if retry_after is not None:
        assert isinstance(caught.value, RetryLater)
        assert caught.value.retry_after == retry_after


async def test_a_2xx_answer_that_is_not_json_is_a_transient_bad_gateway() -> None:
    async def portal(request: web.Request) -> web.Response:
        return web.Response(text="<html>Please log in to the hotel wifi</html>",
                            content_type="text/html")

    async with serve(portal) as (base, _), HttpDatabase(f"{base}/d") as db:
        with pytest.raises(BadPeerResponse) as caught:
            await db.info()
    assert caught.value.status == 502
    assert caught.value.transient


async def test_connection_refused_is_transient() -> None:
    port = peers.free_port()  # nothing listens there
    async with HttpDatabase(f"http://127.0.0.1:{port}/d") as db:
        with pytest.raises(PeerUnreachable) as caught:
            await db.info()
    assert caught.value.transient
    assert isinstance(caught.value, ServiceUnavailable)
    assert caught.value.retry_after == 0  # nobody asked us to wait


async def test_a_server_that_stops_answering_is_a_transient_timeout() -> None:
    async def stuck(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    async with serve(stuck) as (base, _), HttpDatabase(f"{base}/d", request_timeout=0.3) as db:
        with pytest.raises(PeerUnreachable) as caught:
            await db.info()
    assert caught.value.timed_out
    assert caught.value.transient


async def test_a_closed_database_refuses_work() -> None:
    db = HttpDatabase("http://127.0.0.1:9/d")
    await db.close()
    await db.close()  # idempotent
    with pytest.raises(RuntimeError):
        await db.info()


# -- _bulk_get and its fallback --------------------------------------------------------


async def _tree_with_conflicts(db: HttpDatabase) -> list[dict[str, Any]]:
    """Docs with history, two conflicting leaves, a deletion; the requests to read them."""
    one = await db.put({"_id": "plain", "n": 1})
    two = await db.put({"_id": "plain", "_rev": one["rev"], "n": 2})
    await db.bulk_docs([
        {"_id": "split", "_rev": "2-bbb", "side": "b",
         "_revisions": {"start": 2, "ids": ["bbb", "aaa"]}},
        {"_id": "split", "_rev": "2-ccc", "side": "c",
         "_revisions": {"start": 2, "ids": ["ccc", "aaa"]}},
        {"_id": "gone", "_rev": "2-ddd", "_deleted": True,
         "_revisions": {"start": 2, "ids": ["ddd", "eee"]}},
        {"_id": "a/b+c", "_rev": "1-fff", "odd": True},
    ], new_edits=False)
    return [
        {"id": "plain", "rev": two["rev"]},
        {"id": "plain", "rev": one["rev"]},
        {"id": "split", "rev": "2-ccc"},
        {"id": "split", "rev": "2-bbb"},
        {"id": "gone", "rev": "2-ddd"},
        {"id": "a/b+c", "rev": "1-fff"},
        {"id": "plain", "rev": "9-nothere"},
        {"id": "nobody", "rev": "1-abc"},
        {"id": "plain"},
        {"id": "nobody"},
    ]


@pytest.mark.pouchdb
async def test_bulk_get_answers_in_couchdb_shape(db: HttpDatabase) -> None:
    requests = await _tree_with_conflicts(db)
    results = await db.bulk_get(requests)
    assert [r["id"] for r in results] == [q["id"] for q in requests]
    by_request = {
        (q["id"], q.get("rev")): r["docs"] for q, r in zip(requests, results, strict=True)
    }
    (split_c,) = by_request[("split", "2-ccc")]
    assert split_c["ok"]["side"] == "c"
    assert split_c["ok"]["_revisions"] == {"start": 2, "ids": ["ccc", "aaa"]}
    (gone,) = by_request[("gone", "2-ddd")]
    assert gone["ok"]["_deleted"] is True
    assert by_request[("nobody", "1-abc")] == [
        {"error": {"id": "nobody", "rev": "1-abc", "error": "not_found", "reason": "missing"}}
    ]
    assert by_request[("nobody", None)] == [
        {"error": {"id": "nobody", "rev": "undefined", "error": "not_found", "reason": "missing"}}
    ]
    (winner,) = by_request[("plain", None)]
    assert winner["ok"]["n"] == 2


@pytest.mark.pouchdb
@pytest.mark.parametrize("latest", [False, True])
async def test_bulk_get_fallback_gives_the_same_results(
    db: HttpDatabase, couch_peer: CouchPeer, latest: bool
) -> None:
    requests = await _tree_with_conflicts(db)
    if latest:
        # pouchdb-server 4.2 crashes (pouchdb-merge throws "Unable to resolve
        # latest revision") on latest=true with an unknown rev of a known doc.
        requests.remove({"id": "plain", "rev": "9-nothere"})
    expected = await db.bulk_get(requests, latest=latest)
    proxy = proxy_to(couch_peer.url, refuse_bulk_get=True)
    async with serve(proxy) as (base, seen):
        name = db.url.rsplit("/", 1)[1]
        async with HttpDatabase(f"{base}/{name}") as old_server:
            assert await old_server.bulk_get(requests, latest=latest) == expected
            assert await old_server.bulk_get(requests[:3], latest=latest) == expected[:3]
    bulk_get_calls = [p for p in seen.paths() if "_bulk_get" in p]
    assert len(bulk_get_calls) == 1  # the answer is remembered for this instance
    per_doc = [r for r in seen.requests if r.method == "GET"]
    assert len(per_doc) == len(requests) + 3
    assert all(r.headers["Accept"] == "application/json" for r in per_doc)


@pytest.mark.pouchdb
async def test_bulk_get_on_a_missing_database_raises(
    couch_peer: CouchPeer, unique_db_name: str
) -> None:
    async with HttpDatabase(f"{couch_peer.url}/{unique_db_name}") as db:
        with pytest.raises(NotFound):
            await db.bulk_get([{"id": "a", "rev": "1-a"}])


# -- documents, revs_diff, all_docs ----------------------------------------------------


@pytest.mark.pouchdb
async def test_get_options_and_open_revs(db: HttpDatabase) -> None:
    await db.bulk_docs([
        {"_id": "d", "_rev": "2-bbb", "v": "b", "_revisions": {"start": 2, "ids": ["bbb", "aaa"]}},
        {"_id": "d", "_rev": "2-ccc", "v": "c", "_revisions": {"start": 2, "ids": ["ccc", "aaa"]}},
    ], new_edits=False)
    winner = await db.get("d", conflicts=True, revs=True)
    assert winner["_rev"] == "2-ccc"
    assert winner["_conflicts"] == ["2-bbb"]
    assert winner["_revisions"] == {"start": 2, "ids": ["ccc", "aaa"]}
    assert (await db.get("d", rev="2-bbb"))["v"] == "b"
    leaves = await db.open_revs("d", "all")
    assert sorted(entry["ok"]["_rev"] for entry in leaves) == ["2-bbb", "2-ccc"]
    picked = await db.open_revs("d", ["2-bbb", "3-zzz"])
    assert {"missing": "3-zzz"} in picked
    assert [e["ok"]["v"] for e in picked if "ok" in e] == ["b"]


@pytest.mark.pouchdb
async def test_revs_diff_and_bulk_docs_results(db: HttpDatabase) -> None:
    first = await db.put({"_id": "a", "n": 1})
    results = await db.bulk_docs([{"_id": "a", "n": 2}, {"_id": "b", "n": 1}])
    assert results[0]["error"] == "conflict"
    assert results[1]["ok"] is True
    diff = await db.revs_diff({"a": [first["rev"], "2-xyz"], "b": [results[1]["rev"]], "c": []})
    assert list(diff) == ["a"]  # like CouchDB: only ids with missing revs
    assert diff["a"]["missing"] == ["2-xyz"]


@pytest.mark.pouchdb
async def test_a_replicated_put_answers_in_couchdbs_shape(db: HttpDatabase) -> None:
    replayed = {"_id": "r", "_rev": "1-abc", "n": 1}
    assert await db.put(replayed, new_edits=False) == {"ok": True, "id": "r", "rev": "1-abc"}
    assert await db.put(replayed, new_edits=False) == {"ok": True, "id": "r", "rev": "1-abc"}
    with pytest.raises(BadRequest):
        await db.put({"_id": "s", "_rev": "bogus", "n": 1}, new_edits=False)
    assert (await db.get("r"))["_rev"] == "1-abc"


@pytest.mark.pouchdb
async def test_all_docs_by_range_and_by_keys(db: HttpDatabase) -> None:
    await db.bulk_docs([{"_id": f"k{i}", "n": i} for i in range(6)])
    ranged = await db.all_docs(startkey="k1", endkey="k4", inclusive_end=False)
    assert [row["id"] for row in ranged["rows"]] == ["k1", "k2", "k3"]
    backwards = await db.all_docs(descending=True, limit=2, skip=1, include_docs=True)
    assert [row["doc"]["n"] for row in backwards["rows"]] == [4, 3]
    keyed = await db.all_docs(keys=["k5", "k0", "zz"])
    assert [row["key"] for row in keyed["rows"]] == ["k5", "k0", "zz"]
    assert keyed["rows"][2].get("error") == "not_found"


# -- _changes ------------------------------------------------------------------------


@pytest.mark.pouchdb
async def test_changes_normal_filtered_and_all_docs_style(db: HttpDatabase) -> None:
    await db.bulk_docs([{"_id": f"c{i}", "n": i} for i in range(5)])
    await db.bulk_docs([
        {"_id": "c0", "_rev": "1-zzz", "_revisions": {"start": 1, "ids": ["zzz"]}, "n": -1}
    ], new_edits=False)
    everything = await db.changes(include_docs=True)
    assert sorted(r["id"] for r in everything["results"]) == [f"c{i}" for i in range(5)]
    assert all("doc" in r for r in everything["results"])
    limited = await db.changes(limit=2)
    assert len(limited["results"]) == 2
    rest = await db.changes(since=limited["last_seq"])
    assert len(rest["results"]) == 3
    assert (await db.changes(since=everything["last_seq"]))["results"] == []
    chosen = await db.changes(doc_ids=["c3", "c1"])
    assert sorted(r["id"] for r in chosen["results"]) == ["c1", "c3"]
    both = await db.changes(style="all_docs", doc_ids=["c0"])
    (row,) = both["results"]
    assert len(row["changes"]) == 2  # both leaves offered


@pytest.mark.pouchdb
async def test_longpoll_returns_on_a_write(db: HttpDatabase) -> None:
    since = (await db.info())["update_seq"]
    poll = asyncio.create_task(db.changes(since=since, feed="longpoll", timeout=30))
    await asyncio.sleep(0.2)  # let the poll reach the server first
    assert not poll.done()
    await db.put({"_id": "late", "n": 1})
    result = await asyncio.wait_for(poll, 20)
    assert [r["id"] for r in result["results"]] == ["late"]


@pytest.mark.pouchdb
async def test_continuous_feed_delivers_a_later_write_and_closes_cleanly(
    db: HttpDatabase,
) -> None:
    await db.put({"_id": "before", "n": 0})
    since = (await db.info())["update_seq"]
    feed = db.changes_feed(since=since, heartbeat=0.2, include_docs=True)
    first = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0.5)  # the feed is open and heartbeating, nothing to deliver
    assert not first.done()
    await db.put({"_id": "after", "n": 1})
    row = await asyncio.wait_for(first, 20)
    assert row["id"] == "after"
    assert row["doc"]["n"] == 1
    await feed.aclose()
    # A new feed from the same instance starts over cleanly on the same pool.
    again = db.changes_feed(since=0)
    try:
        ids = [(await asyncio.wait_for(anext(again), 20))["id"] for _ in range(2)]
    finally:
        await again.aclose()
    assert sorted(ids) == ["after", "before"]


@pytest.mark.pouchdb
async def test_continuous_feed_with_doc_ids(db: HttpDatabase) -> None:
    since = (await db.info())["update_seq"]
    feed = db.changes_feed(since=since, doc_ids=["wanted"], heartbeat=1)
    try:
        await db.bulk_docs([{"_id": "noise", "n": 1}, {"_id": "wanted", "n": 2}])
        row = await asyncio.wait_for(anext(feed), 20)
    finally:
        await feed.aclose()
    assert row["id"] == "wanted"


async def test_a_continuous_feed_cut_off_midway_is_transient() -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b'{"seq": 1, "id": "a", "changes": [{"rev": "1-a"}]}\n\n')
        return response  # ends without the final {"last_seq"} line

    async with serve(cut) as (base, seen), HttpDatabase(f"{base}/d") as db:
        feed = db.changes_feed(since=0, heartbeat=5)
        assert (await anext(feed))["id"] == "a"
        with pytest.raises(PeerUnreachable):
            await anext(feed)
    assert "feed=continuous" in seen.requests[0].raw_path


async def test_a_continuous_feed_that_ends_cleanly_reopens_from_its_last_seq() -> None:
    rows = [b'{"seq": 1, "id": "a", "changes": [{"rev": "1-a"}]}\n{"last_seq": 1}\n',
            b'{"seq": 2, "id": "b", "changes": [{"rev": "1-b"}]}\n']

    async def twice(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(rows.pop(0))
        if not rows:
            await asyncio.sleep(30)  # then stay open, like a live feed
        return response

    async with serve(twice) as (base, seen), HttpDatabase(f"{base}/d") as db:
        feed = db.changes_feed(since=0)
        try:
            assert [(await anext(feed))["id"] for _ in range(2)] == ["a", "b"]
        finally:
            await feed.aclose()
    assert "since=0" in seen.requests[0].raw_path
    assert "since=1" in seen.requests[1].raw_path


# -- counters ------------------------------------------------------------------------


@pytest.mark.pouchdb
async def test_stats_count_requests_and_bytes(db: HttpDatabase) -> None:
    before = (db.stats.requests, db.stats.bytes_sent, db.stats.bytes_received)
    payload = base64.b64encode(os.urandom(6000)).decode()  # gzip cannot shrink it much
    await db.put({"_id": "s", "payload": payload})
    await db.get("s")
    assert db.stats.requests == before[0] + 2
    assert db.stats.bytes_sent - before[1] > len(payload)
    assert db.stats.bytes_received - before[2] > len(payload) * 0.7


# -- as a replication peer ------------------------------------------------------------


async def _leaves(db: HttpDatabase) -> dict[str, list[Any]]:
    ids = [row["id"] for row in (await db.all_docs())["rows"]]
    deleted = [row["id"] for row in (await db.changes())["results"] if row.get("deleted")]
    out = {}
    for doc_id in sorted({*ids, *deleted}):
        leaves = await db.open_revs(doc_id, "all")
        out[doc_id] = sorted((e["ok"]["_rev"], e["ok"]) for e in leaves if "ok" in e)
    return out


@pytest.mark.pouchdb
@pytest.mark.parametrize("source_has_bulk_get", [True, False])
async def test_replicates_between_two_pouchdb_server_databases(
    db: HttpDatabase, couch_peer: CouchPeer, unique_db_name: str, source_has_bulk_get: bool
) -> None:
    from sync.replication import replicate

    await _tree_with_conflicts(db)
    await db.bulk_docs([{"_id": f"r{i:03d}", "n": i} for i in range(120)])
    source_name = db.url.rsplit("/", 1)[1]
    proxy = proxy_to(couch_peer.url, refuse_bulk_get=not source_has_bulk_get)
    async with (
        serve(proxy) as (base, seen),
        HttpDatabase(f"{base}/{source_name}") as source,
        HttpDatabase(f"{couch_peer.url}/{unique_db_name}-copy") as target,
    ):
        await target.create()
        try:
            result = await replicate(source, target, batch_size=50)
            assert result.ok
            assert result.doc_write_failures == 0
            assert await _leaves(target) == await _leaves(db)
            again = await replicate(source, target)  # from the checkpoint: nothing to do
            assert again.docs_written == 0
        finally:
            await target.delete_database()
    assert any("_bulk_get" in path for path in seen.paths())
    per_doc_gets = [r for r in seen.requests if r.method == "GET" and "open_revs" in r.raw_path]
    assert bool(per_doc_gets) is not source_has_bulk_get


# -- stale connections, longpoll deadlines, _bulk_get memory ---------------------------


def _drops_the_second_request() -> Handler:
    count = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal count
        count += 1
        if count == 2 and request.transport is not None:
            request.transport.abort()  # as a server dropping an idle keep-alive connection
        return web.json_response({"ok": True, "id": "x", "rev": "1-a", "n": count})

    return handler


async def test_a_read_meeting_a_dropped_connection_is_sent_again() -> None:
    async with serve(_drops_the_second_request()) as (base, seen):
        db = HttpDatabase(f"{base}/d")
        await db.info()
        # A POST, which aiohttp itself never re-sends: the retry is ours.
        assert (await db.all_docs(keys=["x"]))["n"] == 3
        await db.close()
    assert db.stats.requests == 3
    assert [r.method for r in seen.requests] == ["GET", "POST", "POST"]


async def test_a_new_edit_meeting_a_dropped_connection_is_not_sent_twice() -> None:
    async with serve(_drops_the_second_request()) as (base, seen):
        db = HttpDatabase(f"{base}/d")
        await db.info()
        with pytest.raises(PeerUnreachable):
            await db.bulk_docs([{"_id": "x", "n": 1}])
        await db.close()
    assert [r.method for r in seen.requests] == ["GET", "POST"]


async def test_a_longpoll_held_past_its_timeout_ends_with_no_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sync.http import remote as http_remote

    monkeypatch.setattr(http_remote, "LONGPOLL_GRACE", 0.3)

    async def holds(request: web.Request) -> web.Response:
        await asyncio.sleep(30)  # pouchdb-server's idle longpoll
        return web.json_response({})

    async with serve(holds) as (base, seen), HttpDatabase(f"{base}/d") as db:
        result = await db.changes(since="7-abc", feed="longpoll", timeout=0.2)
        assert result == {"results": [], "last_seq": "7-abc", "pending": 0}
        with pytest.raises(PeerUnreachable):  # "now" names no seq to report back
            await db.changes(since="now", feed="longpoll", timeout=0.2)
    assert "feed=longpoll" in seen.requests[0].raw_path
    assert "timeout=200" in seen.requests[0].raw_path


async def test_a_404_from_bulk_get_after_it_worked_is_an_error() -> None:
    answers = [web.json_response({"results": [{"id": "a", "docs": [{"missing": "1-a"}]}]}),
               web.json_response({"error": "not_found", "reason": "missing"}, status=404)]

    async def handler(request: web.Request) -> web.Response:
        return answers.pop(0)

    async with serve(handler) as (base, _), HttpDatabase(f"{base}/d") as db:
        first = await db.bulk_get([{"id": "a", "rev": "1-a"}])
        assert first == [{"id": "a", "docs": [
            {"error": {"id": "a", "rev": "1-a", "error": "not_found", "reason": "missing"}}]}]
        with pytest.raises(NotFound):
            await db.bulk_get([{"id": "a", "rev": "1-a"}])


async def test_atts_since_goes_in_bulk_get_and_in_its_per_document_fallback() -> None:
    # Played by a recording server: what matters is what a CouchDB would receive.
    doc = {"_id": "v", "_rev": "2-b", "_attachments": {}}
    answers = [web.json_response({"error": "not_found", "reason": "missing"}, status=404),
               web.json_response([{"ok": doc}])]

    async def handler(request: web.Request) -> web.Response:
        return answers.pop(0)

    request = {"id": "v", "rev": "2-b", "atts_since": ["1-a"]}
    async with serve(handler) as (base, seen), HttpDatabase(f"{base}/d") as db:
        result = await db.bulk_get([request])
    assert result == [{"id": "v", "docs": [{"ok": doc}]}]
    bulk, single = seen.requests
    assert orjson.loads(bulk.body) == {"docs": [request]}
    # atts_since implies attachments (CouchDB); PouchDB needs the flag said.
    assert "attachments=true" in bulk.raw_path
    query = URL(single.raw_path).query
    assert (query["open_revs"], query["atts_since"], query["attachments"]) == (
        '["2-b"]', '["1-a"]', "true")


async def test_purge_and_revs_limit_speak_couchdbs_endpoints() -> None:
    # pouchdb-server 4.2 has neither endpoint, so a recording server plays CouchDB.
    async def couch(request: web.Request) -> web.Response:
        if request.path.endswith("/_revs_limit"):
            return web.Response(text="1000\n", content_type="application/json")
        return web.json_response({"purge_seq": None, "purged": await request.json()}, status=201)

    async with serve(couch) as (base, seen), HttpDatabase(f"{base}/d") as db:
        assert await db.revs_limit() == 1000
        purged = await db.purge({"a/b": ["1-x", "2-y"]})
    assert purged["purged"] == {"a/b": ["1-x", "2-y"]}
    assert [(r.method, r.raw_path) for r in seen.requests] == [
        ("GET", "/d/_revs_limit"), ("POST", "/d/_purge"),
    ]


# -- selectors on servers without the _selector filter ---------------------------------

SELECTOR_DOCS = [
    {"_id": "c1", "type": "complaint", "beat_id": "north", "n": 1},
    {"_id": "c2", "type": "complaint", "beat_id": "south", "n": 2},
    {"_id": "v1", "type": "visitor_entry", "beat_id": "north", "n": 3},
]


@pytest.mark.pouchdb
async def test_selectors_are_applied_here_for_pouchdb_server(db: HttpDatabase) -> None:
    # pouchdb-server 4.2 would crash on filter=_selector: it must never see one.
    await db.bulk_docs(SELECTOR_DOCS)
    feed = await db.changes(selector={"type": "complaint", "n": {"$gte": 2}})
    assert [row["id"] for row in feed["results"]] == ["c2"]
    assert "doc" not in feed["results"][0]
    assert feed["last_seq"] == (await db.changes())["last_seq"]
    north = await db.changes(selector={"beat_id": "north"}, include_docs=True)
    assert [row["doc"]["n"] for row in north["results"]] == [1, 3]
    with pytest.raises(BadRequest):
        await db.changes(selector={"n": {"$nonsense": 1}})
    since = (await db.info())["update_seq"]
    live = db.changes_feed(since=since, selector={"type": "complaint"}, heartbeat=1)
    try:
        await db.bulk_docs([{"_id": "v2", "type": "visitor"}, {"_id": "c3", "type": "complaint"}])
        row = await asyncio.wait_for(anext(live), 20)
    finally:
        await live.aclose()
    assert row["id"] == "c3"
    assert (await db.info())["doc_count"] == 5  # the server is still up


async def test_a_couchdb_gets_the_selector_and_a_404_turns_on_local_filtering() -> None:
    rows = [{"seq": i + 1, "id": d["_id"], "changes": [{"rev": "1-a"}], "doc": d}
            for i, d in enumerate(SELECTOR_DOCS)]

    async def couch(request: web.Request) -> web.Response:
        if request.path == "/":
            return web.json_response({"couchdb": "Welcome", "version": "3.3.3"})
        if request.query.get("filter") == "_selector":
            return web.json_response({"error": "not_found", "reason": "missing"}, status=404)
        return web.json_response({"results": rows, "last_seq": 3, "pending": 0})

    async with serve(couch) as (base, seen), HttpDatabase(f"{base}/d") as db:
        first = await db.changes(selector={"beat_id": "north"})
        second = await db.changes(selector={"beat_id": "south"})
    assert [r["id"] for r in first["results"]] == ["c1", "v1"]
    assert [r["id"] for r in second["results"]] == ["c2"]
    asked = [(r.method, r.raw_path.split("?")[0], "filter=_selector" in r.raw_path)
             for r in seen.requests]
    assert asked == [
        ("GET", "/", False), ("POST", "/d/_changes", True), ("GET", "/d/_changes", False),
        ("GET", "/d/_changes", False),
    ]
    assert orjson.loads(seen.requests[1].body) == {"selector": {"beat_id": "north"}}
