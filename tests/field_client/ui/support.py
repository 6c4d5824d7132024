"""The officer's app on a real loopback port over a real encrypted replica, and a
browser-less client that goes through its launch secret like a browser does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from field_client.replica import FieldReplica
from field_client.ui.app import create_ui
from field_client.ui.keys import SESSION
from field_client.ui.session import Session
from tests.field_client.support import PASSPHRASE

__all__ = ["PASSPHRASE", "SECRET", "Ui", "csrf_of", "make_ui", "new_device"]

SECRET = "launch-secret-for-tests-0123456789abcdefghij"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def new_device(home: Path) -> None:
    """si.sharma's device, station kotwali, beat-3, not enrolled (cheap scrypt for tests)."""
    replica = await FieldReplica.create(
        home,
        PASSPHRASE,
        officer_id="si.sharma",
        station_id="kotwali",
        beat_id="beat-3",
        scrypt_n=2**12,
    )
    await replica.close()


@dataclass
class Ui:
    server: TestServer
    http: ClientSession
    base: str

    @property
    def session(self) -> Session:
        return self.server.app[SESSION]

    async def get(self, path: str, **kw: Any) -> ClientResponse:
        return await self.http.get(self.base + path, **kw)

    async def post(
        self, path: str, data: Any, *, origin: str | None = "own", **kw: Any
    ) -> ClientResponse:
        headers = dict(kw.pop("headers", {}))
        if origin is not None:
            headers["Origin"] = self.base if origin == "own" else origin
        return await self.http.post(self.base + path, data=data, headers=headers, **kw)

    async def token(self, path: str = "/unlock") -> str:
        return csrf_of(await (await self.get(path)).text())

    async def enter(self) -> None:
        """The first visit through the launch URL (sets the cookie)."""
        answer = await self.get(f"/?key={SECRET}")
        assert answer.status == 200, answer.status

    async def unlock(self, passphrase: str = PASSPHRASE) -> ClientResponse:
        return await self.post(
            "/unlock", {"passphrase": passphrase, "csrf_token": await self.token()}
        )


async def make_ui(home: Path, *, idle_minutes: float = 15) -> AsyncIterator[Ui]:
    bound: list[str] = []
    app = create_ui(home, secret=SECRET, origin=lambda: bound[0], idle_minutes=idle_minutes)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    bound.append(f"http://127.0.0.1:{server.port}")
    # unsafe=True: aiohttp's jar keeps no cookies for an IP address otherwise (browsers do).
    http = ClientSession(cookie_jar=CookieJar(unsafe=True))
    try:
        yield Ui(server, http, bound[0])
    finally:
        await http.close()
        await server.close()


@pytest.fixture
async def ui(tmp_path: Path) -> AsyncIterator[Ui]:
    await new_device(tmp_path / "device")
    async for opened in make_ui(tmp_path / "device"):
        yield opened
