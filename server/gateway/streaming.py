"""Large JSON answers written as they are read (``_bulk_get``, ``_all_docs``, ``_changes``).

Built whole, one ``_bulk_get`` of a photographed record listed 200 times took
the gateway from 304 to 1,315 MiB (issue 14). Here a handler hands over its
rows page by page: each page is serialized and sent before the next is read,
so memory holds one page whatever the answer's size.

The first page is read before anything is sent, so a bad request or a store
error there still gets its JSON error with the right status. A failure
after that can only cut the answer short: the client sees truncated JSON (an
error, never a partial answer taken for whole) and retries.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson
from aiohttp import hdrs, web
from aiohttp.web_response import ContentCoding

from sync.database import Doc
from sync.errors import CouchError

__all__ = ["cut_reason", "stream_rows"]

error_logger = logging.getLogger("beatsync.error")


def cut_reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, CouchError) else "timed out"


def _members(values: Mapping[str, Any]) -> bytes:
    return b"".join(orjson.dumps(k) + b":" + orjson.dumps(v) + b"," for k, v in values.items())


async def stream_rows(
    request: web.Request,
    key: str,
    pages: AsyncIterator[list[Doc]],
    tail: Callable[[], Mapping[str, Any]],
) -> web.StreamResponse:
    """Answer ``{key: [rows of every page...], **tail()}``; ``tail`` is called after
    the last page (``last_seq``, ``total_rows``: known only once the rows are read),
    once every row is written, and never for an answer cut short."""
    first: list[Doc] = await anext(pages, [])
    response = web.StreamResponse(headers={hdrs.CONTENT_TYPE: "application/json"})
    if "gzip" in request.headers.get(hdrs.ACCEPT_ENCODING, "").lower():
        response.enable_compression(ContentCoding.gzip)
    await response.prepare(request)
    try:
        await response.write(b"{" + orjson.dumps(key) + b":[")
        separator = b""
        page = first
        while True:
            if page:
                await response.write(separator + b",".join(orjson.dumps(row) for row in page))
                separator = b","
            next_page = await anext(pages, None)
            if next_page is None:
                break
            page = next_page
        members = _members(tail())
        await response.write(b"]" + (b"," + members[:-1] if members else b"") + b"}")
        await response.write_eof()
    except (CouchError, TimeoutError) as exc:
        # 200 is already sent: cutting the connection is the one honest signal left
        # (the client's JSON parser fails and its replicator retries).
        error_logger.warning("%s answer cut short: %s", request.path, cut_reason(exc))
        if request.transport is not None:
            request.transport.abort()
    return response
