"""``POST /{db}/_beatsync/sync``: push and pull in one request, the same write path,
scoping and refusals as the standard endpoints."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest

from server.config import GatewayConfig
from tests.server.conftest import basic, bearer, bulk_docs, field_edits, record, store_of

URL = "/station-alpha/_beatsync/sync"
LIMIT = 64 * 1024


@pytest.fixture
def config(data_dir) -> GatewayConfig:
    return GatewayConfig(data_dir=data_dir, max_body_bytes=LIMIT)


def _lines(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in raw.splitlines() if line]


async def _session(client, body: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = await client.post(URL, json=body, headers=headers)
    assert answer.status == 200, await answer.text()
    return _lines(await answer.read())


async def test_offered_in_the_welcome(client) -> None:
    welcome = await (await client.get("/")).json()
    assert welcome["beatsync_session"] == 1


async def test_one_request_pushes_and_pulls_what_the_device_lacks(client, district) -> None:
    await bulk_docs(client, [record(1), record(2)], basic("so-alpha"))
    pushed = field_edits(district, "dev-so-alpha", [record(3)])
    lines = await _session(
        client, {"session": 1, "docs": pushed, "since": 0, "budget": 1 << 20},
        bearer(district, "dev-so-alpha"),
    )
    assert lines[0] == {"push": {"written": 2, "errors": []}}
    pulled = {d["_id"] for line in lines if "docs" in line for d in line["docs"]}
    # The server's two records come down; the device's own record and journal do not.
    assert pulled == {record(1)["_id"], record(2)["_id"]}
    assert lines[-1]["more"] is False
    store = await store_of(client)
    assert (await store.get(record(3)["_id"]))["_rev"] == pushed[0]["_rev"]
    again = await _session(
        client, {"session": 1, "since": lines[-1]["last_seq"]}, bearer(district, "dev-so-alpha")
    )
    assert [line for line in again if "docs" in line] == []


async def test_budget_pages_and_every_seq_resumes(client, district) -> None:
    await bulk_docs(client, [record(i) for i in range(40)], basic("so-alpha"))
    headers = {**bearer(district, "dev-so-alpha"), "Accept-Encoding": "gzip"}
    seen: list[str] = []
    since: Any = 0
    requests = 0
    while True:
        requests += 1
        answer = await client.post(
            URL, json={"session": 1, "since": since, "budget": 4096}, headers=headers
        )
        assert answer.headers["Content-Encoding"] == "gzip"
        lines = _lines(await answer.read())  # the test client inflates
        seen += [d["_id"] for line in lines if "docs" in line for d in line["docs"]]
        since = lines[-1]["last_seq"]
        if not lines[-1]["more"]:
            break
    assert requests > 1
    assert sorted(seen) == sorted(record(i)["_id"] for i in range(40))


async def test_beat_officer_sees_only_their_beat(client, district) -> None:
    mine, theirs = record(1, beat="alpha-one"), record(2, beat="alpha-two")
    await bulk_docs(client, [mine, theirs], basic("so-alpha"))
    lines = await _session(client, {"session": 1}, basic("bo-one"))
    assert {d["_id"] for line in lines if "docs" in line for d in line["docs"]} == {mine["_id"]}


async def test_refused_docs_get_per_doc_errors(client, district) -> None:
    bad = field_edits(district, "dev-so-alpha", [record(5, station="bravo")])
    device = bearer(district, "dev-so-alpha")
    lines = await _session(client, {"session": 1, "docs": bad[:1]}, device)
    assert lines[0]["push"]["errors"][0]["error"] == "forbidden"
    assert (await (await store_of(client)).info())["doc_count"] == 0


async def test_a_push_in_several_requests_is_not_pulled_back(client, district) -> None:
    await bulk_docs(client, [record(1)], basic("so-alpha"))
    device = bearer(district, "dev-so-alpha")
    edits = field_edits(district, "dev-so-alpha", [record(2), record(3)])
    first, second = edits[:2], edits[2:]  # each record with its journal entry
    # More of the push follows: nothing is pulled yet.
    lines = await _session(client, {"session": 1, "docs": first, "pull": False}, device)
    assert [line for line in lines if "docs" in line] == []
    assert lines[-1] == {"last_seq": 0, "more": False}
    have = [[d["_id"], d["_rev"]] for d in first]
    lines = await _session(client, {"session": 1, "docs": second, "have": have}, device)
    pulled = {d["_id"] for line in lines if "docs" in line for d in line["docs"]}
    assert pulled == {record(1)["_id"]}  # neither request's docs come back
    assert (await (await store_of(client)).info())["doc_count"] == 5


BOMB = gzip.compress(orjson.dumps({"session": 1, "docs": [], "pad": "x" * (LIMIT * 4)}))


@pytest.mark.parametrize(
    ("headers", "raw", "status"),
    [
        ({}, orjson.dumps({"session": 1}), 401),
        (basic("so-bravo"), orjson.dumps({"session": 1}), 403),
        (basic("admin"), orjson.dumps({"session": 1}), 403),
        (basic("so-alpha"), b'{"session": 1, "docs": [', 400),
        (basic("so-alpha"), orjson.dumps({"docs": []}), 400),
        (basic("so-alpha"), orjson.dumps({"session": 1, "docs": {"a": 1}}), 400),
        (basic("so-alpha"), orjson.dumps({"session": 1, "since": [1]}), 400),
        (basic("so-alpha"), orjson.dumps({"session": 1, "since": "x y"}), 400),
        (basic("so-alpha"), orjson.dumps({"session": 1, "budget": "big"}), 400),
        (basic("so-alpha"), orjson.dumps({"session": 1, "budget": 10}), 400),
        (basic("so-alpha"), orjson.dumps({"session": 1, "docs": [5]}), 400),
        (basic("so-alpha"),
         orjson.dumps({"session": 1, "docs": [record(1)], "have": [["a"]]}), 400),
        (basic("so-alpha"), orjson.dumps({"session": 1, "have": {"a": "1-x"}}), 400),
        (basic("so-alpha"),
         orjson.dumps({"session": 1, "docs": [{**record(1), "_rev": "abc"}]}), 400),
        (basic("so-alpha"),
         orjson.dumps({"session": 1, "docs": [{**record(1), "x": "y" * LIMIT}]}), 413),
        ({**basic("so-alpha"), "Content-Encoding": "gzip"}, BOMB, 413),
    ],
)
async def test_refusals_store_nothing(client, district, headers, raw, status) -> None:
    answer = await client.post(
        URL, data=raw, headers={**headers, "Content-Type": "application/json"}
    )
    assert answer.status == status, await answer.text()
    body = await answer.json()
    assert set(body) == {"error", "reason"}
    assert (await (await store_of(client)).info())["doc_count"] == 0
