"""The batch worker's steps: which revisions the target lacks, fetch them, write them.

Protocol steps "Calculate Revision Difference" (``_revs_diff``), "Fetch
Changed Documents" (``_bulk_get`` with ``revs=true``, ``latest=true`` and
attachments inline) and "Upload Batch of Changed Documents"
(``_bulk_docs`` with ``new_edits=false``: the revs are stored as they are,
merged into each document's tree, never rewritten).

Attachments cross once: each fetch carries the target's
``possible_ancestors`` as ``atts_since``, so the source sends as stubs the
attachments the target already has (a visit's photos, when only its text
was edited). Should the target lack one after all (412 ``missing_stub``:
the ancestor was superseded in between, or a peer resolves stubs
differently), the document is fetched again with everything inline and
written again, as ``couch_replicator_worker`` does.

One document must not stop a sync (issue 14: one revision of generation
10^23 failed every device of a station). CouchDB fails a whole request for
one malformed document or rev (400), one too large (413) or one missing stub
(412): such a request is halved until the one item that answers for it is
found (:func:`isolating`), the rest goes through, and that item is reported
as a refusal ``{"id", "rev", "error", "reason"}`` like a per-document one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sync.database import Database, Doc
from sync.errors import BadRequest, CouchError, PreconditionFailed, RequestTooLarge

__all__ = [
    "MAX_UPLOAD_BYTES",
    "Fetched",
    "Missing",
    "WriteOutcome",
    "by_upload_size",
    "fetch_missing",
    "find_missing",
    "isolating",
    "refusal",
    "upload_size",
    "write_docs",
    "write_fetched",
]

log = logging.getLogger(__name__)

# Upload no more than this in one _bulk_docs request (couch_replicator sizes
# its batches by bytes too). Photos make batches uneven: 100 visits with a
# 100 KB photo each are 13 MB, over the gateway's 8 MB body limit, so the
# whole upload was sent only to be refused with 413 and sent again in halves.
# 4 MiB also keeps one request to about four minutes on a 128 kbit/s link.
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
# What a document's JSON costs besides its inline attachments: records are
# 0.5-2 KB and capped at tens of KB, so a generous flat figure is enough to
# size batches without encoding every document twice.
_BODY_ESTIMATE_BYTES = 4 * 1024


T = TypeVar("T")
R = TypeVar("R")
# A refused revision, as CouchDB lists one in a _bulk_docs answer.
Refusal = dict[str, Any]
# Longest reason kept for a refusal: they travel in checkpoints (see replicator).
_REASON_CHARS = 300


def refusal(doc_id: object, rev: object, exc: CouchError) -> Refusal:
    """``{"id", "rev", "error", "reason"}`` for a revision refused with ``exc``."""
    return {"id": doc_id, "rev": rev, "error": exc.error_name, "reason": exc.reason[:_REASON_CHARS]}


def _one_item_can_cause(exc: CouchError) -> bool:
    if isinstance(exc, PreconditionFailed):
        # CouchDB fails a whole replicated batch with 412 missing_stub (it throws
        # from prep_and_validate_replicated_updates); other 412s are not a doc's.
        return exc.error_name == "missing_stub"
    return isinstance(exc, BadRequest | RequestTooLarge)


async def isolating(
    items: Sequence[T],
    call: Callable[[Sequence[T]], Awaitable[list[R]]],
    refused: Callable[[T, CouchError], Refusal],
) -> tuple[list[R], list[Refusal]]:
    """``call(items)``'s results; if the whole request is refused for something one
    item can cause (400, 413, 412 ``missing_stub``), the results of both halves,
    down to the single items that are refused: their ``refused(item, exc)``.

    One bad item among n costs about 2·log2(n) requests more; a good batch, none.
    """
    try:
        return await call(items), []
    except CouchError as exc:
        if not _one_item_can_cause(exc) or not items:
            raise
        if len(items) == 1:
            log.warning("target refused one item: %s %s", exc.error_name, exc.reason[:200])
            return [], [refused(items[0], exc)]
    half = len(items) // 2
    first, first_refused = await isolating(items[:half], call, refused)
    second, second_refused = await isolating(items[half:], call, refused)
    return first + second, first_refused + second_refused


@dataclass(frozen=True)
class Missing:
    checked: int  # revisions offered to _revs_diff
    revs: dict[str, list[str]]  # doc id -> revs the target lacks
    # doc id -> the target's possible_ancestors: what it has to build on
    ancestors: dict[str, list[str]] = field(default_factory=dict)
    # revs whose _revs_diff the target refused (a rev or id it cannot take)
    refused: list[Refusal] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(len(revs) for revs in self.revs.values())

    def keys(self) -> set[tuple[str, str]]:
        return {(doc_id, rev) for doc_id, revs in self.revs.items() for rev in revs}

    def without(self, skip: AbstractSet[tuple[str, str]]) -> Missing:
        """The same diff minus revs in ``skip`` (those an earlier batch is writing)."""
        kept = {doc_id: [rev for rev in revs if (doc_id, rev) not in skip]
                for doc_id, revs in self.revs.items()}
        return Missing(
            self.checked,
            {doc_id: revs for doc_id, revs in kept.items() if revs},
            self.ancestors,
            self.refused,
        )


@dataclass(frozen=True)
class Fetched:
    docs: list[Doc]
    errors: list[dict[str, Any]] = field(default_factory=list)  # revs the source could not give

    def keys(self) -> set[tuple[str, str]]:
        return {(doc["_id"], doc["_rev"]) for doc in self.docs}


@dataclass(frozen=True)
class WriteOutcome:
    written: int
    failures: list[dict[str, Any]]  # {"id", "rev"?, "error", "reason"} per refused doc
    refetched: int = 0  # docs fetched again with every attachment after a missing_stub


async def find_missing(target: Database, rows: Sequence[Doc]) -> Missing:
    offered: dict[str, list[str]] = {}
    for row in rows:
        revs = offered.setdefault(row["id"], [])
        revs.extend(change["rev"] for change in row.get("changes", ()) if change["rev"] not in revs)
    pairs = [(doc_id, rev) for doc_id, revs in offered.items() for rev in revs]
    if not pairs:
        return Missing(0, {})

    async def diff_of(part: Sequence[tuple[str, str]]) -> list[dict[str, Doc]]:
        asked: dict[str, list[str]] = {}
        for doc_id, rev in part:
            asked.setdefault(doc_id, []).append(rev)
        return [await target.revs_diff(asked)]

    diffs, refused = await isolating(
        pairs, diff_of, lambda pair, exc: refusal(pair[0], pair[1], exc)
    )
    found = {doc_id: d for diff in diffs for doc_id, d in diff.items() if d.get("missing")}
    return Missing(
        len(pairs),
        {doc_id: list(d["missing"]) for doc_id, d in found.items()},
        {doc_id: list(d["possible_ancestors"]) for doc_id, d in found.items()
         if d.get("possible_ancestors")},
        refused,
    )


async def fetch_missing(source: Database, missing: Missing) -> Fetched:
    """``_bulk_get`` the missing revs; attachments inline except those older than
    ``missing.ancestors`` (``atts_since``, as couch_replicator asks)."""
    requests: list[dict[str, Any]] = []
    for doc_id, revs in missing.revs.items():
        since = missing.ancestors.get(doc_id)
        for rev in revs:
            request: dict[str, Any] = {"id": doc_id, "rev": rev}
            if since:
                request["atts_since"] = since
            requests.append(request)
    if not requests:
        return Fetched([])
    # latest=true: a rev superseded since the changes read comes back as its
    # newest descendant instead of an error (couch_replicator asks the same).
    results = await source.bulk_get(requests, revs=True, attachments=True, latest=True)
    docs: list[Doc] = []
    errors: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for result in results:
        for item in result.get("docs", ()):
            if "ok" in item:
                doc = item["ok"]
                key = (doc["_id"], doc["_rev"])
                if key not in seen:  # latest=true may name one leaf twice
                    seen.add(key)
                    docs.append(doc)
            elif "error" in item:
                # The rev vanished (purged, compacted) between the diff and the
                # fetch: nothing to copy; later changes bring whatever replaced it.
                errors.append(dict(item["error"]))
    return Fetched(docs, errors)


def upload_size(doc: Doc) -> int:
    """Roughly the bytes ``doc`` adds to a ``_bulk_docs`` body: its inline attachment
    data (base64, as sent) plus a flat allowance for the JSON body."""
    atts = doc.get("_attachments")
    inline = sum(
        len(info["data"]) for info in atts.values()
        if isinstance(info, dict) and isinstance(info.get("data"), str)
    ) if isinstance(atts, dict) else 0
    return inline + _BODY_ESTIMATE_BYTES


def by_upload_size(docs: Sequence[Doc], limit: int = MAX_UPLOAD_BYTES) -> list[list[Doc]]:
    """``docs`` in order, cut into runs of at most ``limit`` bytes (a larger doc alone)."""
    runs: list[list[Doc]] = []
    size = 0
    for doc in docs:
        cost = upload_size(doc)
        if not runs or size + cost > limit:
            runs.append([])
            size = 0
        runs[-1].append(doc)
        size += cost
    return runs


async def write_docs(target: Database, docs: Sequence[Doc]) -> WriteOutcome:
    """``_bulk_docs?new_edits=false`` in requests of at most :data:`MAX_UPLOAD_BYTES`."""
    written, failures = 0, list[dict[str, Any]]()
    for run in by_upload_size(docs):
        outcome = await _write_run(target, run)
        written += outcome.written
        failures += outcome.failures
    return WriteOutcome(written, failures)


async def _write_run(target: Database, docs: Sequence[Doc]) -> WriteOutcome:
    """One ``_bulk_docs`` request, or as many as isolate the document a whole
    request was refused for (413 halves a batch too, as couch_replicator does)."""
    if not docs:
        return WriteOutcome(0, [])

    async def write(part: Sequence[Doc]) -> list[Refusal]:
        # CouchDB answers [] to a fully accepted new_edits=false batch; some peers
        # list successes too, so keep only the entries that carry an error.
        answer = await target.bulk_docs(list(part), new_edits=False)
        return _with_revs([dict(r) for r in answer if "error" in r], part)

    answered, isolated = await isolating(
        docs, write, lambda doc, exc: refusal(doc.get("_id"), doc.get("_rev"), exc)
    )
    failures = answered + isolated
    return WriteOutcome(len(docs) - len(failures), failures)


def _with_revs(failures: list[Refusal], docs: Sequence[Doc]) -> list[Refusal]:
    """Per-doc failures each naming the rev refused: a peer that answers by id
    alone (the gateway, pouchdb-server) gets one per rev of that id it was sent."""
    revs: dict[Any, list[Any]] = {}
    for doc in docs:
        revs.setdefault(doc.get("_id"), []).append(doc.get("_rev"))
    out: list[Refusal] = []
    for failure in failures:
        if failure.get("rev") is not None:
            out.append(failure)
        else:
            out += [{**failure, "rev": rev} for rev in revs.get(failure.get("id"), [None])]
    return out


def _has_stubs(doc: Doc) -> bool:
    atts = doc.get("_attachments")
    return isinstance(atts, dict) and any(
        isinstance(info, dict) and info.get("stub") is True for info in atts.values()
    )


def _stub_refused(docs: Sequence[Doc], failures: Sequence[dict[str, Any]]) -> list[Doc]:
    """The documents with stubs that the target refused as ``missing_stub``."""
    refused = {(f.get("id"), f.get("rev")) for f in failures if f.get("error") == "missing_stub"}
    return [doc for doc in docs if _has_stubs(doc) and (
        (doc["_id"], doc["_rev"]) in refused or (doc["_id"], None) in refused)]


async def write_fetched(source: Database, target: Database, docs: Sequence[Doc]) -> WriteOutcome:
    """:func:`write_docs`, then once more with every attachment inline for the docs
    refused as ``missing_stub`` (correctness over bandwidth; they are counted)."""
    outcome = await write_docs(target, docs)
    refused = _stub_refused(docs, outcome.failures)
    if not refused:
        return outcome
    log.warning("target lacks attachment stubs of %d docs; fetching them whole", len(refused))
    again = Missing(0, {})
    for doc in refused:
        again.revs.setdefault(doc["_id"], []).append(doc["_rev"])
    fetched = await fetch_missing(source, again)
    retried = await write_docs(target, fetched.docs)
    keys = {(doc["_id"], doc["_rev"]) for doc in refused}
    ids = {doc["_id"] for doc in refused}
    kept = [f for f in outcome.failures if not (
        f.get("error") == "missing_stub" and ((f.get("id"), f.get("rev")) in keys
                                             or (f.get("rev") is None and f.get("id") in ids)))]
    failures = kept + retried.failures + list(fetched.errors)
    return WriteOutcome(
        outcome.written + retried.written, failures, outcome.refetched + len(refused)
    )
