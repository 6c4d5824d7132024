"""The gateway's middlewares: the client behind trusted proxies, access log, errors
in CouchDB's shape, authentication, fair sharing.

One place turns every failure into ``{"error", "reason"}`` JSON: our own
``CouchError`` hierarchy, aiohttp's HTTP exceptions (unknown route 404,
wrong method 405, body over ``client_max_size`` 413 ``too_large``), and any
unexpected exception (500, logged; tests prove client mistakes never get here).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import hdrs, web
from aiohttp.web_response import ContentCoding

from server.gateway.fair_share import client_key
from server.gateway.forwarded import client_address
from server.gateway.keys import (
    AUTHENTICATOR,
    FAIR_SHARE,
    GZIP_MIN_BYTES,
    LOGIN_ATTEMPT,
    PRINCIPAL,
    SLOT,
    TRUSTED_PROXIES,
)
from server.policy.auth import basic_officer_id
from sync.errors import (
    CouchError,
    RequestTimeout,
    RequestTooLarge,
    RetryLater,
    ServiceUnavailable,
    error_for_status,
)

__all__ = ["access_log", "authenticate", "compress", "errors", "fair_share", "forwarded"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Officer ids are short slugs; whatever a stranger sends is cut to this in the log.
_MAX_LOGGED_ID = 64
access_logger = logging.getLogger("beatsync.access")
# nginx's "client closed request": the client left before its answer was written,
# which is not the server's failure (it was logged as 500).
CLIENT_CLOSED = 499
error_logger = logging.getLogger("beatsync.error")
TIMED_OUT = "The gateway timed out waiting for its store; try again shortly."
# Health checks answer from memory: a prober must see the gateway up, never queued.
_UNGATED = frozenset({"/_up", "/"})


def _error_response(exc: CouchError) -> web.Response:
    response = web.Response(
        body=orjson.dumps(exc.to_json()), status=exc.status, content_type="application/json"
    )
    if isinstance(exc, RetryLater):
        response.headers[hdrs.RETRY_AFTER] = str(int(exc.retry_after))
    if isinstance(exc, RequestTimeout):
        # The rest of a body that came too slowly is not worth waiting for.
        response.force_close()
    return response


def _couch_error(exc: web.HTTPException) -> CouchError:
    """aiohttp's own refusal as the :mod:`sync.errors` class its status stands for."""
    cls = error_for_status(exc.status)
    # aiohttp's reason phrase, except for a body over client_max_size: CouchDB's words.
    return cls(None if cls is RequestTooLarge else exc.reason)


@web.middleware
async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``request.remote`` is the client behind the trusted proxies
    (:mod:`server.gateway.forwarded`) for everything after: login throttling,
    fair sharing, the access log, the portal's limits. Outermost, so the body
    is unread (aiohttp clones only then)."""
    client = client_address(
        request.remote,
        request.headers.getall(hdrs.X_FORWARDED_FOR, []),
        request.config_dict[TRUSTED_PROXIES],
    )
    if client is None or client == request.remote:
        return await handler(request)
    return await handler(request.clone(remote=client))


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One JSON line per request: never the query string, a password, a token or
    record text. ``client`` (the peer address) and ``login`` (the officer id a
    password login named, right or wrong) let an operator see who is guessing."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except (asyncio.CancelledError, ConnectionResetError):
        status = CLIENT_CLOSED
        raise
    finally:
        principal = request.get(PRINCIPAL)
        attempted = request.get(LOGIN_ATTEMPT)
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
                    "client": request.remote,
                    "login": attempted[:_MAX_LOGGED_ID] if attempted is not None else None,
                }
            },
        )


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CouchError as exc:
        return _error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error_response(_couch_error(exc))
    except ConnectionResetError:
        raise
    except TimeoutError:
        # A store or CouchDB call that ran out of time: the server's trouble, not
        # the client's, and under load one traceback per request buries the log.
        # One line, and a 503 whose Retry-After the replicator honours (aiohttp
        # would answer a text 504 and the access log would say 500).
        error_logger.warning("timed out: %s %s", request.method, request.path)
        return _error_response(ServiceUnavailable(TIMED_OUT))
    except Exception:
        error_logger.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(CouchError("Internal server error"))


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request with credentials is checked, whatever its route: a revoked
    device is refused (and told to wipe) on its very next request."""
    peer = request.remote or "unknown"
    header = request.headers.get(hdrs.AUTHORIZATION)
    attempted = basic_officer_id(header)
    if attempted is not None:
        request[LOGIN_ATTEMPT] = attempted
    request[PRINCIPAL] = await request.app[AUTHENTICATOR].authenticate(header, peer)
    return await handler(request)


@web.middleware
async def fair_share(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request but a health check works in one of its client's slots
    (:mod:`server.gateway.fair_share`); after :func:`authenticate`, which names the client."""
    if request.path in _UNGATED:
        return await handler(request)
    key = client_key(request.get(PRINCIPAL), request.remote)
    async with request.config_dict[FAIR_SHARE].slot(key) as slot:
        request[SLOT] = slot
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
