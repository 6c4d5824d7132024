"""Password logins through the real gateway: throttled per officer, per address and
per both (never device tokens), refusals that all cost the KDF's time, and an
access log that names the client and the attempted officer but never the password.

Each client below connects from its own loopback address (127.0.0.2, 127.0.0.3...),
so the gateway sees several machines, as behind a station's LAN.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.config import DEFAULT_LOGIN_LIMITS, GatewayConfig
from server.gateway.app import create_app
from sync import signing
from tests.server.conftest import PASSWORD, WRONG_PASSWORD, District, basic, bearer

DB = "station-alpha"
GUESSES = DEFAULT_LOGIN_LIMITS.officer_at_address.free


@pytest.fixture
async def gateway(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    district: District,
    config: GatewayConfig,
) -> TestServer:
    return await aiohttp_server(create_app(config))


@asynccontextmanager
async def _from(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose connections leave from ``address`` (a loopback address)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def _get(session: aiohttp.ClientSession, server: TestServer, headers: dict[str, str]) -> Any:
    async with session.get(server.make_url(f"/{DB}"), headers=headers) as answer:
        return answer.status, answer.headers.get("Retry-After"), await answer.json()


def _enrolment(officer_id: str, password: str) -> dict[str, str]:
    return {
        "officer_id": officer_id,
        "password": password,
        "device_name": "tablet 7",
        "public_key": signing.public_key_to_b64(Ed25519PrivateKey.generate()),
    }


async def test_a_guesser_is_slowed_but_his_station_and_the_officer_elsewhere_are_not(
    gateway: TestServer, district: District
) -> None:
    async with _from("127.0.0.2") as guesser, _from("127.0.0.3") as desk:
        for _ in range(GUESSES):
            status, _, _ = await _get(guesser, gateway, basic("so-alpha", WRONG_PASSWORD))
            assert status == 401
        status, retry_after, body = await _get(guesser, gateway, basic("so-alpha"))
        assert status == 429  # even the right password waits out the delay
        assert body["error"] == "too_many_requests"
        assert int(retry_after) >= 1
        assert f"try again in {retry_after} seconds" in body["reason"]
        # Another officer from the same address (one station NAT) is not slowed...
        assert (await _get(guesser, gateway, basic("bo-one")))[0] == 200
        # ...nor is a device token from there, nor the officer from his own desk.
        assert (await _get(guesser, gateway, bearer(district, "dev-so-alpha")))[0] == 200
        assert (await _get(desk, gateway, basic("so-alpha")))[0] == 200


async def test_enrolment_is_throttled_like_any_password_login(gateway: TestServer) -> None:
    async with _from("127.0.0.4") as guesser:
        url = gateway.make_url("/_beatsync/enrol")
        for _ in range(GUESSES):
            async with guesser.post(url, json=_enrolment("bo-one", WRONG_PASSWORD)) as answer:
                assert answer.status == 401
        async with guesser.post(url, json=_enrolment("bo-one", PASSWORD)) as answer:
            assert answer.status == 429
            assert int(answer.headers["Retry-After"]) >= 1
        async with guesser.post(url, json=_enrolment("bo-two", PASSWORD)) as answer:
            assert answer.status == 201


async def _refusal_s(session: aiohttp.ClientSession, server: TestServer, officer: str) -> float:
    started = time.perf_counter()
    status, _, _ = await _get(session, server, basic(officer, WRONG_PASSWORD))
    assert status == 401
    return time.perf_counter() - started


async def test_unknown_ids_take_as_long_to_refuse_as_wrong_passwords(gateway: TestServer) -> None:
    # The fastest of several tries: load on the machine only ever adds time.
    # Each try comes from its own address and names a fresh id, so none is throttled.
    known, unknown = [], []
    for n in range(4):
        async with _from(f"127.0.1.{n + 1}") as session:
            await _refusal_s(session, gateway, f"warm-up-{n}")
            known.append(await _refusal_s(session, gateway, "so-alpha"))
            unknown.append(await _refusal_s(session, gateway, f"nobody-{n}"))
    # Before: ~2 ms for an unknown id against 50-65 ms for a known one.
    assert min(unknown) > 0.5 * min(known), (known, unknown)


async def test_a_revoked_officer_is_named_so_only_to_the_right_password(
    gateway: TestServer,
) -> None:
    async with _from("127.0.0.5") as session:
        _, _, wrong = await _get(session, gateway, basic("gone", WRONG_PASSWORD))
        _, _, right = await _get(session, gateway, basic("gone"))
        _, _, unknown = await _get(session, gateway, basic("nobody", WRONG_PASSWORD))
    assert wrong == unknown == {"error": "unauthorized", "reason": "Name or password is incorrect."}
    assert "revoked" in right["reason"]


async def test_the_access_log_names_the_client_and_the_attempted_officer_never_the_password(
    gateway: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="beatsync.access")
    async with _from("127.0.0.6") as session:
        await _get(session, gateway, basic("so-alpha", WRONG_PASSWORD))
        enrol = gateway.make_url("/_beatsync/enrol")
        async with session.post(enrol, json=_enrolment("bo-two", WRONG_PASSWORD)) as answer:
            assert answer.status == 401
    lines = [r.__dict__["fields"] for r in caplog.records if r.name == "beatsync.access"]
    assert [(f["status"], f["client"], f["login"], f["officer"]) for f in lines] == [
        (401, "127.0.0.6", "so-alpha", None),
        (401, "127.0.0.6", "bo-two", None),
    ]
    assert WRONG_PASSWORD not in caplog.text
    assert WRONG_PASSWORD not in orjson.dumps(lines).decode()
