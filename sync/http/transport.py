"""The HTTP plumbing under :class:`sync.http.remote.HttpDatabase`.

One job: send a request to a CouchDB-API server and hand back its JSON, or
raise the :mod:`sync.errors` class the answer stands for; a broken link is
:class:`~sync.errors.PeerUnreachable`, made by :func:`unreachable` here for
every HTTP client of the project (:func:`connection_errors`). It owns the things
every call shares: credentials (taken out of the URL so they are never logged
or used as an identity), one keep-alive connection pool (on a 600 ms rural
link a new TCP connection per request costs more than the bytes), gzip both
ways, timeouts, the retry of a request that met a stale pooled connection,
and the traffic counters the benchmarks print.
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from sync.errors import (
    BadPeerResponse,
    BadRequest,
    CouchError,
    PeerUnreachable,
    TooManyRequests,
    error_from_response,
)

__all__ = [
    "CONNECTION_ERRORS",
    "BadPeerResponse",
    "PeerUnreachable",
    "TooManyRequests",
    "TrafficStats",
    "Transport",
    "connection_errors",
    "quote_doc_id",
    "split_credentials",
    "unreachable",
]

# Request bodies smaller than this go uncompressed: gzip's 18 bytes of framing
# and the CPU time are not worth it below about one TCP segment.
COMPRESS_MIN_BYTES: Final = 1024
# A request that fails because the server closed an idle pooled connection
# just as we reused it (pouchdb-server drops idle ones after 5 s) is sent once
# more on a fresh connection. aiohttp already does this for the methods RFC
# 9112 §9.3.1 calls idempotent (GET, HEAD, PUT, DELETE); we add it for the
# POSTs that are reads (_revs_diff, _bulk_get, _all_docs, _changes) or
# replays (_bulk_docs with new_edits=false).
STALE_CONNECTION_RETRIES: Final = 1
_JSON: Final = "application/json"
# What a broken link raises under aiohttp: its client errors (refused, reset,
# DNS, a dropped connection), the OS's socket errors, and timeouts
# (asyncio.TimeoutError is TimeoutError since Python 3.11).
CONNECTION_ERRORS: Final = (aiohttp.ClientError, OSError, TimeoutError)


def unreachable(
    url: str | URL, exc: BaseException | str, *, method: str | None = None
) -> PeerUnreachable:
    """The :class:`~sync.errors.PeerUnreachable` a failed request to ``url`` stands for.

    ``exc`` is what the link raised (one of :data:`CONNECTION_ERRORS`) or a
    sentence saying what happened. The message names the URL (credentials
    taken out) and what went wrong; it never says what to do, which is for
    the program showing it to say.
    """
    where = str(URL(str(url)).with_user(None))
    timed_out = isinstance(exc, TimeoutError)
    if isinstance(exc, str):
        what = exc
    elif timed_out:
        what = "timed out"
    else:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    request = f"{method} {where}" if method else where
    return PeerUnreachable(f"{request}: {what}", url=where, detail=what, timed_out=timed_out)


@contextmanager
def connection_errors(url: str | URL, *, method: str | None = None) -> Iterator[None]:
    """Inside, a broken link (:data:`CONNECTION_ERRORS`) is raised as :func:`unreachable`."""
    try:
        yield
    except CONNECTION_ERRORS as exc:
        raise unreachable(url, exc, method=method) from None


@dataclass
class TrafficStats:
    """What one :class:`Transport` put on and took off the wire.

    ``bytes_*`` count HTTP bodies exactly as transmitted (after compression)
    plus the request line / status line and headers, rebuilt from the header
    lists aiohttp saw (so within a few bytes of the real header block). Not
    counted: chunked-encoding framing, TCP/TLS overhead, failed connection
    attempts. ``requests`` counts every HTTP request sent, our retries
    included; aiohttp's own silent re-send of an idempotent request over a
    stale pooled connection is not visible to us and not counted.
    """

    requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def reset(self) -> None:
        self.requests = self.bytes_sent = self.bytes_received = 0


def split_credentials(url: str) -> tuple[URL, str | None]:
    """The URL without ``user:pass@`` nor a trailing slash, and the ``Authorization``
    header value its credentials stand for (Basic, UTF-8 as RFC 7617 and CouchDB read it)."""
    parsed = URL(url)
    if not parsed.scheme or not parsed.host:
        raise ValueError("a database URL must be absolute, like http://host:5984/dbname")
    auth = None
    if parsed.user is not None:
        auth = _basic(parsed.user, parsed.password or "")
    clean = parsed.with_user(None).with_query(None).with_fragment(None)
    return clean.with_path(clean.raw_path.rstrip("/"), encoded=True), auth


def _basic(login: str, password: str) -> str:
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def quote_doc_id(doc_id: str) -> str:
    """A doc id as one URL path segment (CouchDB: "document IDs must be URL-encoded").

    ``_design/`` and ``_local/`` keep their slash (CouchDB routes them as two
    segments); everything else, ``/`` and ``+`` included, is percent-encoded so
    an id like ``../_all_dbs`` cannot climb out of the database. A segment of
    only dots is encoded too, or HTTP stacks would collapse it as ``.``/``..``.
    """
    for prefix in ("_design/", "_local/"):
        if doc_id.startswith(prefix):
            return prefix + _quote_segment(doc_id[len(prefix):])
    return _quote_segment(doc_id)


def _quote_segment(text: str) -> str:
    quoted = quote(text, safe="")
    if quoted and set(quoted) == {"."}:
        quoted = "%2E" * len(quoted)
    return quoted


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date, RFC 9110 §10.2.3)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _decompressor(encoding: str) -> Any:
    """An incremental decoder for a ``Content-Encoding`` (we only ask for gzip)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(wbits=zlib.MAX_WBITS)
    raise BadPeerResponse(f"unsupported Content-Encoding {encoding!r}")


def _request_head_size(method: str, response: aiohttp.ClientResponse) -> int:
    info = response.request_info
    line = len(method) + len(info.url.raw_path_qs) + len(" HTTP/1.1\r\n") + 1
    return line + sum(len(k) + len(v) + 4 for k, v in info.headers.items()) + 2


def _response_head_size(response: aiohttp.ClientResponse) -> int:
    line = len(f"HTTP/1.1 {response.status} {response.reason or ''}\r\n")
    return line + sum(len(k) + len(v) + 4 for k, v in response.raw_headers) + 2


def _parse_json(raw: bytes, status: int) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        if 200 <= status < 300:
            raise BadPeerResponse(f"HTTP {status} with a body that is not JSON") from None
        return None  # an error page (a proxy's HTML): the status alone says what went wrong


class Transport:
    """Requests to one database URL; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        auth: aiohttp.BasicAuth | str | None,
        session: aiohttp.ClientSession | None,
        compress_requests: bool,
        request_timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base, self._auth_header = split_credentials(url)
        # Sent with every request, read at each one: the owner may change them
        # between requests (a device's report of what it still has to push).
        self._extra_headers = headers
        # An explicit ``auth`` wins over credentials in the URL. (aiohttp 3.14
        # deprecates BasicAuth; one given to us is still honoured, read as UTF-8.)
        if isinstance(auth, str):
            self._auth_header = f"Bearer {auth}"
        elif auth is not None:
            self._auth_header = _basic(auth.login, auth.password)
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self.compress_requests = compress_requests
        self.request_timeout = request_timeout
        self.stats = TrafficStats()

    @property
    def identity(self) -> str:
        return str(self.base)

    def url(
        self, path: str = "", params: Mapping[str, str] | None = None, *, root: bool = False
    ) -> URL:
        """The URL of ``path`` (already quoted) under the database, with a query string;
        ``root`` means the server's welcome URL, the parent of the database's."""
        text = str(self.base.parent if root else self.base).rstrip("/")
        text += "/" + path if path or root else ""
        if params:
            # quote(safe="") so JSON values ("[", '"', ",") and "+" reach CouchDB intact.
            text += "?" + "&".join(
                f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items()
            )
        return URL(text, encoded=True)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this HttpDatabase is closed")
        if self._session is None:
            # Created lazily so it belongs to the running event loop. One
            # connector: connections are kept alive and reused across calls.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=16, keepalive_timeout=30),
                auto_decompress=False,
            )
        return self._session

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Accept": _JSON, "Accept-Encoding": "gzip"}
        if self._auth_header is not None:
            headers["Authorization"] = self._auth_header
        if self._extra_headers:
            headers.update(self._extra_headers)
        if extra:
            headers.update(extra)
        return headers

    def _encode_body(self, body: Any, headers: dict[str, str]) -> bytes:
        try:
            data = orjson.dumps(body)
        except TypeError as exc:  # orjson.JSONEncodeError: an integer past 64 bits, a set...
            # The same 400 the embedded store gives a value JSON cannot hold, so
            # the replicator isolates the one document at fault (issue 14).
            raise BadRequest(f"Document is not valid JSON: {exc}", error="doc_validation") from None
        headers["Content-Type"] = _JSON
        if self.compress_requests and len(data) >= COMPRESS_MIN_BYTES:
            data = gzip.compress(data, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return data

    @asynccontextmanager
    async def _open(
        self,
        method: str,
        url: URL,
        *,
        data: bytes | None,
        headers: dict[str, str],
        timeout: aiohttp.ClientTimeout,
        retry_stale: bool,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request (retrying a stale pooled connection once) and yield the response."""
        session = self._get_session()
        attempts = 1 + (STALE_CONNECTION_RETRIES if retry_stale else 0)
        for attempt in range(attempts):
            self.stats.requests += 1
            try:
                response = await session.request(
                    method, url, data=data, headers=headers, timeout=timeout,
                    allow_redirects=False,  # a redirect must not carry our credentials elsewhere
                    auto_decompress=False,  # we decode, so byte counts are wire bytes
                )
            except aiohttp.ServerDisconnectedError:
                if attempt + 1 < attempts:
                    continue
                raise unreachable(
                    self.identity, "the server closed the connection", method=method
                ) from None
            except CONNECTION_ERRORS as exc:
                raise unreachable(self.identity, exc, method=method) from None
            self.stats.bytes_sent += _request_head_size(method, response) + len(data or b"")
            self.stats.bytes_received += _response_head_size(response)
            try:
                yield response
            finally:
                response.close()
            return

    async def _read_body(self, response: aiohttp.ClientResponse, method: str) -> bytes:
        decoder = _decompressor(response.headers.get("Content-Encoding", ""))
        with connection_errors(self.identity, method=method):
            raw = await response.content.read()
        self.stats.bytes_received += len(raw)
        if decoder is None:
            return raw
        try:
            return bytes(decoder.decompress(raw) + decoder.flush())
        except zlib.error:
            raise BadPeerResponse("the answer's compressed body is corrupt") from None

    def _error(self, response: aiohttp.ClientResponse, body: Any) -> CouchError:
        # No Retry-After header: the client's own backoff decides, not our server default.
        retry_after = _retry_after(response.headers) or 0
        return error_from_response(response.status, body, retry_after=retry_after)

    async def request(
        self,
        method: str,
        path: str = "",
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
        retry_stale: bool = True,
        root: bool = False,
    ) -> Any:
        """Send a request; return the parsed JSON answer or raise its :mod:`sync.errors` class.

        ``body`` (any JSON value, ``None`` for none) is sent as JSON.
        ``read_timeout`` is the longest silence tolerated while waiting for
        the answer (default ``request_timeout``): a limit on a stalled link,
        not on a slow one, so a large batch on 64 kbit/s still completes.
        ``retry_stale=False`` for POSTs that must not be sent twice; ``root``
        sends the request to the server's welcome URL instead of the database.
        """
        all_headers = self._headers(headers)
        data = None if body is None else self._encode_body(body, all_headers)
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.request_timeout,
            sock_read=read_timeout if read_timeout is not None else self.request_timeout,
        )
        async with self._open(
            method, self.url(path, params, root=root), data=data, headers=all_headers,
            timeout=timeout, retry_stale=retry_stale,
        ) as response:
            raw = b"" if method == "HEAD" else await self._read_body(response, method)
            parsed = _parse_json(raw, response.status)
            if not 200 <= response.status < 300:
                raise self._error(response, parsed)
            return parsed

    async def status(self, method: str, path: str = "") -> int:
        """Only the status of a bodiless request (``HEAD /db``)."""
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.request_timeout, sock_read=self.request_timeout
        )
        async with self._open(
            method, self.url(path), data=None, headers=self._headers(None),
            timeout=timeout, retry_stale=True,
        ) as response:
            return response.status

    async def stream_lines(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        body: Any = None,
        idle_timeout: float,
        accept_gzip: bool = False,
    ) -> AsyncGenerator[bytes, None]:
        """Yield the answer's body line by line as it arrives (a continuous ``_changes``).

        ``idle_timeout`` bounds the silence between chunks (the server's
        heartbeats keep a healthy feed above it). Closing the generator closes
        the connection: a half-read stream cannot go back to the pool.
        """
        # identity, not gzip: a compressing server (pouchdb-server's express
        # middleware) buffers a gzip stream, holding back rows and heartbeats.
        # (Our gateway's sync session flushes its gzip stream itself: accept_gzip.)
        all_headers = self._headers(None if accept_gzip else {"Accept-Encoding": "identity"})
        data = None if body is None else self._encode_body(body, all_headers)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.request_timeout, sock_read=idle_timeout
        )
        async with self._open(
            method, self.url(path, params), data=data, headers=all_headers,
            timeout=timeout, retry_stale=True,
        ) as response:
            if not 200 <= response.status < 300:
                raw = await self._read_body(response, method)
                raise self._error(response, _parse_json(raw, response.status))
            decoder = _decompressor(response.headers.get("Content-Encoding", ""))
            pending = b""
            while True:
                with connection_errors(self.identity, method=method):
                    chunk = await response.content.readany()
                if not chunk:
                    break
                self.stats.bytes_received += len(chunk)
                if decoder is not None:
                    try:
                        chunk = decoder.decompress(chunk)
                    except zlib.error:
                        raise BadPeerResponse("the feed's compressed body is corrupt") from None
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line
            if pending:
                yield pending

    async def close(self) -> None:
        self._closed = True
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

