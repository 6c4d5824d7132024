"""Logging in to the office: who gets in, the session cookie, CSRF, logout, idle expiry."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.config import GatewayConfig
from server.gateway.app import create_app
from server.gateway.keys import STATE
from server.office.app import create_office
from server.office.sessions import SESSION_COOKIE, Sessions
from server.site import create_site
from tests.server.conftest import WRONG_PASSWORD
from tests.server.office.conftest import log_in, post


async def test_the_login_page_needs_no_session(office: TestClient[Any, Any]) -> None:
    page = await office.get("/office/login")
    assert page.status == 200
    html = await page.text()
    assert 'name="password"' in html
    assert 'type="password"' in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path", ["/office/", "/office/conflicts", "/office/devices", "/office/audit"]
)
async def test_without_a_session_every_page_sends_to_the_login(
    office: TestClient[Any, Any], path: str
) -> None:
    answer = await office.get(path, allow_redirects=False)
    assert answer.status == 303
    assert answer.headers["Location"] == "/office/login"


async def test_a_right_password_opens_a_session_in_a_strict_http_only_cookie(
    office: TestClient[Any, Any],
) -> None:
    page = await office.get("/office/login")
    token = (await page.text()).split('name="csrf_token" value="')[1].split('"')[0]
    answer = await office.post(
        "/office/login",
        data={"csrf_token": token, "officer_id": "central", "password": "correct-horse-1"},
        allow_redirects=False,
    )
    assert answer.status == 303
    cookie = answer.cookies[SESSION_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/office/"
    assert not cookie["secure"]  # plain http on loopback; behind HTTPS it is Secure
    queue = await office.get("/office/conflicts")
    assert queue.status == 200
    assert "Log out" in await queue.text()


async def test_a_wrong_password_says_so_on_the_page_and_opens_nothing(
    office: TestClient[Any, Any],
) -> None:
    status, html = await post(
        office, "/office/login", {"officer_id": "central", "password": WRONG_PASSWORD}
    )
    assert status == 401
    assert "Officer id or password is incorrect." in html
    assert 'value="central"' in html  # the id stays, the password does not
    status, html = await post(office, "/office/login", {"officer_id": "", "password": ""})
    assert status == 400
    assert "Enter your officer id and password." in html
    answer = await office.get("/office/conflicts", allow_redirects=False)
    assert answer.status == 303


@pytest.mark.parametrize("officer", ["bo-one", "gone"])
async def test_a_beat_officer_and_a_revoked_one_get_nothing(
    office: TestClient[Any, Any], officer: str
) -> None:
    assert await log_in(office, officer) in (401, 403)
    assert (await office.get("/office/conflicts", allow_redirects=False)).status == 303


async def test_a_login_without_its_csrf_token_is_refused(office: TestClient[Any, Any]) -> None:
    await office.get("/office/login")
    answer = await office.post(
        "/office/login", data={"officer_id": "central", "password": "correct-horse-1"}
    )
    assert answer.status == 403
    assert "The form expired" in await answer.text()
    assert SESSION_COOKIE not in answer.cookies


async def test_logout_ends_the_session(office: TestClient[Any, Any]) -> None:
    assert await log_in(office, "central") == 303
    status, _ = await post(office, "/office/logout", {}, form_page="/office/conflicts")
    assert status == 303
    assert (await office.get("/office/conflicts", allow_redirects=False)).status == 303


async def test_an_idle_session_expires(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    config_on_both: GatewayConfig,
) -> None:
    now = [1000.0]
    app = create_app(config_on_both)
    app.add_subapp("/office/", create_office(Sessions(idle_s=60, clock=lambda: now[0])))
    client = await aiohttp_client(app)
    assert await log_in(client, "central") == 303
    now[0] += 59
    assert (await client.get("/office/conflicts")).status == 200
    now[0] += 59  # active a minute ago: still in
    assert (await client.get("/office/conflicts")).status == 200
    now[0] += 61
    assert (await client.get("/office/conflicts", allow_redirects=False)).status == 303


async def test_a_session_outlives_a_gateway_restart_and_only_its_hash_is_kept(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    config_on_both: GatewayConfig,
) -> None:
    first = await aiohttp_client(create_site(config_on_both))
    assert await log_in(first, "central") == 303
    token = next(c.value for c in first.session.cookie_jar if c.key == SESSION_COOKIE)
    state = first.server.app[STATE]
    stored = await state.get_session(hashlib.sha256(token.encode()).hexdigest())
    assert stored is not None
    assert stored.officer_id == "central"
    assert await state.get_session(token) is None  # not kept under the token itself
    await first.close()  # the gateway stops: its files and connections close

    second = await aiohttp_client(create_site(config_on_both))
    second.session.cookie_jar.update_cookies({SESSION_COOKIE: token})
    answer = await second.get("/office/conflicts", allow_redirects=False)
    assert answer.status == 200
    assert "central" in await answer.text()
    # Logged out on the new gateway: the stored session is gone for every gateway.
    status, _ = await post(second, "/office/logout", {}, form_page="/office/conflicts")
    assert status == 303
    assert await second.server.app[STATE].get_session(stored.key) is None
    second.session.cookie_jar.update_cookies({SESSION_COOKIE: token})
    assert (await second.get("/office/conflicts", allow_redirects=False)).status == 303
