"""A real browser for the tests of web pages: Debian's Chromium driven by
playwright's Python package (never a downloaded browser).

``open_browser`` opens a fresh Chromium profile (its own user-data folder)
at a 360 px wide phone screen by default; every browser it opened is closed
when the test ends. Without Chromium or playwright a browser test skips,
except when ``CI=true``: there a skip would hide a page nobody looked at, so
it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
PHONE = {"width": 360, "height": 740}
# Screenshots land here to be looked at (the CI keeps them as artefacts).
SCREENSHOTS = Path(os.environ.get("BEATSYNC_SCREENSHOTS", "/tmp/beatsync-screenshots"))

OpenBrowser = Callable[..., Awaitable[Any]]


def require_browser() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install playwright)"
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {problem}")
    pytest.skip(problem)


@pytest.fixture
async def open_browser(tmp_path: Path) -> AsyncIterator[OpenBrowser]:
    """``await open_browser(javascript=True, locale="en-IN", viewport=PHONE)``
    gives a fresh playwright ``BrowserContext``."""
    require_browser()
    from playwright.async_api import async_playwright

    contexts: list[Any] = []
    async with async_playwright() as playwright:

        async def open_one(
            *,
            javascript: bool = True,
            locale: str = "en-IN",
            viewport: dict[str, int] | None = None,
        ) -> Any:
            profile = tmp_path / f"chromium-profile-{len(contexts)}"
            context = await playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
                java_script_enabled=javascript,
                locale=locale,
                viewport=viewport or PHONE,
            )
            contexts.append(context)
            return context

        try:
            yield open_one
        finally:
            for context in contexts:
                await context.close()
            for index in range(len(contexts)):
                shutil.rmtree(tmp_path / f"chromium-profile-{index}", ignore_errors=True)


async def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot to look at; returns its path."""
    path = SCREENSHOTS / f"{name}.png"
    # A full-page capture writes the folder's parents itself.
    await page.screenshot(path=str(path), full_page=True)
    return path


async def fits_phone(page: Any) -> bool:
    """True when nothing on the page is wider than the screen (no sideways scroll)."""
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return bool(overflow <= 0)
