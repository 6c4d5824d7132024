"""Logging in and out of the office with the officer's own password.

The password is checked by the gateway's :class:`server.policy.auth.Authenticator`:
the same scrypt check and the same login throttle as Basic auth and
enrolment, so the office is no easier a door for a guesser.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from server.gateway.keys import AUTHENTICATOR, LOGIN_ATTEMPT, STATE
from server.office.keys import OFFICE_ROLES, SESSIONS
from server.office.pages import office_page
from server.office.sessions import SESSION_COOKIE, set_session_cookie
from server.web.pages import gettext_for, see_other
from sync.errors import Unauthorized

__all__ = ["add_login_routes"]

_MAX_ID: Final = 64
_MAX_PASSWORD: Final = 1000


def _login_page(
    request: web.Request, officer_id: str = "", error: str | None = None, status: int = 200
) -> web.Response:
    _ = gettext_for(request)
    return office_page(
        "login.html",
        request,
        {"title": _("Office login"), "officer_id": officer_id, "error": error},
        status=status,
    )


async def login_form(request: web.Request) -> web.Response:
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    _ = gettext_for(request)
    form = await request.post()
    officer_id = str(form.get("officer_id", "")).strip()
    password = str(form.get("password", ""))
    if not officer_id or not password:
        return _login_page(request, officer_id, _("Enter your officer id and password."), 400)
    if len(officer_id) > _MAX_ID or len(password) > _MAX_PASSWORD:
        return _login_page(request, "", _("Officer id or password is incorrect."), 400)
    request[LOGIN_ATTEMPT] = officer_id
    try:
        officer = await request.config_dict[AUTHENTICATOR].login(
            officer_id, password, request.remote or "unknown"
        )
    except Unauthorized:
        return _login_page(request, officer_id, _("Officer id or password is incorrect."), 401)
    if officer.role not in OFFICE_ROLES:
        # A beat officer's work is on the device; the office shows them nothing.
        raise web.HTTPForbidden(reason="role")
    response = see_other(request.app.router["home"].url_for())
    token = await request.config_dict[SESSIONS].start(request.config_dict[STATE], officer.id)
    set_session_cookie(request, response, token)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    await request.config_dict[SESSIONS].end(
        request.config_dict[STATE], request.cookies.get(SESSION_COOKIE)
    )
    response = see_other(request.app.router["login"].url_for())
    response.del_cookie(SESSION_COOKIE, path="/office/")
    return response


def add_login_routes(app: web.Application) -> None:
    page = app.router.add_resource("/login", name="login")
    page.add_route("GET", login_form)
    page.add_route("POST", login)
    app.router.add_post("/logout", logout, name="logout")
