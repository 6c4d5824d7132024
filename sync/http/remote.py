"""``HttpDatabase``: a :class:`~sync.database.Database` that is a CouchDB-API URL.

How a device talks to the BeatSync gateway and how the gateway talks to a
real CouchDB (in tests, pouchdb-server 4.2). Every method is one documented
CouchDB 3 endpoint (https://docs.couchdb.org/en/stable/api/), sending and
returning its JSON as it is; the wire details (credentials, keep-alive, gzip,
errors, counters) live in :mod:`sync.http.transport`, the reshaping of
``_bulk_get`` answers (and its per-document fallback) in
:mod:`sync.http.bulk_get`, ``_changes`` filters in :mod:`sync.http.changes`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final, Literal

import aiohttp
import orjson

from sync.database import Database, Doc, Seq
from sync.errors import (
    BadPeerResponse,
    BadRequest,
    CouchError,
    MethodNotAllowed,
    NotFound,
    PeerUnreachable,
    PreconditionFailed,
    TooManyRequests,
    error_from_result,
)
from sync.http.bulk_get import fetch_one_by_one, is_missing_database, normalize_results
from sync.http.changes import changes_query
from sync.http.transport import TrafficStats, Transport, quote_doc_id, unreachable

__all__ = [
    "BadPeerResponse",
    "HttpDatabase",
    "PeerUnreachable",
    "TooManyRequests",
    "TrafficStats",
]

# CouchDB's default longpoll timeout (60 s, [chttpd] changes_timeout) when the
# caller gives none.
DEFAULT_LONGPOLL_TIMEOUT: Final = 60.0
# How long past its own longpoll timeout we wait for the server to answer.
# CouchDB answers on time, and its answer needs one trip back (0.3-1 s on
# 2G/3G); pouchdb-server keeps an idle longpoll open forever, so after this
# much extra silence we end the poll ourselves.
LONGPOLL_GRACE: Final = 5.0
# Without a word for this many heartbeats, a continuous feed is dead (a NAT
# box dropped it) and is reported as unreachable so the caller reconnects.
MISSED_HEARTBEATS: Final = 3
# Answers meaning "no _bulk_get here": 404 (CouchDB 1.x, old proxies), 405,
# and 400 (CouchDB 1.x reading "_bulk_get" as a document id).
_NO_BULK_GET: Final = (NotFound, MethodNotAllowed, BadRequest)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _atts_since_params(atts_since: Sequence[str] | None) -> dict[str, str]:
    """``atts_since=[...]`` for a document GET. CouchDB then inlines only newer
    attachments; PouchDB ignores it, so ``attachments=true`` goes along, or it
    would answer bare stubs for data the asker may lack."""
    if not atts_since:
        return {}
    return {"atts_since": _json(list(atts_since)), "attachments": "true"}


def _local_path(local_id: str) -> str:
    if not local_id.startswith("_local/") or local_id == "_local/":
        raise BadRequest(f"a local document id starts with _local/: {local_id!r}")
    return quote_doc_id(local_id)


class HttpDatabase(Database):
    """One remote database, ``url`` being ``http(s)://[user:pass@]host:port/dbname``.

    ``auth`` overrides credentials in the URL: ``aiohttp.BasicAuth``, or a
    str meaning a bearer token (the gateway's device tokens). Pass a
    ``session`` to share a connection pool (then it is the caller's to
    close); otherwise the instance opens its own and :meth:`close` closes it.
    ``compress_requests`` gzips request bodies of 1 KB and more (CouchDB and
    our gateway accept ``Content-Encoding: gzip``). ``request_timeout`` is
    the longest silence, in seconds, tolerated while connecting or waiting
    for an answer. ``headers`` go with every request, read at each one (the
    caller may change the mapping between requests).
    """

    def __init__(
        self,
        url: str,
        *,
        auth: aiohttp.BasicAuth | str | None = None,
        session: aiohttp.ClientSession | None = None,
        compress_requests: bool = False,
        request_timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._http = Transport(
            url, auth=auth, session=session,
            compress_requests=compress_requests, request_timeout=request_timeout,
            headers=headers,
        )
        # None until the first _bulk_get says whether the server has one.
        self._has_bulk_get: bool | None = None
        # None until a selector filter is first needed.
        self._filters_selectors: bool | None = None

    def __repr__(self) -> str:
        return f"HttpDatabase({self._http.identity!r})"

    @property
    def stats(self) -> TrafficStats:
        """Requests and bytes so far (see :class:`~sync.http.transport.TrafficStats`)."""
        return self._http.stats

    @property
    def transport(self) -> Transport:
        """The HTTP plumbing under this database, for BeatSync's own endpoints
        (the sync session, :mod:`sync.session_client`) on the same connection pool."""
        return self._http

    @property
    def url(self) -> str:
        """The database URL without credentials."""
        return self._http.identity

    async def identity(self) -> str:
        return self._http.identity

    async def close(self) -> None:
        await self._http.close()

    # -- the database itself -------------------------------------------------

    async def create(self) -> None:
        """``PUT /{db}``; an existing database (412) is fine."""
        with contextlib.suppress(PreconditionFailed):
            await self._http.request("PUT")

    async def delete_database(self) -> None:
        """``DELETE /{db}``."""
        await self._http.request("DELETE")

    async def exists(self) -> bool:
        """``HEAD /{db}``: 200 or 404 (anything else, e.g. 401, raises)."""
        status = await self._http.status("HEAD")
        if status == 404:
            return False
        if 200 <= status < 300:
            return True
        # A HEAD answer has no body to explain itself; ask again with GET to raise its error.
        await self._http.request("GET")
        return True

    async def info(self) -> Doc:
        result: Doc = await self._http.request("GET")
        return result

    async def revs_limit(self) -> int:
        return int(await self._http.request("GET", "_revs_limit"))

    # -- documents -------------------------------------------------------------

    async def get(
        self,
        doc_id: str,
        *,
        rev: str | None = None,
        revs: bool = False,
        conflicts: bool = False,
        deleted_conflicts: bool = False,
        attachments: bool = False,
        latest: bool = False,
        atts_since: Sequence[str] | None = None,
    ) -> Doc:
        params = _atts_since_params(atts_since)
        if rev is not None:
            params["rev"] = rev
        for name, value in (
            ("revs", revs), ("conflicts", conflicts), ("deleted_conflicts", deleted_conflicts),
            ("attachments", attachments), ("latest", latest),
        ):
            if value:
                params[name] = "true"
        # Accept: application/json (always sent) keeps attachments inline as
        # base64 instead of a multipart/related answer.
        doc: Doc = await self._http.request("GET", quote_doc_id(doc_id), params=params)
        return doc

    async def open_revs(
        self,
        doc_id: str,
        revs: Sequence[str] | Literal["all"],
        *,
        include_revisions: bool = True,
        attachments: bool = False,
        latest: bool = False,
        atts_since: Sequence[str] | None = None,
    ) -> list[Doc]:
        params = _atts_since_params(atts_since)
        params["open_revs"] = "all" if revs == "all" else _json(list(revs))
        for name, value in (
            ("revs", include_revisions), ("attachments", attachments), ("latest", latest)
        ):
            if value:
                params[name] = "true"
        result: list[Doc] = await self._http.request("GET", quote_doc_id(doc_id), params=params)
        return result

    async def put(self, doc: Doc, *, new_edits: bool = True) -> Doc:
        doc_id = doc.get("_id")
        if not isinstance(doc_id, str) or not doc_id:
            raise BadRequest("a document needs an _id to be PUT")
        params = {} if new_edits else {"new_edits": "false"}
        result = await self._http.request("PUT", quote_doc_id(doc_id), params=params, body=doc)
        if isinstance(result, list):
            # pouchdb-server answers a new_edits=false PUT like _bulk_docs ([] or
            # the failures); CouchDB 3 answers {"ok", "id", "rev"}.
            if result:
                raise error_from_result(result[0])
            return {"ok": True, "id": doc_id, "rev": doc.get("_rev")}
        answer: Doc = result
        return answer

    async def bulk_docs(self, docs: Sequence[Doc], *, new_edits: bool = True) -> list[Doc]:
        # Replaying a new_edits=false batch is harmless (the tree already holds
        # it); a batch of new edits sent twice would come back as conflicts.
        result: list[Doc] = await self._http.request(
            "POST", "_bulk_docs", body={"docs": list(docs), "new_edits": new_edits},
            retry_stale=not new_edits,
        )
        return result

    async def revs_diff(self, revs: Mapping[str, Sequence[str]]) -> dict[str, Doc]:
        body = {doc_id: list(doc_revs) for doc_id, doc_revs in revs.items()}
        result = await self._http.request("POST", "_revs_diff", body=body)
        if not isinstance(result, dict):
            raise BadPeerResponse("a _revs_diff answer that is not an object")
        # CouchDB lists only ids with missing revs; pouchdb-server also lists
        # the others, with "missing": [].
        return {
            doc_id: diff for doc_id, diff in result.items()
            if not (isinstance(diff, dict) and diff.get("missing") == [])
        }

    async def bulk_get(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        revs: bool = True,
        attachments: bool = False,
        latest: bool = False,
    ) -> list[Doc]:
        requests = [dict(request) for request in docs]
        if not requests:
            return []
        answers: list[Doc | None] = [None] * len(requests)
        if self._has_bulk_get is not False:
            params = {"revs": _flag(revs)}
            # atts_since implies attachments in CouchDB; PouchDB ignores it and
            # would answer bare stubs without the flag (see _atts_since_params).
            if attachments or any(request.get("atts_since") for request in requests):
                params["attachments"] = "true"
            if latest:
                params["latest"] = "true"
            try:
                answer = await self._http.request(
                    "POST", "_bulk_get", params=params, body={"docs": requests}
                )
            except _NO_BULK_GET as exc:
                # Only the first answer decides: once _bulk_get has worked, a
                # later 404 is a real error (the database was deleted).
                if self._has_bulk_get or is_missing_database(exc):
                    raise
                self._has_bulk_get = False
            else:
                self._has_bulk_get = True
                if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
                    raise BadPeerResponse("a _bulk_get answer without results")
                answers = normalize_results(requests, answer["results"])
        unanswered = [i for i, result in enumerate(answers) if result is None]
        if unanswered:
            fetched = await fetch_one_by_one(
                [requests[i] for i in unanswered],
                open_revs=lambda doc_id, asked, since: self.open_revs(
                    doc_id, asked, include_revisions=revs, attachments=attachments,
                    latest=latest, atts_since=since,
                ),
                get=lambda doc_id, since: self.get(
                    doc_id, revs=revs, attachments=attachments, atts_since=since
                ),
            )
            for i, result in zip(unanswered, fetched, strict=True):
                answers[i] = result
        return [result for result in answers if result is not None]

    async def all_docs(
        self,
        *,
        keys: Sequence[str] | None = None,
        startkey: str | None = None,
        endkey: str | None = None,
        limit: int | None = None,
        skip: int = 0,
        include_docs: bool = False,
        descending: bool = False,
        inclusive_end: bool = True,
    ) -> Doc:
        params: dict[str, str] = {}
        if startkey is not None:
            params["startkey"] = _json(startkey)
        if endkey is not None:
            params["endkey"] = _json(endkey)
        if limit is not None:
            params["limit"] = str(limit)
        if skip:
            params["skip"] = str(skip)
        if include_docs:
            params["include_docs"] = "true"
        if descending:
            params["descending"] = "true"
        if not inclusive_end:
            params["inclusive_end"] = "false"
        if keys is None:
            result: Doc = await self._http.request("GET", "_all_docs", params=params)
        else:
            # POST keeps a long key list out of the URL (servers cap URLs near 8 KB).
            result = await self._http.request(
                "POST", "_all_docs", params=params, body={"keys": list(keys)}
            )
        return result

    # -- local documents -----------------------------------------------------

    async def get_local(self, local_id: str) -> Doc:
        result: Doc = await self._http.request("GET", _local_path(local_id))
        return result

    async def put_local(self, doc: Doc) -> Doc:
        path = _local_path(str(doc.get("_id", "")))
        result: Doc = await self._http.request("PUT", path, body=doc)
        return result

    async def delete_local(self, local_id: str, rev: str) -> Doc:
        result: Doc = await self._http.request("DELETE", _local_path(local_id), params={"rev": rev})
        return result

    async def purge(self, revs: Mapping[str, Sequence[str]]) -> Doc:
        body = {doc_id: list(doc_revs) for doc_id, doc_revs in revs.items()}
        result: Doc = await self._http.request("POST", "_purge", body=body)
        return result

    # -- changes ---------------------------------------------------------------

    async def _filters_selector(
        self, selector: Mapping[str, Any] | None, doc_ids: Sequence[str] | None
    ) -> bool:
        """Whether this read may send ``filter=_selector`` (asks only when it would)."""
        if selector is None or doc_ids is not None:  # nothing to ask, or a BadRequest to come
            return True
        return await self._server_filters_selectors()

    async def _server_filters_selectors(self) -> bool:
        """Whether ``filter=_selector`` may be sent; asked once, of the server's welcome.

        pouchdb-server 4.2 answers it with 404 and then crashes (an unhandled
        error in its changes listener), so it is never sent one.
        """
        if self._filters_selectors is None:
            try:
                welcome = await self._http.request("GET", root=True)
            except CouchError as exc:
                if exc.transient:
                    raise
                welcome = None  # a gateway may want credentials for its root: assume CouchDB
            self._filters_selectors = not (
                isinstance(welcome, dict) and "express-pouchdb" in welcome
            )
        return self._filters_selectors

    async def changes(
        self,
        *,
        since: Seq | Literal["now"] = 0,
        limit: int | None = None,
        include_docs: bool = False,
        style: Literal["main_only", "all_docs"] = "main_only",
        doc_ids: Sequence[str] | None = None,
        selector: Mapping[str, Any] | None = None,
        feed: Literal["normal", "longpoll"] = "normal",
        timeout: float | None = None,
        descending: bool = False,
        conflicts: bool = False,
    ) -> Doc:
        query = changes_query(
            since=since, include_docs=include_docs, style=style,
            doc_ids=doc_ids, selector=selector, conflicts=conflicts,
            server_filters_selectors=await self._filters_selector(selector, doc_ids),
        )
        params = query.params
        if limit is not None:
            params["limit"] = str(limit)
        if descending:
            params["descending"] = "true"
        read_timeout = None
        if feed == "longpoll":
            wait = DEFAULT_LONGPOLL_TIMEOUT if timeout is None else timeout
            params["feed"] = "longpoll"
            params["timeout"] = str(int(wait * 1000))
            read_timeout = wait + LONGPOLL_GRACE
        try:
            result: Doc = await self._http.request(
                query.method, "_changes", params=params, body=query.body,
                read_timeout=read_timeout,
            )
        except PeerUnreachable as exc:
            if not (feed == "longpoll" and exc.timed_out and since != "now"):
                raise
            # The server held an idle poll past its timeout (pouchdb-server
            # does): nothing changed since ``since`` as far as anyone knows.
            return {"results": [], "last_seq": since, "pending": 0}
        except NotFound as exc:
            # A server without the _selector filter (CouchDB 1.x looks for a
            # design doc named "_selector"): filter here from now on.
            if params.get("filter") != "_selector" or is_missing_database(exc):
                raise
            self._filters_selectors = False
            return await self.changes(
                since=since, limit=limit, include_docs=include_docs, style=style,
                selector=selector, feed=feed, timeout=timeout, descending=descending,
                conflicts=conflicts,
            )
        if query.keep is not None:
            result["results"] = query.admit_all(result["results"])
        return result

    async def changes_feed(
        self,
        *,
        since: Seq | Literal["now"] = 0,
        include_docs: bool = False,
        style: Literal["main_only", "all_docs"] = "main_only",
        doc_ids: Sequence[str] | None = None,
        selector: Mapping[str, Any] | None = None,
        heartbeat: float = 30.0,
    ) -> AsyncIterator[Doc]:
        """``feed=continuous``, one JSON row per line, blank lines being heartbeats.

        When the server ends the feed cleanly (a final ``{"last_seq"}`` line,
        e.g. after its own timeout) it is reopened from there; a feed cut off
        mid-way, or silent for :data:`MISSED_HEARTBEATS` heartbeats, raises
        :class:`PeerUnreachable` (transient) and the caller resumes from the
        last seq it saw.
        """
        query = changes_query(
            since=since, include_docs=include_docs, style=style,
            doc_ids=doc_ids, selector=selector,
            server_filters_selectors=await self._filters_selector(selector, doc_ids),
        )
        params = query.params
        params["feed"] = "continuous"
        params["heartbeat"] = str(max(1, int(heartbeat * 1000)))
        while True:
            ended_cleanly = False
            lines = self._http.stream_lines(
                query.method, "_changes", params=params, body=query.body,
                idle_timeout=heartbeat * MISSED_HEARTBEATS,
            )
            try:
                async for line in lines:
                    if not line.strip():
                        continue  # heartbeat
                    try:
                        row = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise BadPeerResponse("a _changes line that is not JSON") from None
                    if "last_seq" in row and "changes" not in row:
                        params["since"] = str(row["last_seq"])
                        ended_cleanly = True
                        break
                    if "seq" in row:
                        params["since"] = str(row["seq"])
                    kept = query.admit(row)
                    if kept is not None:
                        yield kept
            finally:
                await lines.aclose()
            if not ended_cleanly:
                raise unreachable(self._http.identity, "the changes feed was cut off")

