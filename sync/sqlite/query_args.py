"""Checking the query arguments of ``_changes`` and ``_all_docs`` requests.

Bad arguments are the client's 400 ``query_parse_error``, raised before the
store reads anything; what survives is a plain value the store scans with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync.errors import BadRequest
from sync.selector import Predicate, compile_selector

__all__ = ["MAX_SEQ", "FeedQuery", "check_count", "feed_query", "parse_since"]

# SQLite's largest INTEGER: a bigger seq, limit or skip cannot be bound to a
# statement (it raised OverflowError, a 500), so it is the client's 400.
MAX_SEQ = 2**63 - 1


def parse_since(since: object) -> int:
    """A ``since`` seq given as an integer or a string of digits."""
    if isinstance(since, int) and not isinstance(since, bool) and 0 <= since <= MAX_SEQ:
        return since
    if isinstance(since, str) and since.isascii() and since.isdigit():
        return parse_since(int(since))
    raise BadRequest(f"Malformed since: {since!r}", error="query_parse_error")


def check_count(name: str, value: object) -> None:
    """Reject a ``limit``/``skip`` that is not a non-negative integer (None: not given)."""
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEQ
    ):
        raise BadRequest(f"{name} must be a non-negative integer", error="query_parse_error")


@dataclass(frozen=True, slots=True)
class FeedQuery:
    """What a ``_changes`` request asks for, checked once."""

    limit: int | None
    include_docs: bool
    all_leaves: bool  # style=all_docs
    doc_ids: tuple[str, ...] | None
    match: Predicate | None
    descending: bool
    conflicts: bool


def feed_query(
    *,
    limit: int | None,
    include_docs: bool,
    style: str,
    doc_ids: Sequence[str] | None,
    selector: Mapping[str, Any] | None,
    feed: str,
    descending: bool,
    conflicts: bool,
) -> FeedQuery:
    """The arguments of one ``_changes`` request, checked (``since`` apart)."""
    if style not in ("main_only", "all_docs"):
        raise BadRequest("style must be main_only or all_docs", error="query_parse_error")
    if feed not in ("normal", "longpoll"):
        raise BadRequest("feed must be normal or longpoll", error="query_parse_error")
    check_count("limit", limit)
    if doc_ids is not None and (
        isinstance(doc_ids, str) or not all(isinstance(d, str) for d in doc_ids)
    ):
        raise BadRequest("doc_ids must be a JSON array of strings")
    return FeedQuery(
        # CouchDB treats limit=0 on _changes as 1.
        limit=None if limit is None else max(limit, 1),
        include_docs=include_docs,
        all_leaves=style == "all_docs",
        doc_ids=None if doc_ids is None else tuple(doc_ids),
        match=None if selector is None else compile_selector(selector),
        descending=descending,
        conflicts=conflicts,
    )
