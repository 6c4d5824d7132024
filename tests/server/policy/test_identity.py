"""Enrolment, bearer tokens, Basic auth, throttling, revocation, and gzip both ways."""

from __future__ import annotations

import gzip

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.policy.admin import reset_password
from sync import signing
from tests.server.conftest import PASSWORD, WRONG_PASSWORD, basic, record, state_of, store_of

DB = "/station-alpha"


def _enrolment(officer_id: str = "bo-one", password: str = PASSWORD, **overrides):
    key = Ed25519PrivateKey.generate()
    body = {
        "officer_id": officer_id,
        "password": password,
        "device_name": "tablet 7",
        "public_key": signing.public_key_to_b64(key),
    }
    return key, {**body, **overrides}


async def test_enrolled_device_syncs_with_its_token_until_revoked(client, district) -> None:
    key, body = _enrolment()
    answer = await client.post("/_beatsync/enrol", json=body)
    assert answer.status == 201
    enrolled = await answer.json()
    info = await (await client.get("/")).json()
    assert enrolled["server_uuid"] == info["uuid"]
    assert {k: enrolled[k] for k in ("officer_id", "station_id", "beat_id", "role", "db")} == {
        "officer_id": "bo-one",
        "station_id": "alpha",
        "beat_id": "alpha-one",
        "role": "beat_officer",
        "db": "station-alpha",
    }
    headers = {"Authorization": f"Bearer {enrolled['token']}"}
    me = await (await client.get("/_beatsync/whoami", headers=headers)).json()
    assert me["device_id"] == enrolled["device_id"]
    assert me["auth"] == "device"
    doc = signing.sign(record(1, officer="bo-one"), key, enrolled["device_id"], parent=None)
    written = await client.post(f"{DB}/_bulk_docs", json={"docs": [doc]}, headers=headers)
    assert (await written.json())[0].get("ok")

    await state_of(client).revoke_device(enrolled["device_id"])
    refused = await client.get(f"{DB}/_changes", headers=headers)
    assert refused.status == 401
    assert await refused.json() == {
        "error": "device_revoked",
        "reason": "This device was revoked by the district office; its local data must be wiped.",
    }


async def test_enrolment_refuses_bad_credentials_and_keys(client, district) -> None:
    _, wrong = _enrolment(password=WRONG_PASSWORD)
    assert (await client.post("/_beatsync/enrol", json=wrong)).status == 401
    _, bad_key = _enrolment(public_key="not-base64!")
    assert (await client.post("/_beatsync/enrol", json=bad_key)).status == 400
    _, short_key = _enrolment(public_key="AAAA")
    assert (await client.post("/_beatsync/enrol", json=short_key)).status == 400
    _, missing = _enrolment()
    del missing["device_name"]
    assert (await client.post("/_beatsync/enrol", json=missing)).status == 400
    # Nothing enrolled: bo-one still has only the device the district started with.
    assert [d.id for d in await state_of(client).list_devices("bo-one")] == ["dev-bo-one"]


async def test_password_reset_stops_the_old_password_at_once(client, district) -> None:
    assert (await client.get(DB, headers=basic("so-alpha"))).status == 200  # now cached
    await reset_password(state_of(client), "so-alpha", "brand-new-pass-9")
    assert (await client.get(DB, headers=basic("so-alpha"))).status == 401
    assert (await client.get(DB, headers=basic("so-alpha", "brand-new-pass-9"))).status == 200


async def test_revoked_officer_is_refused_on_the_next_request(client, district) -> None:
    assert (await client.get(DB, headers=basic("so-alpha"))).status == 200
    await state_of(client).revoke_officer("so-alpha")
    answer = await client.get(DB, headers=basic("so-alpha"))
    assert answer.status == 401
    assert "revoked" in (await answer.json())["reason"]


async def test_gzip_request_bodies_and_responses(client, district) -> None:
    docs = [record(seed) for seed in range(10)]
    body = gzip.compress(orjson.dumps({"docs": docs}))
    answer = await client.post(
        f"{DB}/_bulk_docs",
        data=body,
        headers={
            **basic("so-alpha"),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert answer.status == 201
    assert all(r.get("ok") for r in await answer.json())
    changes = await client.get(
        f"{DB}/_changes?include_docs=true",
        headers={**basic("so-alpha"), "Accept-Encoding": "gzip"},
        auto_decompress=False,
    )
    assert changes.headers["Content-Encoding"] == "gzip"
    results = orjson.loads(gzip.decompress(await changes.read()))["results"]
    assert {r["id"] for r in results} == {d["_id"] for d in docs}
    assert (await (await store_of(client)).info())["doc_count"] == 10
