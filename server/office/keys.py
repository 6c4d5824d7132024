"""What the office's application and requests hold."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from schemas.identity import Role
from server.office.sessions import Sessions
from server.state.models import Principal

__all__ = ["OFFICER", "OFFICE_ROLES", "SESSIONS"]

SESSIONS = web.AppKey("office_sessions", Sessions)
# The logged-in officer of a request (set by the login middleware).
OFFICER = web.RequestKey("office_officer", Principal)
# Who may log in: the district (central office, admin) and station officers
# (SHOs, their own station). Beat officers work on their devices.
OFFICE_ROLES: Final = frozenset({Role.CENTRAL_OFFICE, Role.ADMIN, Role.STATION_OFFICER})
