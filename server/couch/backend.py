"""The gateway's station databases in a central CouchDB (``serve --couchdb URL``).

One CouchDB database per station (``station-<id>``), each reached through
:class:`sync.http.remote.HttpDatabase` (async, ``_revs_diff``, ``_bulk_get``,
``new_edits=false``), all sharing ONE aiohttp session, so every request to the
cluster reuses the same keep-alive pool. :class:`CouchStationStores` is a
drop-in for :class:`server.state.stations.SQLiteStationStores`.

Every store is wrapped in :class:`GuardedDatabase`: when CouchDB is down,
slow or refuses the gateway's own credentials, the device gets 503 with a
``Retry-After`` (CouchDB's own answer to an overloaded node, docs.couchdb.org
"HTTP Status Codes"), never a 401 that would make it think its token is bad,
and never a request that hangs (every call has a silence limit).

Credentials come from the URL (``http://user:pass@host:5984``) or from
``BEATSYNC_COUCHDB_USER`` / ``BEATSYNC_COUCHDB_PASSWORD``; only the URL
without them is ever shown (:func:`redact`).
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

import aiohttp
import orjson
from yarl import URL

from server.state.models import station_db_name
from server.state.stations import StationDatabases
from sync.database import Database, Doc
from sync.errors import CouchError, ServiceUnavailable, error_from_response
from sync.http import BadPeerResponse, HttpDatabase
from sync.http.transport import connection_errors

__all__ = [
    "COUCH_PASSWORD_ENV",
    "COUCH_USER_ENV",
    "RETRY_AFTER_S",
    "CouchServer",
    "CouchStationStores",
    "GuardedDatabase",
    "couch_credentials",
    "redact",
    "with_credentials",
]

COUCH_USER_ENV: Final = "BEATSYNC_COUCHDB_USER"
COUCH_PASSWORD_ENV: Final = "BEATSYNC_COUCHDB_PASSWORD"
# What a device is told to wait after a 503. The field client's replicator
# backs off with jitter on top of this, so a recovering cluster is not hit by
# every device of the district in the same second.
RETRY_AFTER_S: Final = 10
# The longest silence tolerated from CouchDB while connecting or waiting for
# an answer (not a cap on a long transfer). A healthy cluster answers in
# milliseconds; a device waiting longer than this is better told 503.
DEFAULT_COUCH_TIMEOUT_S: Final = 15.0
# Connections to CouchDB kept per gateway process: enough for the handlers
# of one event loop; the cluster, not the gateway, is the bottleneck.
POOL_SIZE: Final = 64

log = logging.getLogger("beatsync.couch")
T = TypeVar("T")


def redact(url: str) -> str:
    """The URL without ``user:password@``: the only form that is logged or shown."""
    return str(URL(url).with_user(None))


Credentials = tuple[str, str]


def couch_credentials(
    url: str, environ: Mapping[str, str] | None = None
) -> tuple[str, Credentials | None]:
    """``(base URL without credentials or trailing slash, (user, password))``; the
    URL's own credentials win over the environment's."""
    env = os.environ if environ is None else environ
    parsed = URL(url)
    if not parsed.scheme or not parsed.host:
        raise ValueError("the CouchDB URL must be absolute, like http://host:5984")
    base = str(parsed.with_user(None).with_query(None).with_fragment(None)).rstrip("/")
    if parsed.user is not None:
        return base, (parsed.user, parsed.password or "")
    user = env.get(COUCH_USER_ENV)
    if user:
        return base, (user, env.get(COUCH_PASSWORD_ENV, ""))
    return base, None


def with_credentials(base: str, path: str, credentials: Credentials | None) -> str:
    """``base/path`` carrying ``credentials`` the way CouchDB URLs do (``user:pass@``)."""
    url = URL(f"{base}/{path}" if path else base)
    if credentials is not None:
        url = url.with_user(credentials[0]).with_password(credentials[1])
    return str(url)


def _unavailable(exc: CouchError) -> ServiceUnavailable:
    """What a device is told when CouchDB failed the gateway."""
    retry_after = getattr(exc, "retry_after", 0) or RETRY_AFTER_S
    return ServiceUnavailable(
        "The district database is unavailable; your data is safe on your device, sync again later.",
        retry_after=retry_after,
    )


def _is_outage(exc: CouchError) -> bool:
    # 5xx/408/429: CouchDB down, slow or overloaded. 401/403 on the gateway's
    # own request: its CouchDB account is misconfigured, which is the
    # operator's problem, not the device's (a 401 would tell it to re-enrol).
    return exc.transient or exc.status in (401, 403)


async def _guard(call: Awaitable[T]) -> T:
    try:
        return await call
    except CouchError as exc:
        if not _is_outage(exc):
            raise
        log.warning(
            "couchdb unavailable", extra={"fields": {"error": exc.error_name, "status": exc.status}}
        )
        raise _unavailable(exc) from None


class GuardedDatabase(Database):
    """A store whose outages become 503 ``service_unavailable`` with ``Retry-After``."""

    def __init__(self, inner: Database) -> None:
        self._inner = inner

    @property
    def inner(self) -> Database:
        return self._inner

    async def identity(self) -> str:
        return await self._inner.identity()

    async def info(self) -> Doc:
        return await _guard(self._inner.info())

    async def get(self, doc_id: str, **options: Any) -> Doc:
        return await _guard(self._inner.get(doc_id, **options))

    async def open_revs(
        self, doc_id: str, revs: Sequence[str] | Literal["all"], **options: Any
    ) -> list[Doc]:
        return await _guard(self._inner.open_revs(doc_id, revs, **options))

    async def put(self, doc: Doc, *, new_edits: bool = True) -> Doc:
        return await _guard(self._inner.put(doc, new_edits=new_edits))

    async def bulk_docs(self, docs: Sequence[Doc], *, new_edits: bool = True) -> list[Doc]:
        return await _guard(self._inner.bulk_docs(docs, new_edits=new_edits))

    async def revs_diff(self, revs: Mapping[str, Sequence[str]]) -> dict[str, Doc]:
        return await _guard(self._inner.revs_diff(revs))

    async def bulk_get(self, docs: Sequence[Mapping[str, Any]], **options: Any) -> list[Doc]:
        return await _guard(self._inner.bulk_get(docs, **options))

    async def changes(self, **options: Any) -> Doc:
        return await _guard(self._inner.changes(**options))

    async def changes_feed(self, **options: Any) -> AsyncIterator[Doc]:
        feed = self._inner.changes_feed(**options)
        try:
            while True:
                try:
                    row = await _guard(anext(feed))
                except StopAsyncIteration:
                    return
                yield row
        finally:
            await feed.aclose()  # type: ignore[attr-defined]

    async def all_docs(self, **options: Any) -> Doc:
        return await _guard(self._inner.all_docs(**options))

    async def get_local(self, local_id: str) -> Doc:
        return await _guard(self._inner.get_local(local_id))

    async def put_local(self, doc: Doc) -> Doc:
        return await _guard(self._inner.put_local(doc))

    async def delete_local(self, local_id: str, rev: str) -> Doc:
        return await _guard(self._inner.delete_local(local_id, rev))

    async def purge(self, revs: Mapping[str, Sequence[str]]) -> Doc:
        return await _guard(self._inner.purge(revs))

    async def revs_limit(self) -> int:
        return await _guard(self._inner.revs_limit())

    async def close(self) -> None:
        await self._inner.close()


@dataclass
class CouchServer:
    """One CouchDB cluster: its base URL, the gateway's credentials, one shared session."""

    base_url: str
    credentials: Credentials | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_COUCH_TIMEOUT_S
    _session: aiohttp.ClientSession | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = DEFAULT_COUCH_TIMEOUT_S) -> CouchServer:
        base, credentials = couch_credentials(url)
        return cls(base, credentials, timeout_s)

    @property
    def session(self) -> aiohttp.ClientSession:
        # Created on first use so it belongs to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=POOL_SIZE, keepalive_timeout=30),
                auto_decompress=False,  # HttpDatabase decodes, counting wire bytes
            )
        return self._session

    def raw_database(self, name: str) -> HttpDatabase:
        """``name`` as an :class:`HttpDatabase` on the shared session (errors unguarded)."""
        # Credentials travel in the URL; HttpDatabase turns them into a Basic
        # header and never shows them (its identity is the URL without them).
        return HttpDatabase(
            with_credentials(self.base_url, name, self.credentials),
            session=self.session,
            request_timeout=self.timeout_s,
        )

    def database(self, name: str) -> GuardedDatabase:
        return GuardedDatabase(self.raw_database(name))

    async def find(self, db: str, query: Mapping[str, Any]) -> list[Doc]:
        """``POST /{db}/_find`` (Mango; not part of the replication ``Database``
        interface): the matching docs. Outages become 503 like every store call."""
        body = await _guard(self._ask("POST", f"{db}/_find", data=orjson.dumps(query)))
        return list(body.get("docs", []))

    async def view(self, db: str, ddoc: str, view: str, params: Mapping[str, Any]) -> Doc:
        """``GET /{db}/_design/{ddoc}/_view/{view}``: ``params`` are the view's
        query parameters as values (JSON-encoded here, as CouchDB reads
        ``startkey`` and friends; ``startkey_docid`` as it is). Outages become
        503 like every store call."""
        # Every parameter is JSON but the doc ids that break ties between equal keys.
        query = {
            k: v if k.endswith("_docid") else orjson.dumps(v).decode() for k, v in params.items()
        }
        return await _guard(self._ask("GET", f"{db}/_design/{ddoc}/_view/{view}", params=query))

    async def _ask(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Doc:
        url = f"{self.base_url}/{path}"
        # identity: the shared session does not decompress (HttpDatabase counts wire bytes).
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if self.credentials is not None:
            token = base64.b64encode(":".join(self.credentials).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout_s, sock_read=self.timeout_s
        )
        with connection_errors(url, method=method):
            async with self.session.request(
                method, url, data=data, params=params, headers=headers, timeout=timeout
            ) as answer:
                raw = await answer.read()
                status = answer.status
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadPeerResponse() from None
        if not 200 <= status < 300:
            raise error_from_response(status, body)
        if not isinstance(body, dict):
            raise BadPeerResponse()
        return body

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


class CouchStationStores(StationDatabases):
    """:class:`~server.state.stations.SQLiteStationStores` over CouchDB: one `station-<id>` each.

    The databases are created by ``beatsync-server couch bootstrap`` (with
    their ``_security`` and indexes), not here: the gateway's CouchDB account
    needs no server-admin rights. The shared session belongs to the
    :class:`CouchServer`, which its owner closes.
    """

    def __init__(self, server: CouchServer) -> None:
        self._server = server
        self._open: dict[str, GuardedDatabase] = {}

    async def get(self, station_id: str) -> Database:
        store = self._open.get(station_id)
        if store is None:
            store = self._open[station_id] = self._server.database(station_db_name(station_id))
        return store

    async def close(self) -> None:
        self._open.clear()
