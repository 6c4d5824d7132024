"""A station hub fed by a district gateway with the embedded SQLite state."""

from __future__ import annotations

from pathlib import Path

from server.gateway.handlers_hub import HUB_IDENTITIES_PATH
from server.hub.enrolment import authorise_hub
from server.hub.identity_cache import apply_snapshot
from server.policy.auth import Authenticator, token_hash
from server.policy.throttle import LoginThrottle
from server.state.sqlite import SQLiteGatewayState
from tests.server.conftest import bearer, state_of


async def test_the_hub_authenticates_the_stations_devices_by_token(
    client, district, tmp_path: Path
) -> None:
    state = state_of(client)
    assert await authorise_hub(state, state, "dev-so-alpha") == "alpha"
    answer = await client.get(HUB_IDENTITIES_PATH, headers=bearer(district, "dev-so-alpha"))
    assert answer.status == 200, await answer.text()
    snapshot = await answer.json()
    hashes = {d["device_id"]: d["token_hash"] for d in snapshot["devices"]}
    # Station alpha's devices only, each with the hash of its own token.
    assert hashes == {
        device_id: token_hash(district.tokens[device_id])
        for device_id in ("dev-so-alpha", "dev-bo-one", "dev-revoked", "dev-gone")
    }

    hub = await SQLiteGatewayState.open(tmp_path / "hub.sqlite")
    try:
        assert await apply_snapshot(hub, snapshot) > 0
        auth = Authenticator(hub, LoginThrottle(), 60)
        principal = await auth.authenticate(bearer(district, "dev-bo-one")["Authorization"], "lan")
        assert principal is not None
        assert principal.device is not None
        assert (principal.officer.id, principal.device.id) == ("bo-one", "dev-bo-one")
        assert await hub.device_token_hash("dev-bo-one") == hashes["dev-bo-one"]
        assert await hub.device_token_hash("dev-nobody") is None
    finally:
        await hub.close()
