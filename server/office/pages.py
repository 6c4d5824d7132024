"""The office's pages: :func:`server.web.pages.render` with the logged-in officer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from server.office.display import local_time
from server.office.keys import OFFICER
from server.web.pages import render

__all__ = ["office_page"]


def office_page(
    template: str, request: web.Request, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    """``officer`` (``None`` before login) drives the menu and the logout button."""
    return render(
        template,
        request,
        {"officer": request.get(OFFICER), "local_time": local_time, **context},
        status=status,
    )
