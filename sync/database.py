"""The ``Database`` interface: one CouchDB database, whatever holds it.

Every store (the embedded SQLite store, the HTTP remote, the encrypted field
replica) implements this class, and the replicator, the gateway and the CLI
use nothing else. Arguments and results are CouchDB 3's HTTP API as Python
values (the JSON you would send or get back), so the gateway can pass them
through and the HTTP remote can send them as they are. Failures raise the
classes of :mod:`sync.errors` with CouchDB's status and error name.

Documents are plain dicts with CouchDB's metadata: ``_id``, ``_rev``,
``_deleted``, ``_revisions``, ``_attachments``, ``_conflicts``. Ids that start
with ``_local/`` are local documents: never replicated, never in ``_changes``.

Update sequences (``since``, ``seq``, ``last_seq``) are opaque: an int for the
embedded store, a string for CouchDB 3. Compare them only by asking the store.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal, TypeAlias

__all__ = ["Database", "Doc", "Seq"]

Doc: TypeAlias = dict[str, Any]
Seq: TypeAlias = int | str


class Database(abc.ABC):
    """One database with CouchDB's semantics (see the module docstring)."""

    @abc.abstractmethod
    async def identity(self) -> str:
        """A stable name for replication ids: the same store gives the same string
        across restarts (SQLite: ``sqlite:<db uuid>``; HTTP: the URL without credentials)."""

    @abc.abstractmethod
    async def info(self) -> Doc:
        """``GET /{db}``: at least ``db_name``, ``doc_count``, ``doc_del_count``,
        ``update_seq``, ``purge_seq``, ``instance_start_time`` (``"0"``)."""

    @abc.abstractmethod
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
    ) -> Doc:
        """``GET /{db}/{docid}``: the winner, or ``rev``. A deleted winner without
        ``rev`` is ``NotFound("deleted")``; an unknown doc ``NotFound("missing")``.
        ``revs`` adds ``_revisions``; ``conflicts`` adds ``_conflicts`` (winner
        only); ``attachments`` inlines attachment data as base64, else stubs."""

    @abc.abstractmethod
    async def open_revs(
        self,
        doc_id: str,
        revs: Sequence[str] | Literal["all"],
        *,
        include_revisions: bool = True,
        attachments: bool = False,
        latest: bool = False,
    ) -> list[Doc]:
        """``GET /{db}/{docid}?open_revs=[...]``: ``[{"ok": doc}]`` per known rev
        (deleted ones included, with ``_deleted``), ``[{"missing": rev}]`` per
        unknown one. ``"all"`` means every leaf."""

    @abc.abstractmethod
    async def put(self, doc: Doc, *, new_edits: bool = True) -> Doc:
        """``PUT /{db}/{docid}``: ``{"ok": true, "id", "rev"}``.

        With ``new_edits`` the new rev is :func:`sync.revid.new_rev` of the
        parent given in ``_rev``; a ``_rev`` that is not a current leaf, or no
        ``_rev`` on a live document, raises ``Conflict``. Without it, the doc's
        ``_rev`` (and ``_revisions`` history) are merged into the tree as given.
        """

    @abc.abstractmethod
    async def bulk_docs(self, docs: Sequence[Doc], *, new_edits: bool = True) -> list[Doc]:
        """``POST /{db}/_bulk_docs``: one result per doc, in order, each either
        ``{"ok": true, "id", "rev"}`` or ``{"id", "error", "reason"}`` (as CouchDB
        reports ``conflict``/``forbidden``). Everything accepted is written in
        one transaction: after a crash either all of it is there or none.
        With ``new_edits=False`` CouchDB returns ``[]`` for a fully successful
        batch; stores do the same and only list failures."""

    @abc.abstractmethod
    async def revs_diff(self, revs: Mapping[str, Sequence[str]]) -> dict[str, Doc]:
        """``POST /{db}/_revs_diff``: ``{id: {"missing": [...], "possible_ancestors": [...]}}``
        for the ids with missing revs only (``possible_ancestors`` omitted when empty)."""

    @abc.abstractmethod
    async def bulk_get(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        revs: bool = True,
        attachments: bool = False,
        latest: bool = False,
    ) -> list[Doc]:
        """``POST /{db}/_bulk_get``: for each ``{"id", "rev"?, "atts_since"?}`` request,
        in order, ``{"id", "docs": [{"ok": doc} | {"error": {"id", "rev", "error", "reason"}}]}``.

        ``atts_since`` (a list of revs the asker has, e.g. ``possible_ancestors``
        from ``_revs_diff``) implies ``attachments`` for that item, but inlines
        only the attachments whose ``revpos`` is above the generation of the
        newest of those revs on the returned rev's path; the others come as
        stubs (``couch_db:find_ancestor_rev_pos``). None of them on the path:
        everything inline. A peer that ignores ``atts_since`` (PouchDB) inlines
        everything: more bytes, never fewer attachments.
        See https://docs.couchdb.org/en/stable/api/database/bulk-api.html#db-bulk-get"""

    @abc.abstractmethod
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
        """``GET|POST /{db}/_changes``: ``{"results": [...], "last_seq", "pending"}``.

        Each result is ``{"seq", "id", "changes": [{"rev"}...], "deleted"?: true,
        "doc"?: {...}}``; a document appears once, at its latest seq. ``style``
        ``all_docs`` lists every leaf in ``changes``, else only the winner.
        ``doc_ids`` / ``selector`` (a Mango selector, see :mod:`sync.selector`)
        filter the feed; ``longpoll`` waits up to ``timeout`` seconds (default
        60) for a first change when there is none yet."""

    @abc.abstractmethod
    def changes_feed(
        self,
        *,
        since: Seq | Literal["now"] = 0,
        include_docs: bool = False,
        style: Literal["main_only", "all_docs"] = "main_only",
        doc_ids: Sequence[str] | None = None,
        selector: Mapping[str, Any] | None = None,
        heartbeat: float = 30.0,
    ) -> AsyncIterator[Doc]:
        """``feed=continuous``: yields change rows as they happen, forever, until
        the consumer stops iterating (closing the generator frees everything)."""

    @abc.abstractmethod
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
        """``GET|POST /{db}/_all_docs``: ``{"total_rows", "offset", "rows"}`` with
        rows ``{"id", "key", "value": {"rev"}, "doc"?}``, sorted by id
        (deleted docs only appear, as ``value.deleted``, when named in ``keys``)."""

    @abc.abstractmethod
    async def get_local(self, local_id: str) -> Doc:
        """``GET /{db}/_local/{id}``; ``local_id`` is given with its ``_local/`` prefix."""

    @abc.abstractmethod
    async def put_local(self, doc: Doc) -> Doc:
        """``PUT /{db}/_local/{id}``: local docs have revs ``"0-N"``; a stale or
        missing ``_rev`` on an existing one raises ``Conflict`` like CouchDB."""

    @abc.abstractmethod
    async def delete_local(self, local_id: str, rev: str) -> Doc:
        """``DELETE /{db}/_local/{id}?rev=``."""

    @abc.abstractmethod
    async def purge(self, revs: Mapping[str, Sequence[str]]) -> Doc:
        """``POST /{db}/_purge``: forget revisions entirely, locally (never
        replicated): ``{"purge_seq", "purged": {id: [revs]}}``."""

    async def revs_limit(self) -> int:
        """``GET /{db}/_revs_limit``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections and file handles. Idempotent."""

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
