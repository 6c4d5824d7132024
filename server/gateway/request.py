"""Request parsing and JSON responses at the HTTP boundary.

Client mistakes become ``BadRequest``/``UnsupportedMediaType`` here, so no
handler ever turns one into a 500.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from server.gateway.body import read_body
from sync.errors import BadRequest, UnsupportedMediaType

__all__ = [
    "MAX_INTEGER",
    "PENDING_HEADER",
    "bool_param",
    "int_param",
    "json_param",
    "json_response",
    "parse_integer",
    "pending_reported",
    "read_json",
    "read_json_object",
]


# The largest integer a parameter may carry: SQLite's (and Erlang's small
# integers'); beyond it `skip` or `since` answered 500 from the store.
MAX_INTEGER = 2**63 - 1
_INTEGER = re.compile(r"-?[0-9]+")


def parse_integer(value: str) -> int | None:
    """``value`` as an integer if it is written in ASCII digits (``int()`` also
    takes "١٢", " 7" and "1_000"), else None."""
    return int(value) if _INTEGER.fullmatch(value) else None


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def read_json(request: web.Request, max_bytes: int | None = None) -> Any:
    # CouchDB answers 415 bad_content_type to a body that is not declared JSON.
    if request.content_type != "application/json":
        raise UnsupportedMediaType()
    raw = await read_body(request, max_bytes)  # inflated too: 413 beyond the cap
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("invalid UTF-8 JSON", error="bad_request") from None


async def read_json_object(request: web.Request, max_bytes: int | None = None) -> dict[str, Any]:
    body = await read_json(request, max_bytes)
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    return body


def bool_param(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    if value in ("true", "false"):
        return value == "true"
    raise BadRequest(f"Invalid boolean parameter: {name}={value!r}", error="query_parse_error")


def int_param(
    request: web.Request, name: str, default: int | None = None, *, minimum: int = 0
) -> int | None:
    value = request.query.get(name)
    if value is None:
        return default
    number = parse_integer(value)
    if number is None:
        raise BadRequest(f"Invalid integer parameter: {name}", error="query_parse_error")
    if number > MAX_INTEGER:
        raise BadRequest(f"{name} is too large", error="query_parse_error")
    if number < minimum:
        raise BadRequest(f"{name} must be at least {minimum}", error="query_parse_error")
    return number


# A device's word on what it still has to push (records, not journal
# entries), sent with its sync requests; the office's device health shows it.
PENDING_HEADER = "X-BeatSync-Pending"
_MAX_PENDING = 10**9


def pending_reported(request: web.Request) -> int | None:
    """The device's :data:`PENDING_HEADER`, or None when it sent none; 400 when
    it is not a whole number (a device's own report, never an officer's)."""
    value = request.headers.get(PENDING_HEADER)
    if value is None:
        return None
    number = parse_integer(value.strip())
    if number is None or not 0 <= number <= _MAX_PENDING:
        raise BadRequest(f"{PENDING_HEADER} must be a whole number of records")
    return number


def json_param(request: web.Request, name: str) -> Any:
    """A JSON-encoded query parameter (CouchDB's ``startkey="abc"``, ``open_revs=[...]``)."""
    value = request.query.get(name)
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise BadRequest(f"Parameter {name} must be JSON", error="query_parse_error") from None
