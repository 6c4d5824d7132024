"""Device tokens expire (``token_days`` after enrolment); the clock is injected, nothing sleeps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from field_client.remote import connect, is_revocation
from server.config import GatewayConfig
from server.gateway.app import create_app
from sync import signing
from sync.errors import Unauthorized
from tests.server.conftest import PASSWORD, basic, state_of


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    district: Any,
    config: GatewayConfig,
    clock: FakeClock,
) -> Callable[..., Awaitable[TestClient[Any, Any]]]:
    async def make(**settings: Any) -> TestClient[Any, Any]:
        return await aiohttp_client(create_app(replace(config, **settings), clock=clock))

    return make


async def _enrol(client: TestClient[Any, Any], officer: str = "so-alpha") -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    answer = await client.post(
        "/_beatsync/enrol",
        json={
            "officer_id": officer,
            "password": PASSWORD,
            "device_name": "tablet",
            "public_key": signing.public_key_to_b64(key.public_key()),
        },
    )
    assert answer.status == 201, await answer.text()
    return dict(await answer.json())


async def _whoami(client: TestClient[Any, Any], token: str) -> tuple[int, Any]:
    answer = await client.get("/_beatsync/whoami", headers={"Authorization": f"Bearer {token}"})
    return answer.status, await answer.json()


async def test_a_token_works_for_90_days_then_says_enrol_again(make_client, clock) -> None:
    client = await make_client()
    enrolled = await _enrol(client)
    assert enrolled["token_expires_at"] == "2026-04-01T00:00:00.000Z"  # 90 days on
    clock.now += timedelta(days=90) - timedelta(seconds=1)
    assert (await _whoami(client, enrolled["token"]))[0] == 200
    clock.now += timedelta(seconds=1)
    status, body = await _whoami(client, enrolled["token"])
    assert (status, body["error"]) == (401, "token_expired")
    assert "beatsync enrol" in body["reason"]
    # The officer's password still works, and enrolling again gives a fresh token.
    answer = await client.get("/_beatsync/whoami", headers=basic("so-alpha"))
    assert answer.status == 200
    again = await _enrol(client)
    assert (await _whoami(client, again["token"]))[0] == 200


async def test_token_days_is_a_setting_and_revocation_still_wins(make_client, clock) -> None:
    client = await make_client(token_days=1)
    enrolled = await _enrol(client)
    other = await _enrol(client)
    clock.now += timedelta(days=2)
    await state_of(client).revoke_device(other["device_id"])
    status, body = await _whoami(client, enrolled["token"])
    assert (status, body["error"]) == (401, "token_expired")
    # A revoked device must still learn to wipe itself, expired or not.
    status, body = await _whoami(client, other["token"])
    assert (status, body["error"]) == (401, "device_revoked")


async def test_the_field_client_does_not_take_expiry_for_revocation(make_client, clock) -> None:
    client = await make_client()
    enrolled = await _enrol(client)
    clock.now += timedelta(days=91)
    remote = connect(str(client.make_url("")), enrolled["db"], enrolled["token"])
    try:
        with pytest.raises(Unauthorized) as caught:
            await remote.info()
    finally:
        await remote.close()
    assert caught.value.error_name == "token_expired"
    # Only device_revoked makes the field client wipe its keys.
    assert not is_revocation(caught.value)
