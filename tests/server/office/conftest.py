"""The office on the whole site (gateway, faces, /metrics) over the test
district, on both backends; officers log in as a browser does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.config import GatewayConfig
from server.site import create_site
from tests.server.conftest import (
    PASSWORD,
    backend,
    config_on_both,
    couch_district,
    district_on_both,
)
from tests.web_support import csrf_token_of

__all__ = ["backend", "config_on_both", "couch_district", "district_on_both", "log_in", "post"]


@pytest.fixture
async def office(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    config_on_both: GatewayConfig,
) -> TestClient[Any, Any]:
    return await aiohttp_client(create_site(config_on_both))


async def post(
    client: TestClient[Any, Any], path: str, fields: dict[str, Any], *, form_page: str | None = None
) -> tuple[int, str]:
    """Fetch the form's page (its CSRF token), post ``fields`` without following a redirect."""
    page = await client.get(form_page or path)
    token = csrf_token_of(await page.text())
    answer = await client.post(path, data={"csrf_token": token, **fields}, allow_redirects=False)
    return answer.status, await answer.text()


async def log_in(client: TestClient[Any, Any], officer: str, password: str = PASSWORD) -> int:
    status, _ = await post(client, "/office/login", {"officer_id": officer, "password": password})
    return status
