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
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from sync.database import Database, Doc
from sync.errors import PreconditionFailed, RequestTooLarge

__all__ = [
    "MAX_UPLOAD_BYTES",
    "Fetched",
    "Missing",
    "WriteOutcome",
    "by_upload_size",
    "fetch_missing",
    "find_missing",
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


@dataclass(frozen=True)
class Missing:
    checked: int  # revisions offered to _revs_diff
    revs: dict[str, list[str]]  # doc id -> revs the target lacks
    # doc id -> the target's possible_ancestors: what it has to build on
    ancestors: dict[str, list[str]] = field(default_factory=dict)

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
            self.checked, {doc_id: revs for doc_id, revs in kept.items() if revs}, self.ancestors
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
    checked = sum(len(revs) for revs in offered.values())
    if not checked:
        return Missing(0, {})
    diff = await target.revs_diff(offered)
    found = {doc_id: d for doc_id, d in diff.items() if d.get("missing")}
    return Missing(
        checked,
        {doc_id: list(d["missing"]) for doc_id, d in found.items()},
        {doc_id: list(d["possible_ancestors"]) for doc_id, d in found.items()
         if d.get("possible_ancestors")},
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
    """One ``_bulk_docs`` request; on 413 split it in halves (couch_replicator does)."""
    if not docs:
        return WriteOutcome(0, [])
    try:
        answer = await target.bulk_docs(list(docs), new_edits=False)
    except (RequestTooLarge, PreconditionFailed) as exc:
        # CouchDB fails a whole replicated batch with 412 missing_stub (it
        # throws from prep_and_validate_replicated_updates): halve it too, down
        # to the one document that answers for it.
        if isinstance(exc, PreconditionFailed) and exc.error_name != "missing_stub":
            raise
        if len(docs) == 1:
            doc = docs[0]
            log.warning("target refused %s@%s: %s", doc.get("_id"), doc.get("_rev"), exc.error_name)
            failure = {"id": doc.get("_id"), "rev": doc.get("_rev"),
                       "error": exc.error_name, "reason": exc.reason}
            return WriteOutcome(0, [failure])
        half = len(docs) // 2
        first = await _write_run(target, docs[:half])
        second = await _write_run(target, docs[half:])
        return WriteOutcome(first.written + second.written, first.failures + second.failures)
    # CouchDB answers [] to a fully accepted new_edits=false batch; some peers
    # list successes too, so keep only the entries that carry an error.
    failures = [dict(r) for r in answer if "error" in r]
    return WriteOutcome(len(docs) - len(failures), failures)


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
