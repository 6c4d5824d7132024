"""The gateway's middlewares: access log, errors in CouchDB's shape, authentication.

One place turns every failure into ``{"error", "reason"}`` JSON: our own
``CouchError`` hierarchy, aiohttp's HTTP exceptions (unknown route 404,
wrong method 405, body over ``client_max_size`` 413 ``too_large``), and any
unexpected exception (500, logged; tests prove client mistakes never get here).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import hdrs, web
from aiohttp.web_response import ContentCoding

from server.gateway.keys import AUTHENTICATOR, GZIP_MIN_BYTES, PRINCIPAL
from sync.errors import CouchError

__all__ = ["access_log", "authenticate", "compress", "errors"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
access_logger = logging.getLogger("beatsync.access")
error_logger = logging.getLogger("beatsync.error")

_HTTP_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "bad_content_type",
}


def _error_response(status: int, error: str, reason: str) -> web.Response:
    return web.Response(
        body=orjson.dumps({"error": error, "reason": reason}),
        status=status,
        content_type="application/json",
    )


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One JSON line per request: never the query string, credentials or record text."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        principal = request.get(PRINCIPAL)
        access_logger.info(
            "request",
            extra={
                "fields": {
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "officer": principal.officer.id if principal else None,
                    "device": principal.device.id if principal and principal.device else None,
                }
            },
        )


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CouchError as exc:
        response = _error_response(exc.status, exc.error_name, exc.reason)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers[hdrs.RETRY_AFTER] = str(int(retry_after))
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        name = _HTTP_ERROR_NAMES.get(
            exc.status, "bad_request" if exc.status < 500 else "unknown_error"
        )
        reason = exc.reason
        if exc.status == 413:
            reason = "the request entity is too large"
        return _error_response(exc.status, name, reason)
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:
        error_logger.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(500, "unknown_error", "Internal server error")


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request with credentials is checked, whatever its route: a revoked
    device is refused (and told to wipe) on its very next request."""
    peer = request.remote or "unknown"
    request[PRINCIPAL] = await request.app[AUTHENTICATOR].authenticate(
        request.headers.get(hdrs.AUTHORIZATION), peer
    )
    return await handler(request)


@web.middleware
async def compress(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Gzip JSON bodies worth compressing for clients that accept it (rural links:
    a _changes page of records shrinks several times)."""
    response = await handler(request)
    if isinstance(response, web.Response) and hdrs.CONTENT_ENCODING not in response.headers:
        body = response.body
        accepts = request.headers.get(hdrs.ACCEPT_ENCODING, "").lower()
        if (
            isinstance(body, bytes)
            and len(body) >= request.app[GZIP_MIN_BYTES]
            and "gzip" in accepts
        ):
            response.enable_compression(ContentCoding.gzip)
    return response
