"""Posting the portal's forms as a browser does (CSRF token from the page)."""

from __future__ import annotations

import io
import re
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from tests.web_support import csrf_token_of

__all__ = ["COMPLAINT", "file_complaint", "open_status", "post_form", "receipt_of"]

COMPLAINT = {
    "category": "theft",
    "place": "Near the water tank, Civil Lines",
    "time": "2026-01-02T21:15",
    "description": "My bicycle was taken from outside the shop.",
    "locality": "Civil Lines",
    "name": "Sunita Devi",
    "phone": "9876543210",
    "address": "12 Canal Road, Civil Lines",
}


async def post_form(
    client: TestClient[Any, Any],
    path: str,
    fields: dict[str, str],
    *,
    form_page: str | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Fetch the form's page (for its CSRF token), then post ``fields``."""
    page = await client.get(form_page or path, headers=headers)
    token = csrf_token_of(await page.text())
    data = FormData()
    data.add_field("csrf_token", token)
    for name, value in fields.items():
        data.add_field(name, value)
    for name, (filename, content, content_type) in (files or {}).items():
        data.add_field(name, io.BytesIO(content), filename=filename, content_type=content_type)
    answer = await client.post(path, data=data, headers=headers)
    return answer.status, await answer.text()


def receipt_of(html: str) -> tuple[str, str]:
    number = re.search(r'id="number">([^<]+)<', html)
    pin = re.search(r'id="pin">([0-9]+)<', html)
    assert number, html[:2000]
    assert pin, html[:2000]
    return number.group(1), pin.group(1)


async def file_complaint(
    client: TestClient[Any, Any], headers: dict[str, str] | None = None, **changes: str
) -> tuple[str, str]:
    status, html = await post_form(
        client, "/portal/complaint", {**COMPLAINT, **changes}, headers=headers
    )
    assert status == 201, html
    return receipt_of(html)


async def open_status(
    client: TestClient[Any, Any], number: str, pin: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    return await post_form(
        client, "/portal/status", {"number": number, "pin": pin}, headers=headers
    )
