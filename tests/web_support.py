"""What tests of server-rendered pages share: page weight and form posting."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from typing import Any

from yarl import URL

__all__ = ["PAGE_BUDGET_BYTES", "csrf_token_of", "linked_assets", "page_weight"]

# The portal's budget: each page <= 30 KB gzip on first load, everything it loads.
PAGE_BUDGET_BYTES = 30 * 1024


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and found.get("rel") in ("stylesheet", "icon", "preload"):
            self.urls.append(found.get("href") or "")
        elif tag in ("script", "img") and found.get("src"):
            src = found["src"] or ""
            if not src.startswith("data:"):
                self.urls.append(src)


def linked_assets(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return [url for url in parser.urls if url]


async def page_weight(client: Any, path: str, **request: Any) -> tuple[int, dict[str, int]]:
    """Gzip bytes a first visit to ``path`` costs: the page and everything it
    links (stylesheets, scripts, images), each as gzip would send it."""
    method = request.pop("method", "GET")
    response = await client.request(method, path, **request)
    assert response.status < 400, (path, response.status)
    html = await response.text()
    sizes = {path: len(gzip.compress(html.encode()))}
    base = URL(str(response.url))
    for asset in linked_assets(html):
        assert not re.match(r"^(https?:)?//", asset) or URL(asset).host == base.host, (
            f"{path} loads {asset} from elsewhere"
        )
        asset_path = str(base.join(URL(asset)).relative())
        got = await client.get(asset_path)
        assert got.status == 200, (asset, got.status)
        sizes[asset_path] = len(gzip.compress(await got.read()))
    return sum(sizes.values()), sizes


def csrf_token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)
