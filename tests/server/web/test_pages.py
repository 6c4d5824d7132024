"""The pages' foundation, on a small face built here: language chosen and
remembered, autoescape, CSRF on every post, security headers, error pages in
the reader's language, and a real Chromium at 360 px with JavaScript off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from schemas.i18n import translations
from server.web.pages import create_face, render
from server.web.security import CONTENT_SECURITY_POLICY
from tests.browser import OpenBrowser, fits_phone, screenshot
from tests.web_support import csrf_token_of, page_weight

TEMPLATES = Path(__file__).resolve().parent / "templates"
HINDI_NOT_FOUND = translations("hi").gettext("Page not found")


def small_face() -> web.Application:
    face = create_face(TEMPLATES)

    async def hello(request: web.Request) -> web.Response:
        said = request.query.get("say", "")
        if request.method == "POST":
            said = str((await request.post()).get("name", ""))
        return render("hello.html", request, {"title": "Hello", "said": said})

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    face.router.add_route("*", "/", hello, name="home")
    face.router.add_get("/boom", boom)
    return face


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient[Any, Any]:
    site = web.Application()
    site.add_subapp("/face/", small_face())
    return await aiohttp_client(site)  # type: ignore[no-any-return]


async def test_hindi_for_a_browser_that_asks_for_it(client: TestClient[Any, Any]) -> None:
    page = await client.get("/face/", headers={"Accept-Language": "hi-IN,hi;q=0.9"})
    html = await page.text()
    assert '<html lang="hi">' in html
    assert translations("hi").gettext("District Police") in html
    english = await (await client.get("/face/", headers={"Accept-Language": "en"})).text()
    assert '<html lang="en">' in english
    assert "District Police" in english


async def test_the_language_switch_is_remembered(client: TestClient[Any, Any]) -> None:
    switched = await client.get("/face/?lang=hi&say=x", headers={"Accept-Language": "en"})
    assert '<html lang="hi">' in await switched.text()
    assert switched.cookies["lang"].value == "hi"
    later = await client.get("/face/", headers={"Accept-Language": "en"})
    assert '<html lang="hi">' in await later.text()
    # The switch links keep the page's own query.
    assert "say=x" in (await switched.text()).split('hreflang="en" href="')[1].split('"')[0]


async def test_what_a_page_shows_is_escaped(client: TestClient[Any, Any]) -> None:
    html = await (await client.get("/face/", params={"say": "<script>alert(1)</script>"})).text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_every_page_carries_the_security_headers(client: TestClient[Any, Any]) -> None:
    page = await client.get("/face/")
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert "HttpOnly" in page.headers["Set-Cookie"]
    assert "SameSite=Strict" in page.headers["Set-Cookie"]


async def test_a_post_needs_the_form_s_token(client: TestClient[Any, Any]) -> None:
    form = await (await client.get("/face/")).text()
    token = csrf_token_of(form)
    refused = await client.post("/face/", data={"name": "forged"})
    assert refused.status == 403
    assert "text/html" in refused.headers["Content-Type"]
    assert "forged" not in await refused.text()
    wrong = await client.post("/face/", data={"name": "forged", "csrf_token": "x" * 43})
    assert wrong.status == 403
    accepted = await client.post("/face/", data={"name": "mine", "csrf_token": token})
    assert accepted.status == 200
    assert 'id="said">mine<' in await accepted.text()


async def test_a_post_without_any_csrf_cookie_is_refused(aiohttp_client: Any) -> None:
    site = web.Application()
    site.add_subapp("/face/", small_face())
    fresh = await aiohttp_client(site)
    # A forged form may invent a token, but without our cookie it proves nothing.
    made_up = "y" * 43
    refused = await fresh.post("/face/", data={"name": "x", "csrf_token": made_up})
    assert refused.status == 403


async def test_errors_are_pages_in_the_reader_s_language(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    missing = await client.get("/face/nowhere", headers={"Accept-Language": "hi"})
    assert missing.status == 404
    assert HINDI_NOT_FOUND in await missing.text()
    crashed = await client.get("/face/boom")
    assert crashed.status == 500
    body = await crashed.text()
    assert "Traceback" not in body
    assert "a bug" not in body
    assert any("unhandled error" in record.message for record in caplog.records)


async def test_the_frame_is_light(client: TestClient[Any, Any]) -> None:
    total, parts = await page_weight(client, "/face/")
    assert len(parts) == 2, parts  # the page and its one stylesheet
    assert total < 4 * 1024, parts


async def test_a_phone_browser_without_javascript_can_post_the_form(
    aiohttp_server: Any, open_browser: OpenBrowser
) -> None:
    site = web.Application()
    site.add_subapp("/face/", small_face())
    server = await aiohttp_server(site, host="127.0.0.1")
    context = await open_browser(javascript=False, locale="hi-IN")
    page = await context.new_page()
    await page.goto(str(server.make_url("/face/")))
    assert await page.get_attribute("html", "lang") == "hi"
    assert await fits_phone(page)
    await page.fill("#name", "नमस्ते")
    await page.click("button[type=submit]")
    assert await page.text_content("#said") == "नमस्ते"
    await screenshot(page, "web-foundation-phone")
