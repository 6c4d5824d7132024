"""The client behind trusted proxies (issue 14): X-Forwarded-For is believed only
from a proxy the operator named, and then names the client for login
throttling, fair sharing and the access log."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from server.cli import main
from server.config import GatewayConfig, LoginLimit, LoginLimits
from server.gateway.app import create_app
from server.gateway.forwarded import client_address, parse_networks
from tests.server.conftest import WRONG_PASSWORD, basic

LOOPBACK = parse_networks(["127.0.0.1"])
CHAIN = parse_networks(["127.0.0.0/8", "10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "client"),
    [
        # No proxy trusted, or the peer is not one: the header is anyone's words.
        ("127.0.0.1", ["203.0.113.7"], (), "127.0.0.1"),
        ("198.51.100.9", ["203.0.113.7"], LOOPBACK, "198.51.100.9"),
        # The trusted proxy appended the address it saw.
        ("127.0.0.1", ["203.0.113.7"], LOOPBACK, "203.0.113.7"),
        # What the client wrote itself lies left of that, and is ignored.
        ("127.0.0.1", ["6.6.6.6, 203.0.113.7"], LOOPBACK, "203.0.113.7"),
        # Through a chain of trusted proxies, in one header or several.
        ("127.0.0.1", ["6.6.6.6, 198.51.100.2, 10.1.2.3"], CHAIN, "198.51.100.2"),
        ("127.0.0.1", ["6.6.6.6, 198.51.100.2", "10.1.2.3"], CHAIN, "198.51.100.2"),
        ("127.0.0.1", ["2001:db8::5, fd00::1"], CHAIN, "2001:db8::5"),
        # A dual-stack socket's view of an IPv4 proxy.
        ("::ffff:127.0.0.1", ["203.0.113.7"], LOOPBACK, "203.0.113.7"),
        # Garbage where an address should be: the walk stops at the last proxy.
        ("127.0.0.1", ["203.0.113.7, not-an-ip"], LOOPBACK, "127.0.0.1"),
        # Every hop a proxy, or no header: the innermost proxy is all we know.
        ("127.0.0.1", ["10.0.0.1"], CHAIN, "10.0.0.1"),
        ("127.0.0.1", [], LOOPBACK, "127.0.0.1"),
    ],
)
def test_the_client_is_the_first_hop_from_the_right_that_is_not_a_trusted_proxy(
    peer: str, header: list[str], trusted: Any, client: str
) -> None:
    assert client_address(peer, header, trusted) == client


def test_a_proxy_that_is_not_an_address_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'gateway\.local' is not an IP address or network"):
        parse_networks(["10.0.0.0/8", "gateway.local"])


def test_serve_documents_the_option_and_refuses_a_bad_proxy() -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["serve", "--help"], terminal_width=200)
    assert "--trusted-proxy" in shown.output
    assert "X-Forwarded-For" in shown.output
    bad = runner.invoke(main, ["serve", "--trusted-proxy", "balancer"])
    assert bad.exit_code == 2
    assert "'balancer' is not an IP address or network" in bad.output


# -- through the gateway ---------------------------------------------------------------

# Two wrong passwords from one address, then that address waits a minute; the
# other keys never get in the way here.
ADDRESS_ONLY = LoginLimits(
    officer_at_address=LoginLimit(free=100, base_s=1, max_s=1, forget_s=900),
    officer=LoginLimit(free=100, base_s=1, max_s=1, forget_s=900),
    address=LoginLimit(free=2, base_s=60, max_s=60, forget_s=900),
)


@pytest.fixture
def gateway(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    config: GatewayConfig,
    district: Any,
) -> Callable[[tuple[str, ...]], Awaitable[TestClient[Any, Any]]]:
    async def make(trusted: tuple[str, ...]) -> TestClient[Any, Any]:
        changed = dataclasses.replace(config, trusted_proxies=trusted, login_limits=ADDRESS_ONLY)
        return await aiohttp_client(create_app(changed))

    return make


def _from(address: str, headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "X-Forwarded-For": address}


@pytest.mark.parametrize("trusted", [("127.0.0.1",), ()], ids=["behind-proxy", "no-proxy"])
async def test_failed_logins_slow_the_forwarded_address_not_the_proxy(
    gateway, trusted: tuple[str, ...]
) -> None:
    client = await gateway(trusted)
    wrong = basic("so-alpha", WRONG_PASSWORD)
    statuses = [
        (await client.get("/station-alpha", headers=_from("203.0.113.7", wrong))).status
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    # Another citizen of the district behind the same balancer.
    other = await client.get("/station-alpha", headers=_from("198.51.100.2", wrong))
    # Without a trusted proxy the header is ignored: both are 127.0.0.1, one address.
    assert other.status == (401 if trusted else 429)


async def test_the_access_log_names_the_forwarded_client_only_from_a_trusted_proxy(
    gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="beatsync.access")
    for trusted in (("127.0.0.0/8",), ("10.0.0.0/8",)):
        client = await gateway(trusted)
        answer = await client.get(
            "/station-alpha", headers=_from("6.6.6.6, 203.0.113.7", basic("so-alpha"))
        )
        assert answer.status == 200
    logged = [
        r.fields["client"]  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "beatsync.access"
    ]
    assert logged == ["203.0.113.7", "127.0.0.1"]
