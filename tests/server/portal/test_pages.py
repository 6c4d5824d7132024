"""Every portal page, in Hindi and English: at most 30 KB gzip on first load
(the page and all it links), a heading, a label for every field, and usable
with JavaScript off (every form is a plain post; tested in test_browser)."""

from __future__ import annotations

import gzip
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.server.portal.support import COMPLAINT, file_complaint, post_form
from tests.web_support import PAGE_BUDGET_BYTES, csrf_token_of, page_weight

GET_PAGES = [
    "/portal/",
    "/portal/complaint",
    "/portal/appointment",
    "/portal/appointment/slots?officer=so-alpha",
    "/portal/certificate",
    "/portal/visit",
    "/portal/status",
    "/portal/verify",
]


class _Fields(HTMLParser):
    """Form fields, the labels' targets, and the headings of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []
        self.labelled: set[str] = set()
        self.headings = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("input", "select", "textarea") and found.get("type") not in ("hidden", "submit"):
            self.fields.append(found.get("id") or f"<{tag} name={found.get('name')}>")
        elif tag == "label" and found.get("for"):
            self.labelled.add(found["for"] or "")
        elif tag == "h1":
            self.headings += 1


def check_page(html: str) -> None:
    parsed = _Fields()
    parsed.feed(html)
    assert parsed.headings == 1
    unlabelled = [f for f in parsed.fields if f not in parsed.labelled]
    assert unlabelled == []


@pytest.mark.parametrize("language", ["hi", "en"])
@pytest.mark.parametrize("path", GET_PAGES)
async def test_every_page_is_light_labelled_and_translated(
    portal: TestClient[Any, Any], path: str, language: str
) -> None:
    headers = {"Accept-Language": language}
    weight, parts = await page_weight(portal, path, headers=headers)
    assert weight <= PAGE_BUDGET_BYTES, parts
    html = await (await portal.get(path, headers=headers)).text()
    assert f'<html lang="{language}">' in html
    check_page(html)


async def test_the_pages_after_a_post_are_light_too(portal: TestClient[Any, Any]) -> None:
    """The receipt, the status page and a refused form (422, measured by hand)."""
    token = csrf_token_of(await (await portal.get("/portal/complaint")).text())
    weight, parts = await page_weight(
        portal, "/portal/complaint", method="POST", data={"csrf_token": token, **COMPLAINT}
    )
    assert weight <= PAGE_BUDGET_BYTES, parts
    number, pin = await file_complaint(portal, phone="9800000001")
    weight, parts = await page_weight(
        portal,
        "/portal/status",
        method="POST",
        data={"csrf_token": token, "number": number, "pin": pin},
    )
    assert weight <= PAGE_BUDGET_BYTES, parts
    status, refused = await post_form(portal, "/portal/complaint", {"name": ""})
    assert status == 422
    check_page(refused)
    assert len(gzip.compress(refused.encode())) <= PAGE_BUDGET_BYTES // 2
