"""The client side of the sync session (:mod:`sync.session_wire`): push and pull in one request.

The device keeps both checkpoints in one ``_local`` document of its own store:
``push_seq`` (its own seq up to which the server has everything),
``pull_seq`` (the server's seq up to which the device has everything) and
``have``, the revisions a push of several requests has sent so far, which
the pull leaves out (they are past ``pull_seq`` on the server). What
the device pulled advances ``push_seq`` too, when nothing else was written in
between, so pulled documents are never offered back (the standard protocol
pays a ``_revs_diff`` round trip to learn that). A document the server
refused holds ``push_seq`` before it, so it is offered again next time, as
the standard replicator offers its rejected revisions again.

:func:`run_session` is what clients call: :func:`session_sync` retried through
a broken link with the replicator's backoff, each retry resuming from the
checkpoints, and a permanent failure raised as the replicator's
:class:`~sync.replication.ReplicationError`, so callers word one kind of failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from sync import session_wire as wire
from sync.database import Database, Doc
from sync.errors import CouchError, NotFound
from sync.http.transport import Transport, unreachable
from sync.replication import Phase, Progress, ReplicationError, RetryPolicy, Side, is_transient

__all__ = [
    "SessionProgress",
    "SessionResult",
    "checkpoint_id",
    "offers_session",
    "refusal",
    "run_session",
    "session_sync",
]

# Pulled docs written to the local store per transaction.
_WRITE_BATCH: Final = 200
# Changed docs pushed per request, and their bytes (JSON, before gzip, about
# 30 KB on the wire for records, 50 of them with journals): see _Outbox.
_PUSH_ROWS: Final = 200
_PUSH_BYTES: Final = 128 * 1024
# Longest silence while the answer streams: a 2G link stalls for seconds, not minutes.
_IDLE_TIMEOUT: Final = 60.0

# ``(direction, progress)``: "push" once the server answered the push, "pull"
# after each batch of pulled docs written (``pending`` as the server counts it).
SessionProgress = Callable[[str, Progress], None]


@dataclass
class SessionResult:
    requests: int = 0
    pushed: int = 0
    pulled: int = 0
    rejected: list[Doc] = field(default_factory=list)


def checkpoint_id(remote_identity: str) -> str:
    """The device's session checkpoint for one server: a seq belongs to one database."""
    digest = hashlib.sha256(remote_identity.encode()).hexdigest()[:32]
    return f"_local/beatsync-session-{digest}"


async def offers_session(remote: Transport) -> bool:
    """Whether the server's welcome (``GET /``) offers the session protocol.

    A welcome refused or unreadable (a CouchDB that wants a login for it) is
    no offer; a broken link raises, since it says nothing either way."""
    try:
        welcome = await remote.request("GET", root=True)
    except CouchError as exc:
        if exc.transient:
            raise
        return False
    return isinstance(welcome, dict) and welcome.get(wire.FEATURE) == wire.VERSION


async def _checkpoint(local: Database, local_id: str) -> Doc:
    try:
        return await local.get_local(local_id)
    except NotFound:
        return {"_id": local_id, "push_seq": 0, "pull_seq": 0}


async def _save(local: Database, doc: Doc) -> Doc:
    answer = await local.put_local(doc)
    return {**doc, "_rev": answer["rev"]}


class _Outbox:
    """The device's changes since the push checkpoint, handed out a request's worth at a time.

    A request carries at most :data:`_PUSH_BYTES` of documents (one larger
    document goes alone): on a link that drops every few hundred KB, a push
    in one piece would be cut and sent again forever."""

    def __init__(self, local: Database, rows: list[Doc]) -> None:
        self._local = local
        self._rows = rows

    @classmethod
    async def since(cls, local: Database, since: Any) -> _Outbox:
        return cls(local, (await local.changes(since=since, style="all_docs"))["results"])

    def __len__(self) -> int:
        return len(self._rows)

    async def take(self) -> list[Doc]:
        """Every leaf (with history and attachments) of the next changed docs."""
        rows, self._rows = self._rows[:_PUSH_ROWS], self._rows[_PUSH_ROWS:]
        wanted = [{"id": r["id"], "rev": c["rev"]} for r in rows for c in r["changes"]]
        found = await self._local.bulk_get(wanted, revs=True, attachments=True) if wanted else []
        docs: list[Doc] = []
        size = 0
        for index, result in enumerate(found):
            leaves = [item["ok"] for item in result["docs"] if "ok" in item]
            size += sum(len(orjson.dumps(leaf)) for leaf in leaves)
            if docs and size > _PUSH_BYTES:
                self._rows = rows[index:] + self._rows  # the rest in the next request
                break
            docs += leaves
        return docs


async def _advance_push(local: Database, push_seq: Any, known: set[tuple[str, str]]) -> Any:
    """``push_seq`` moved over every change whose leaves the server has (pulled or pushed)."""
    feed = await local.changes(since=push_seq, style="all_docs")
    for row in feed["results"]:
        if any((row["id"], c["rev"]) not in known for c in row["changes"]):
            return push_seq
        push_seq = row["seq"]
    return push_seq


def _with_revs(errors: list[Doc], docs: list[Doc]) -> list[Doc]:
    """The server's per-doc errors (``_bulk_docs`` names only the id) per refused
    revision, as the replicator reports its rejected ones."""
    out: list[Doc] = []
    for error in errors:
        revs = [d["_rev"] for d in docs if d["_id"] == error.get("id")] or [error.get("rev")]
        out += [{**error, "rev": rev} for rev in revs]
    return out


def _progress(
    done: int, failures: int, pending: int | None, seq: Any, written: Sequence[str]
) -> Progress:
    """A report as the replicator makes them; ``written`` the ids this step wrote."""
    return Progress(
        docs_read=done,
        docs_written=done,
        doc_write_failures=failures,
        missing_checked=0,
        pending=pending,
        last_seq=seq,
        state=Phase.RUNNING,
        written_ids=tuple(written),
    )


async def session_sync(
    local: Database,
    remote: Transport,
    *,
    local_id: str,
    budget: int = wire.DEFAULT_BUDGET,
    on_progress: SessionProgress | None = None,
    result: SessionResult | None = None,
) -> SessionResult:
    """A two-way sync of ``local`` with the database behind ``remote`` (see module doc).

    A cut link raises :class:`~sync.errors.PeerUnreachable` after the docs of
    every complete line have been written and the checkpoints saved: calling
    again resumes from there (pass the same ``result`` to keep counting)."""
    result = SessionResult() if result is None else result
    report = on_progress or (lambda direction, progress: None)
    cp = await _checkpoint(local, local_id)
    outbox = await _Outbox.since(local, cp["push_seq"])
    known: set[tuple[str, str]] = set()
    more = True
    while more:
        docs = await outbox.take()
        # Push all of it before pulling: a doc pulled before the device's own
        # are acknowledged would sit behind them in its feed, where push_seq
        # cannot pass it, and be offered back after a cut.
        pull = not outbox
        body = {"session": wire.VERSION, "docs": docs, "since": cp["pull_seq"], "budget": budget}
        if not pull:
            body["pull"] = False
        elif cp.get("have"):
            body["have"] = cp["have"]
        batch: list[Doc] = []
        since, pending, ended = cp["pull_seq"], None, False

        async def flush(since: Any, pending: int | None) -> None:
            nonlocal cp, batch
            written = [d["_id"] for d in batch]
            if batch:
                await local.bulk_docs(batch, new_edits=False)
                result.pulled += len(batch)
                known.update((d["_id"], d["_rev"]) for d in batch)
                batch = []
            if since != cp["pull_seq"]:
                cp = await _save(local, {**cp, "pull_seq": since})
            report("pull", _progress(result.pulled, 0, pending, since, written))

        result.requests += 1
        lines = remote.stream_lines(
            "POST",
            wire.SESSION_PATH,
            params={},
            body=body,
            idle_timeout=_IDLE_TIMEOUT,
            accept_gzip=True,
        )
        more = False
        try:
            async for raw in lines:
                line = orjson.loads(raw)
                if "push" in line:
                    errors = _with_revs(line["push"]["errors"], docs)
                    result.rejected += errors
                    result.pushed += line["push"]["written"]
                    refused = {e.get("id") for e in errors}
                    accepted = [[d["_id"], d["_rev"]] for d in docs if d["_id"] not in refused]
                    known.update((doc_id, rev) for doc_id, rev in accepted)
                    if accepted:
                        # Left out of the pulls until one reaches the feed's end.
                        cp = await _save(local, {**cp, "have": [*cp.get("have", []), *accepted]})
                    pushed = _progress(
                        result.pushed,
                        len(result.rejected),
                        len(outbox),
                        None,
                        [doc_id for doc_id, _ in accepted],
                    )
                    report("push", pushed)
                elif "docs" in line:
                    batch += line["docs"]
                    since = line["seq"]
                    if len(batch) >= _WRITE_BATCH:
                        await flush(since, pending)
                elif "checkpoint" in line:
                    since, pending = line["checkpoint"], line.get("pending", pending)
                elif "last_seq" in line:
                    since, more, ended = line["last_seq"], bool(line["more"]) or bool(outbox), True
                    if pull and not line["more"] and cp.get("have"):
                        cp = await _save(local, {**cp, "have": []})
        finally:
            await lines.aclose()
            await flush(since, pending)
            cp = await _save(
                local, {**cp, "push_seq": await _advance_push(local, cp["push_seq"], known)}
            )
        if not ended:
            # A clean end of stream without the closing line is a cut too.
            raise unreachable(remote.identity, "the sync answer was cut short")
    return result


def refusal(exc: CouchError) -> ReplicationError:
    """The server's refusal of a session, as the replicator reports a permanent failure."""
    return ReplicationError(
        f"the server refused the sync session: {exc.status} {exc.error_name}: {exc.reason}",
        cause=exc,
        side=Side.TARGET,
    )


async def run_session(
    local: Database,
    remote: Transport,
    *,
    local_id: str,
    retry: RetryPolicy,
    budget: int = wire.DEFAULT_BUDGET,
    on_progress: SessionProgress | None = None,
) -> SessionResult:
    """:func:`session_sync` until it completes, resuming after each transient failure.

    Raises :class:`~sync.replication.ReplicationError` (``side`` the server,
    ``cause`` the error) on a refusal or after ``retry.max_retries`` failures
    in a row; a retry that got further resets the count."""
    result = SessionResult()
    attempt = 0
    while True:
        before = (result.pushed, result.pulled)
        try:
            return await session_sync(
                local,
                remote,
                local_id=local_id,
                budget=budget,
                on_progress=on_progress,
                result=result,
            )
        except CouchError as exc:
            if not is_transient(exc):
                raise refusal(exc) from exc
            attempt = 0 if (result.pushed, result.pulled) != before else attempt
            if retry.gives_up(attempt, continuous=False):
                raise ReplicationError(
                    f"the server could not be reached after {attempt} retries: {exc.reason}",
                    cause=exc,
                    side=Side.TARGET,
                ) from exc
            await retry.sleep(retry.delay(attempt, exc))
            attempt += 1
