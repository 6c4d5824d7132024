"""Who may drive the officer's app: only the browser that opened its launch URL.

Three checks before anything else runs (``guard`` is the outermost middleware):

* ``Host`` must be this app's own loopback address and port, so a web page
  on a name that resolves to 127.0.0.1 (DNS rebinding) gets nothing;
* the launch secret: ``?key=SECRET`` on the first visit, exchanged for an
  HttpOnly, SameSite=Strict cookie (and a redirect that drops it from the
  address bar); without the secret or the cookie the answer is 403;
* an unsafe method must come from this origin (``Sec-Fetch-Site:
  same-origin``, or ``Origin`` from a browser that sends no fetch metadata):
  another page, even one on another port of 127.0.0.1 (the same *site*, so
  SameSite does not stop it), is refused.

The frame's CSRF token (:mod:`schemas.web.security`) is checked after this.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

__all__ = ["KEY_COOKIE", "KEY_PARAM", "make_guard"]

KEY_PARAM = "key"
KEY_COOKIE = "beatsync_ui"
_SAFE = ("GET", "HEAD")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refused(reason: str) -> web.Response:
    # Plain text on purpose: nothing of the app (not even its page frame or a
    # cookie) is given to a request that cannot show the secret.
    return web.Response(
        status=403,
        text=f"Refused: {reason}. Open the address `beatsync ui` printed.\n",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def _same_origin(request: web.Request, own: str) -> bool:
    """The browser's word that this request comes from the app's own pages.

    Fetch metadata first: the pages' ``Referrer-Policy: no-referrer`` makes
    Chromium send ``Origin: null`` with a form post, while ``Sec-Fetch-Site``
    is always sent and cannot be set by a page. Without it, ``Origin``.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    return request.headers.get(hdrs.ORIGIN) == own


def make_guard(
    secret: str, origin: Callable[[], str]
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware for an app whose launch secret is ``secret``; ``origin()``
    is ``http://127.0.0.1:PORT`` once the port is known."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        own = origin()
        if request.headers.get(hdrs.HOST) != own.removeprefix("http://"):
            return _refused("wrong host")
        given = request.query.get(KEY_PARAM)
        if given is not None:
            if not hmac.compare_digest(given, secret):
                return _refused("wrong launch secret")
            query = {k: v for k, v in request.query.items() if k != KEY_PARAM}
            location = str(request.rel_url.with_query(query))
            response = web.Response(status=303, headers={hdrs.LOCATION: location})
            response.set_cookie(KEY_COOKIE, secret, httponly=True, samesite="Strict", path="/")
            return response
        if not hmac.compare_digest(request.cookies.get(KEY_COOKIE, ""), secret):
            return _refused("no launch secret")
        if request.method not in _SAFE and not _same_origin(request, own):
            return _refused("posted from another origin")
        return await handler(request)

    return guard
