"""A fresh machine: ``beatsync-server serve --demo`` prints the office's
address and a login, and that login opens the office."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from tests.peers import free_port
from tests.server.gateway.serve_process import serve, stop


async def test_the_demo_prints_an_office_login_that_works(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    process = await serve(tmp_path / "data", port, log)
    try:
        printed = log.read_text()
        office = re.search(r"Office: (http://\S+/office/) \(log in as (\w+)", printed)
        password = re.search(r"every password is (\S+)", printed)
        assert office, printed
        assert password, printed
        jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(office.group(1) + "login") as page:
                token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
            assert token
            form = {
                "csrf_token": token.group(1),
                "officer_id": office.group(2),
                "password": password.group(1),
            }
            async with http.post(office.group(1) + "login", data=form) as answer:
                assert answer.status == 200
                assert str(answer.url).endswith("/office/conflicts")
                assert "Conflict queue" in await answer.text()
    finally:
        assert await stop(process) == 0
