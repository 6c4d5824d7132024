"""How one ``_changes`` read is asked for over HTTP, and the filtering done here
when the server cannot do it.

CouchDB takes a filter in a POST body (``filter=_doc_ids`` with
``{"doc_ids": [...]}``, ``filter=_selector`` with ``{"selector": {...}}``,
docs.couchdb.org "/db/_changes", "Filtering"), so a long id list does not
meet URL limits. A server without ``_selector`` gets the unfiltered feed
with ``include_docs=true`` and the selector is applied to each row here with
:func:`sync.selector.compile_selector`; ``limit`` then counts rows before
filtering, so a page may hold fewer rows than ``limit``, and ``pending``
counts unfiltered rows, while ``last_seq`` is the server's and a checkpoint
taken from it stays right.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sync.database import Doc, Seq
from sync.errors import BadRequest
from sync.selector import Predicate, compile_selector

__all__ = ["ChangesQuery", "changes_query"]


@dataclass
class ChangesQuery:
    """One read of ``_changes``; callers add ``limit``, ``feed`` and such to ``params``."""

    params: dict[str, str]
    body: dict[str, Any] | None
    keep: Predicate | None = None  # a selector applied here, when the server cannot
    strip_docs: bool = False  # docs were fetched only so ``keep`` could read them

    @property
    def method(self) -> str:
        return "POST" if self.body is not None else "GET"

    def admit(self, row: Doc) -> Doc | None:
        """``row`` as the caller asked for it, or ``None`` when the local filter drops it."""
        if self.keep is None:
            return row
        doc = row.get("doc")
        if not isinstance(doc, Mapping) or not self.keep(doc):
            return None
        if self.strip_docs:
            return {key: value for key, value in row.items() if key != "doc"}
        return row

    def admit_all(self, rows: Iterable[Doc]) -> list[Doc]:
        return [kept for row in rows if (kept := self.admit(row)) is not None]


def changes_query(
    *,
    since: Seq | Literal["now"],
    include_docs: bool,
    style: str,
    doc_ids: Sequence[str] | None,
    selector: Mapping[str, Any] | None,
    conflicts: bool = False,
    server_filters_selectors: bool = True,
) -> ChangesQuery:
    """The parameters, body and local filter of one ``_changes`` read."""
    if doc_ids is not None and selector is not None:
        raise BadRequest("_changes takes one filter: doc_ids or selector, not both")
    params: dict[str, str] = {"since": str(since), "style": style}
    if include_docs:
        params["include_docs"] = "true"
    if conflicts:
        params["conflicts"] = "true"
    if doc_ids is not None:
        return ChangesQuery({**params, "filter": "_doc_ids"}, {"doc_ids": list(doc_ids)})
    if selector is None:
        return ChangesQuery(params, None)
    if server_filters_selectors:
        return ChangesQuery({**params, "filter": "_selector"}, {"selector": dict(selector)})
    # compile_selector raises BadRequest for an invalid selector, as CouchDB would.
    keep = compile_selector(selector)
    return ChangesQuery({**params, "include_docs": "true"}, None, keep, not include_docs)
