"""Every endpoint × every kind of caller → the right status, nothing leaked or stored.

The district (see conftest): station ``alpha`` is beat-scoped; the record
``SEEDED`` lives in beat ``alpha-one``. ``bo-two`` is a beat officer of
``alpha-two`` (so "another beat"), ``so-bravo`` a station officer of ``bravo``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import WRONG_PASSWORD, basic, bearer, record, store_of

CALLERS = {
    "none": lambda d: {},
    "wrong_password": lambda d: basic("so-alpha", WRONG_PASSWORD),
    "revoked_device": lambda d: bearer(d, "dev-revoked"),
    "revoked_officer_device": lambda d: bearer(d, "dev-gone"),
    "other_station": lambda d: basic("so-bravo"),
    "other_beat": lambda d: basic("bo-two"),
    "central_office": lambda d: basic("central"),
    "admin": lambda d: basic("admin"),
    "own_station": lambda d: basic("so-alpha"),
}

# The officer each caller authenticates as (a new record must name its author).
CALLER_OFFICERS = {
    "other_station": "so-bravo",
    "other_beat": "bo-two",
    "central_office": "central",
    "admin": "admin",
    "own_station": "so-alpha",
}

SEEDED = record(1)
NEW = record(2)


def _authored(body: Any, caller: str) -> Any:
    """``body`` with the NEW record written as by the caller's officer."""
    officer = CALLER_OFFICERS.get(caller)
    if officer is None:
        return body
    mine = {**NEW, "created_by": officer, "updated_by": officer}
    if body is NEW:
        return mine
    if isinstance(body, dict) and body.get("docs") == [NEW]:
        return {"docs": [mine]}
    return body
_ALL_401 = {
    "none": 401,
    "wrong_password": 401,
    "revoked_device": 401,
    "revoked_officer_device": 401,
}


def _table(
    other_station: int, other_beat: int, central: int, admin: int, own: int
) -> dict[str, int]:
    return {
        **_ALL_401,
        "other_station": other_station,
        "other_beat": other_beat,
        "central_office": central,
        "admin": admin,
        "own_station": own,
    }


DB = "/station-alpha"
# name -> (method, path, json body, expected status per caller, is a write)
ENDPOINTS: dict[str, tuple[str, str, Any, dict[str, int], bool]] = {
    "db_info": ("GET", DB, None, _table(403, 200, 200, 403, 200), False),
    "changes": (
        "GET",
        DB + "/_changes?include_docs=true",
        None,
        _table(403, 200, 200, 403, 200),
        False,
    ),
    "changes_longpoll": (
        "GET",
        DB + "/_changes?feed=longpoll&since=0&timeout=100",
        None,
        _table(403, 200, 200, 403, 200),
        False,
    ),
    "revs_diff": (
        "POST",
        DB + "/_revs_diff",
        {SEEDED["_id"]: ["1-" + "0" * 32]},
        _table(403, 200, 200, 403, 200),
        False,
    ),
    "bulk_get": (
        "POST",
        DB + "/_bulk_get?revs=true",
        {"docs": [{"id": SEEDED["_id"]}]},
        _table(403, 200, 200, 403, 200),
        False,
    ),
    "all_docs": (
        "GET",
        DB + "/_all_docs?include_docs=true",
        None,
        _table(403, 200, 200, 403, 200),
        False,
    ),
    "get_doc": ("GET", f"{DB}/{SEEDED['_id']}", None, _table(403, 403, 200, 403, 200), False),
    "get_doc_open_revs": (
        "GET",
        f"{DB}/{SEEDED['_id']}?open_revs=all",
        None,
        _table(403, 200, 200, 403, 200),
        False,
    ),
    "get_local": (
        "GET",
        DB + "/_local/some-checkpoint",
        None,
        _table(403, 404, 404, 403, 404),
        False,
    ),
    "put_local": (
        "PUT",
        DB + "/_local/some-checkpoint",
        {"last_seq": 1},
        _table(403, 201, 201, 403, 201),
        False,
    ),
    # A beat officer of another beat is refused per document, as CouchDB reports forbidden.
    "bulk_docs": (
        "POST",
        DB + "/_bulk_docs",
        {"docs": [NEW]},
        _table(403, 201, 201, 403, 201),
        True,
    ),
    "put_doc": ("PUT", f"{DB}/{NEW['_id']}", NEW, _table(403, 403, 201, 403, 201), True),
    "delete_doc": (
        "DELETE",
        f"{DB}/{SEEDED['_id']}?rev=SEEDED_REV",
        None,
        _table(403, 403, 200, 403, 200),
        True,
    ),
    "whoami": ("GET", "/_beatsync/whoami", None, _table(200, 200, 200, 200, 200), False),
    "audit": (
        "GET",
        "/_beatsync/audit?db=station-alpha",
        None,
        _table(403, 403, 200, 403, 403),
        False,
    ),
    "devices": ("GET", "/_beatsync/devices", None, _table(403, 403, 200, 403, 403), False),
    "other_db_missing": ("GET", "/station-nowhere", None, _table(403, 403, 404, 403, 403), False),
}

CASES = [(e, c) for e in ENDPOINTS for c in CALLERS]


@pytest.mark.parametrize(("endpoint", "caller"), CASES, ids=[f"{e}-{c}" for e, c in CASES])
async def test_matrix(client, district, endpoint: str, caller: str) -> None:
    method, path, body, expected, is_write = ENDPOINTS[endpoint]
    seeded = await client.put(f"{DB}/{SEEDED['_id']}", json=SEEDED, headers=basic("so-alpha"))
    assert seeded.status == 201
    path = path.replace("SEEDED_REV", (await seeded.json())["rev"])
    store = await store_of(client)
    before = await store.info()

    answer = await client.request(
        method, path, json=_authored(body, caller), headers=CALLERS[caller](district)
    )
    text = await answer.text()

    assert answer.status == expected[caller], text
    if answer.status >= 400:
        payload = await answer.json()
        assert set(payload) == {"error", "reason"}
    if caller in _ALL_401:
        assert answer.status == 401
    if caller.startswith("revoked"):
        assert (await answer.json())["error"] == "device_revoked"
    if caller != "own_station" and (answer.status >= 400 or caller == "other_beat"):
        # Nothing of another beat's or station's record leaks ...
        assert SEEDED["purpose"] not in text
        assert SEEDED["visitor"]["name"] not in text
        # ... and nothing is stored.
        if is_write:
            assert (await store.info())["update_seq"] == before["update_seq"]
            if answer.status == 201:
                assert (await answer.json())[0]["error"] == "forbidden"
