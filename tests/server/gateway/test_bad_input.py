"""Bad input on every endpoint → a 4xx JSON error in CouchDB's shape, nothing stored,
and the server still healthy afterwards."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest

from server.config import GatewayConfig
from tests.server.conftest import basic, record, state_of, store_of

DB = "/station-alpha"
LIMIT = 64 * 1024
GOOD = record(1)


@pytest.fixture
def config(data_dir) -> GatewayConfig:
    # A small body limit so "too large" costs nothing to test.
    return GatewayConfig(data_dir=data_dir, max_body_bytes=LIMIT)


def _docs(*docs: Any) -> bytes:
    return orjson.dumps({"docs": list(docs)})


BIG = orjson.dumps({"docs": [{**GOOD, "purpose": "x" * (LIMIT + 10)}]})
JSON = {"Content-Type": "application/json"}

# (method, path, raw body, extra headers, expected status, expected error name or None)
CASES: dict[str, tuple[str, str, bytes | None, dict[str, str], int, str | None]] = {
    "malformed_json": ("POST", f"{DB}/_bulk_docs", b'{"docs": [', JSON, 400, "bad_request"),
    "not_utf8": ("POST", f"{DB}/_bulk_docs", b'{"docs": ["\xff"]}', JSON, 400, "bad_request"),
    "wrong_content_type": (
        "POST",
        f"{DB}/_bulk_docs",
        _docs(GOOD),
        {"Content-Type": "text/plain"},
        415,
        "bad_content_type",
    ),
    "docs_not_a_list": ("POST", f"{DB}/_bulk_docs", b'{"docs": {"a": 1}}', JSON, 400, None),
    "body_not_an_object": ("POST", f"{DB}/_bulk_docs", b"[1, 2]", JSON, 400, None),
    "doc_not_an_object": ("POST", f"{DB}/_bulk_docs", _docs(GOOD, 5), JSON, 400, None),
    "new_edits_not_bool": (
        "POST",
        f"{DB}/_bulk_docs",
        b'{"docs": [], "new_edits": "no"}',
        JSON,
        400,
        None,
    ),
    "invalid_rev": (
        "POST",
        f"{DB}/_bulk_docs",
        _docs(GOOD, {**record(2), "_rev": "abc"}),
        JSON,
        400,
        "bad_request",
    ),
    "rev_generation_zero": (
        "POST",
        f"{DB}/_bulk_docs",
        _docs({**GOOD, "_rev": "0-abc"}),
        JSON,
        400,
        None,
    ),
    "path_trick_id": (
        "POST",
        f"{DB}/_bulk_docs",
        _docs({**GOOD, "_id": "../gateway.sqlite"}),
        JSON,
        400,
        "illegal_docid",
    ),
    "design_doc": (
        "POST",
        f"{DB}/_bulk_docs",
        _docs({**GOOD, "_id": "_design/x"}),
        JSON,
        400,
        "illegal_docid",
    ),
    "local_in_bulk": (
        "POST",
        f"{DB}/_bulk_docs",
        _docs({**GOOD, "_id": "_local/x"}),
        JSON,
        400,
        "illegal_docid",
    ),
    "id_not_string": ("POST", f"{DB}/_bulk_docs", _docs({**GOOD, "_id": 7}), JSON, 400, None),
    "unknown_underscore_field": (
        "POST",
        f"{DB}/_bulk_docs",
        _docs(GOOD, {**record(3), "_evil": 1}),
        JSON,
        400,
        "doc_validation",
    ),
    "deleted_not_bool": (
        "POST",
        f"{DB}/_bulk_docs",
        _docs({**GOOD, "_deleted": "yes"}),
        JSON,
        400,
        "doc_validation",
    ),
    "replicated_without_rev": (
        "POST",
        f"{DB}/_bulk_docs",
        orjson.dumps({"docs": [GOOD], "new_edits": False}),
        JSON,
        400,
        None,
    ),
    "bad_revisions": (
        "POST",
        f"{DB}/_bulk_docs",
        orjson.dumps(
            {
                "docs": [
                    {**GOOD, "_rev": "2-" + "a" * 32, "_revisions": {"start": "2", "ids": []}}
                ],
                "new_edits": False,
            }
        ),
        JSON,
        400,
        None,
    ),
    "too_large": ("POST", f"{DB}/_bulk_docs", BIG, JSON, 413, "too_large"),
    "too_large_gzipped": (
        "POST",
        f"{DB}/_bulk_docs",
        gzip.compress(BIG),
        {**JSON, "Content-Encoding": "gzip"},
        413,
        "too_large",
    ),
    "schema_violation_put": (
        "PUT",
        f"{DB}/{GOOD['_id']}",
        orjson.dumps({**GOOD, "schema_version": "one"}),
        JSON,
        403,
        "forbidden",
    ),
    "put_id_mismatch": ("PUT", f"{DB}/{GOOD['_id']}", orjson.dumps({**record(4)}), JSON, 400, None),
    "put_path_trick": ("PUT", f"{DB}/..%2Fgateway.sqlite", orjson.dumps(GOOD), JSON, 400, None),
    "put_dot_id": ("PUT", f"{DB}/.hidden", orjson.dumps(GOOD), JSON, 400, "illegal_docid"),
    "put_local_not_object": ("PUT", f"{DB}/_local/cp", b'"text"', JSON, 400, None),
    "put_local_bad_id": ("PUT", f"{DB}/_local/a%20b", b"{}", JSON, 400, "illegal_docid"),
    "revs_diff_not_list": ("POST", f"{DB}/_revs_diff", b'{"abc": "1-x"}', JSON, 400, None),
    "revs_diff_bad_rev": ("POST", f"{DB}/_revs_diff", b'{"abc": ["zz"]}', JSON, 400, None),
    "bulk_get_id_type": ("POST", f"{DB}/_bulk_get", b'{"docs": [{"id": 5}]}', JSON, 400, None),
    "bulk_get_bad_rev": (
        "POST",
        f"{DB}/_bulk_get",
        b'{"docs": [{"id": "a", "rev": "x"}]}',
        JSON,
        400,
        None,
    ),
    "bulk_get_no_docs": ("POST", f"{DB}/_bulk_get", b"{}", JSON, 400, None),
    "get_bad_rev": ("GET", f"{DB}/{GOOD['_id']}?rev=bogus", None, {}, 400, None),
    "get_bad_bool": ("GET", f"{DB}/{GOOD['_id']}?revs=maybe", None, {}, 400, "query_parse_error"),
    "get_bad_open_revs": ("GET", f"{DB}/{GOOD['_id']}?open_revs=[oops", None, {}, 400, None),
    "changes_negative_limit": ("GET", f"{DB}/_changes?limit=-1", None, {}, 400, None),
    "changes_continuous": ("GET", f"{DB}/_changes?feed=continuous", None, {}, 400, None),
    "changes_bad_since": ("GET", f"{DB}/_changes?since=yesterday", None, {}, 400, None),
    "changes_unknown_filter": ("GET", f"{DB}/_changes?filter=app/mine", None, {}, 400, None),
    "changes_bad_doc_ids": (
        "POST",
        f"{DB}/_changes?filter=_doc_ids",
        b'{"doc_ids": "a"}',
        JSON,
        400,
        None,
    ),
    "all_docs_bad_key": ("GET", f"{DB}/_all_docs?startkey=notjson", None, {}, 400, None),
    "all_docs_bad_keys": ("POST", f"{DB}/_all_docs", b'{"keys": [1]}', JSON, 400, None),
    "delete_without_rev": ("DELETE", f"{DB}/{GOOD['_id']}", None, {}, 409, "conflict"),
    "unknown_route": ("POST", f"{DB}/_compact", b"{}", JSON, 405, "method_not_allowed"),
    "not_a_station_db": ("GET", "/_users", None, {}, 404, "not_found"),
    "enrol_wrong_types": ("POST", "/_beatsync/enrol", b'{"officer_id": 1}', JSON, 400, None),
    "audit_bad_since": ("GET", "/_beatsync/audit?since=x", None, {}, 400, None),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_input_gets_a_4xx_and_stores_nothing(client, district, case: str) -> None:
    method, path, body, headers, status, error = CASES[case]
    store = await store_of(client)
    before = await store.info()
    who = basic("central") if path.startswith("/_beatsync/audit") else basic("so-alpha")
    answer = await client.request(method, path, data=body, headers={**who, **headers})
    payload = await answer.json()
    assert answer.status == status, payload
    assert set(payload) == {"error", "reason"}
    if error is not None:
        assert payload["error"] == error
    after = await store.info()
    assert (after["update_seq"], after["doc_count"]) == (before["update_seq"], before["doc_count"])
    assert await state_of(client).read() == []  # nothing audited either
    healthy = await client.get(f"{DB}/_all_docs", headers=basic("so-alpha"))
    assert healthy.status == 200
