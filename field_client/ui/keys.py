"""The app's keys on the aiohttp application and request."""

from __future__ import annotations

from aiohttp import web

from field_client.ui.session import Session

__all__ = ["SESSION"]

SESSION = web.AppKey("ui_session", Session)
