"""Security headers of every page, and the CSRF check of every form."""

from __future__ import annotations

import hmac

from aiohttp import web

__all__ = ["CONTENT_SECURITY_POLICY", "check_csrf_token", "page_headers"]

# Nothing from elsewhere: no CDN, no inline script, no framing; forms post
# only back here. Images may be inline data (a QR code, a photo preview).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def page_headers(response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    # Pages carry personal data or per-reader tokens: never kept by a shared cache.
    if response.content_type == "text/html":
        headers.setdefault("Cache-Control", "no-store")


async def check_csrf_token(
    request: web.Request, expected: str, field: str, *, trusted: bool
) -> None:
    """403 unless the form (or the ``X-CSRF-Token`` header) carries ``expected``.

    ``trusted`` is false when the reader had no CSRF cookie yet: a post
    without one is always refused.
    """
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type == "multipart/form-data" and field in request.query:
        # A form with files may carry its token in its action URL: reading the
        # body here would spool its files to a temporary file on disk in the
        # clear (aiohttp's post()), which the officer's app must never do.
        sent = request.query[field]
    elif sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(field)
        sent = value if isinstance(value, str) else None
    if not trusted or not sent or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(reason="csrf")
