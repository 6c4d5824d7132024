"""Server-rendered pages: Jinja2 (autoescape on) through aiohttp-jinja2, in
the language the reader chose, with a CSRF token for every form.

A face builds its sub-application with :func:`create_face`. Its templates
extend ``base.html`` from this package; ``{% trans %}`` and ``_()`` look the
words up in the one catalogue (:mod:`schemas.i18n`) for ``lang``, which the
middleware has chosen by this order: ``?lang=`` on the URL (remembered in a
cookie), the cookie, the browser's ``Accept-Language``, English.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware
from markupsafe import Markup

from schemas.i18n import LANGUAGES, negotiate, translations
from schemas.web.security import check_csrf_token, page_headers
from sync.errors import CouchError, RetryLater

__all__ = [
    "CSRF_FIELD",
    "LANGUAGE",
    "LANGUAGE_NAMES",
    "MAX_UPLOAD_MB",
    "STATIC_DIR",
    "create_face",
    "error_pages",
    "gettext_for",
    "page_middleware",
    "render",
    "see_other",
]

error_logger = logging.getLogger("beatsync.error")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
LANG_COOKIE = "lang"
CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf_token"
# A year: the choice of language is not personal data.
LANG_COOKIE_AGE = 365 * 24 * 3600
# Each name in its own script, so a reader who cannot read the page finds theirs.
LANGUAGE_NAMES: Mapping[str, str] = {"hi": "हिन्दी", "en": "English"}

# The face's upload limit in MB, for the "too large" page (set by the face).
MAX_UPLOAD_MB = web.AppKey("max_upload_mb", int)
LANGUAGE = web.RequestKey("language", str)
CSRF = web.RequestKey("csrf", str)
_NEW_CSRF = web.RequestKey("new_csrf", bool)


def gettext_for(request: web.Request) -> Callable[[str], str]:
    """The translating function for this request's language (for handlers'
    messages; templates use ``{% trans %}``)."""
    return translations(request.get(LANGUAGE, "en")).gettext


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    return translations(context.get("lang", "en")).gettext(message)


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return translations(context.get("lang", "en")).ngettext(singular, plural, n)


def _choose_language(request: web.Request) -> tuple[str, bool]:
    """The reader's language, and whether the choice is new (to remember)."""
    asked = request.query.get("lang")
    if asked in LANGUAGES:
        return asked, asked != request.cookies.get(LANG_COOKIE)
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    return negotiate(request.headers.get(hdrs.ACCEPT_LANGUAGE)), False


def _language_links(request: web.Request) -> list[dict[str, Any]]:
    """One link per language to this same page (its other query kept)."""
    links = []
    for code in LANGUAGES:
        query = {k: v for k, v in request.query.items() if k != "lang"}
        query["lang"] = code
        links.append(
            {
                "code": code,
                "name": LANGUAGE_NAMES[code],
                "url": str(request.rel_url.with_query(query)),
                "current": code == request[LANGUAGE],
            }
        )
    return links


def _page_context(request: web.Request) -> dict[str, Any]:
    request.setdefault(LANGUAGE, "en")
    request.setdefault(CSRF, "")
    return {
        "lang": request[LANGUAGE],
        "languages": _language_links(request),
        "csrf_field": Markup('<input type="hidden" name="{}" value="{}">').format(
            CSRF_FIELD, request[CSRF]
        ),
        "csrf_token": request[CSRF],
        "request": request,
    }


def _error_message(request: web.Request, status: int, reason: str, retry_after: str | None) -> str:
    _ = gettext_for(request)
    if status == 403 and reason == "csrf":
        return _(
            "The form expired or came from another site. Please go back, reload the page "
            "and send it again."
        )
    if status == 400:
        return _(
            "The address asks for something this page does not offer. Go back and choose again."
        )
    if status in (401, 403):
        return _("You may not see this page.")
    if status in (404, 405):
        return _("This page does not exist. Check the address or go back to the start.")
    if status == 413:
        megabytes = request.config_dict.get(MAX_UPLOAD_MB, 1)
        return _("The form is too large. Photos may be at most %(megabytes)s MB.") % {
            "megabytes": megabytes
        }
    if status == 429:
        return _("Too many attempts. Please try again in %(seconds)s seconds.") % {
            "seconds": retry_after or "60"
        }
    return _("The request could not be handled. Please try again later.")


def _error_page(
    request: web.Request, status: int, reason: str, retry_after: str | None
) -> web.Response:
    _ = gettext_for(request)
    title = _("Page not found") if status in (404, 405) else _("Something went wrong")
    response = render(
        "error.html",
        request,
        {"title": title, "message": _error_message(request, status, reason, retry_after)},
        status=status,
    )
    if retry_after:
        response.headers[hdrs.RETRY_AFTER] = retry_after
    page_headers(response)
    return response


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal as a page in the reader's language (never JSON, never a
    traceback): the outermost middleware of a face.

    It also holds the face to its own upload limit: a request is built by the
    outermost application (the gateway, whose sync bodies may be far larger),
    so a sub-application's ``client_max_size`` alone is never consulted."""
    request = request.clone(client_max_size=request.config_dict[MAX_UPLOAD_MB] * 1024 * 1024)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error_page(request, exc.status, exc.reason, exc.headers.get(hdrs.RETRY_AFTER))
    except CouchError as exc:
        retry = str(int(exc.retry_after)) if isinstance(exc, RetryLater) else None
        return _error_page(request, exc.status, exc.error, retry)
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:
        error_logger.exception("unhandled error on %s %s", request.method, request.path)
        return _error_page(request, 500, "internal", None)


@web.middleware
async def page_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Language and CSRF cookie in, security headers and remembered choices out.

    Every unsafe method must carry the form's CSRF token (the cookie's value,
    sent back in the form): a page of another site cannot read the cookie,
    and it is SameSite=Strict, so it does not even travel with a forged post.
    """
    language, remember_language = _choose_language(request)
    request[LANGUAGE] = language
    token = request.cookies.get(CSRF_COOKIE, "")
    request[_NEW_CSRF] = len(token) != 43
    request[CSRF] = secrets.token_urlsafe(32) if request[_NEW_CSRF] else token
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        await check_csrf_token(request, request[CSRF], CSRF_FIELD, trusted=not request[_NEW_CSRF])
    response = await handler(request)
    secure = request.secure
    if request[_NEW_CSRF]:
        response.set_cookie(
            CSRF_COOKIE, request[CSRF], httponly=True, samesite="Strict", secure=secure, path="/"
        )
    if remember_language:
        response.set_cookie(
            LANG_COOKIE, language, max_age=LANG_COOKIE_AGE, samesite="Lax", secure=secure, path="/"
        )
    page_headers(response)
    return response


def create_face(
    templates: Path,
    *,
    max_upload_mb: int = 1,
    middlewares: Sequence[Middleware] = (),
    outer_middlewares: Sequence[Middleware] = (),
) -> web.Application:
    """A face's sub-application: its pages from ``templates`` (over this
    package's ``base.html`` and ``error.html``), the shared stylesheet at
    ``static/``, error pages, language, CSRF and security headers; then the
    face's own ``middlewares`` (a login, say). Bodies over ``max_upload_mb``
    get the "too large" page. ``outer_middlewares`` run before all of it
    (the officer's app refuses a request without its launch secret before
    any cookie is set or any form read)."""
    app = web.Application(
        middlewares=(*outer_middlewares, error_pages, page_middleware, *middlewares),
        client_max_size=max_upload_mb * 1024 * 1024,
    )
    app[MAX_UPLOAD_MB] = max_upload_mb
    _setup_pages(app, templates)
    return app


def _setup_pages(app: web.Application, templates: Path) -> jinja2.Environment:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(templates), jinja2.FileSystemLoader(WEB_DIR / "templates")]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    app.router.add_static("/static/", STATIC_DIR, name="web_static", append_version=True)
    return env


def render(
    template: str, request: web.Request, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    """``template`` with ``context`` over what every page has (``lang``, the
    language links, ``csrf_field``, ``request``)."""
    return aiohttp_jinja2.render_template(
        template, request, {**_page_context(request), **context}, status=status
    )


def see_other(location: object) -> web.Response:
    """303 to ``location``: after a form, the browser fetches the next page
    with GET (a reload does not send the form again). A response, not a
    raised exception, so the caller can set cookies on it."""
    return web.Response(status=303, headers={hdrs.LOCATION: str(location)})
