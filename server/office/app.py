"""The office's sub-application, mounted at ``/office/`` by :mod:`server.site`.

Every page but the login needs a live session (:mod:`server.office.sessions`)
of an officer who may use the office; the officer is re-read on every
request, so a revocation or a role change takes effect on the next page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from aiohttp import web

from schemas.identity import Role
from server.gateway.keys import STATE
from server.office.handlers_conflicts import add_conflict_routes
from server.office.handlers_exports import add_export_routes
from server.office.handlers_login import add_login_routes
from server.office.handlers_oversight import add_oversight_routes
from server.office.handlers_reports import add_report_routes
from server.office.keys import OFFICE_ROLES, OFFICER, SESSIONS
from server.office.sessions import SESSION_COOKIE, Sessions
from server.state.models import Principal
from server.web.pages import create_face

__all__ = ["OFFICE_ROLES", "create_office"]

OFFICE_DIR = Path(__file__).resolve().parent
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What a stranger may see: the login form and the stylesheet.
_OPEN_ROUTES: Final = frozenset({"login", "web_static"})


@web.middleware
async def require_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.name
    if route in _OPEN_ROUTES:
        return await handler(request)
    sessions, state = request.config_dict[SESSIONS], request.config_dict[STATE]
    token = request.cookies.get(SESSION_COOKIE)
    officer_id = await sessions.officer_of(state, token)
    officer = await state.get_officer(officer_id) if officer_id else None
    if officer is None or officer.revoked:
        await sessions.end(state, token)
        if request.method == "GET":
            raise web.HTTPSeeOther(request.app.router["login"].url_for())
        raise web.HTTPForbidden(reason="login")
    if officer.role not in OFFICE_ROLES:
        raise web.HTTPForbidden(reason="role")
    request[OFFICER] = Principal(officer)
    return await handler(request)


async def home(request: web.Request) -> web.StreamResponse:
    principal = request[OFFICER]
    # An admin reads no records: the devices are theirs, the queue is not.
    target = "devices" if principal.role is Role.ADMIN else "queue"
    raise web.HTTPSeeOther(request.app.router[target].url_for())


def create_office(sessions: Sessions | None = None) -> web.Application:
    app = create_face(OFFICE_DIR / "templates", middlewares=(require_login,))
    app[SESSIONS] = sessions or Sessions()
    app.router.add_get("/", home, name="home")
    add_login_routes(app)
    add_conflict_routes(app)
    add_oversight_routes(app)
    add_report_routes(app)
    add_export_routes(app)
    return app
