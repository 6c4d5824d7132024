"""The district's site: a browser at ``/`` goes to the portal, a CouchDB client
keeps CouchDB's welcome."""

from __future__ import annotations

from typing import Any

import pytest

from server.config import GatewayConfig
from server.site import create_site

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "portal"),
    [
        (BROWSER, True),
        ("application/json", False),
        ("*/*", False),
        (None, False),
        ("text/html, application/json", False),
    ],
)
async def test_browsers_go_to_the_portal(
    aiohttp_client: Any, district: Any, config: GatewayConfig, accept: str | None, portal: bool
) -> None:
    client = await aiohttp_client(create_site(config))
    headers = {"Accept": accept} if accept else {}
    answer = await client.get("/", headers=headers, allow_redirects=False)
    if portal:
        assert answer.status == 302
        assert answer.headers["Location"] == "/portal/"
        page = await client.get("/portal/", headers={"Accept-Language": "hi"})
        assert page.status == 200
        assert '<html lang="hi">' in await page.text()
    else:
        assert answer.status == 200
        assert (await answer.json())["couchdb"] == "Welcome"
