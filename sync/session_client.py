"""The client side of the sync session (:mod:`sync.session_wire`): push and pull in one request.

The device keeps both checkpoints in one ``_local`` document of its own store:
``push_seq`` (its own seq up to which the server has everything) and
``pull_seq`` (the server's seq up to which the device has everything). What
the device pulled advances ``push_seq`` too, when nothing else was written in
between, so pulled documents are never offered back (the standard protocol
pays a ``_revs_diff`` round trip to learn that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from sync import session_wire as wire
from sync.database import Database, Doc
from sync.errors import NotFound
from sync.http.transport import Transport

__all__ = ["SessionResult", "offers_session", "session_sync"]

# Pulled docs written to the local store per transaction.
_WRITE_BATCH: Final = 200
# Longest silence while the answer streams: a 2G link stalls for seconds, not minutes.
_IDLE_TIMEOUT: Final = 60.0


@dataclass
class SessionResult:
    requests: int = 0
    pushed: int = 0
    pulled: int = 0
    rejected: list[Doc] = field(default_factory=list)


async def offers_session(remote: Transport) -> bool:
    """Whether the server's welcome (``GET /``) offers the session protocol."""
    welcome = await remote.request("GET", root=True)
    return isinstance(welcome, dict) and welcome.get(wire.FEATURE) == wire.VERSION


async def _checkpoint(local: Database, local_id: str) -> Doc:
    try:
        return await local.get_local(local_id)
    except NotFound:
        return {"_id": local_id, "push_seq": 0, "pull_seq": 0}


async def _save(local: Database, doc: Doc) -> Doc:
    answer = await local.put_local(doc)
    return {**doc, "_rev": answer["rev"]}


async def _changed_leaves(local: Database, since: Any) -> tuple[list[Doc], Any]:
    """Every leaf (with history and attachments) of the docs changed after ``since``."""
    feed = await local.changes(since=since, style="all_docs")
    wanted = [{"id": r["id"], "rev": c["rev"]} for r in feed["results"] for c in r["changes"]]
    found = await local.bulk_get(wanted, revs=True, attachments=True) if wanted else []
    docs = [item["ok"] for result in found for item in result["docs"] if "ok" in item]
    return docs, feed["last_seq"]


async def _advance_push(local: Database, push_seq: Any, known: set[tuple[str, str]]) -> Any:
    """``push_seq`` moved over every change whose leaves the server has (pulled or pushed)."""
    feed = await local.changes(since=push_seq, style="all_docs")
    for row in feed["results"]:
        if any((row["id"], c["rev"]) not in known for c in row["changes"]):
            return push_seq
        push_seq = row["seq"]
    return push_seq


async def session_sync(
    local: Database, remote: Transport, *, local_id: str, budget: int = wire.DEFAULT_BUDGET
) -> SessionResult:
    """A two-way sync of ``local`` with the database behind ``remote`` (see module doc).

    A cut link raises :class:`~sync.errors.PeerUnreachable` after the docs of
    every complete line have been written and the checkpoints saved: calling
    again resumes from there."""
    result = SessionResult()
    cp = await _checkpoint(local, local_id)
    docs, local_last = await _changed_leaves(local, cp["push_seq"])
    known = {(d["_id"], d["_rev"]) for d in docs}
    more = True
    while more:
        body = {"session": wire.VERSION, "docs": docs, "since": cp["pull_seq"], "budget": budget}
        batch: list[Doc] = []
        since = cp["pull_seq"]

        async def flush(since: Any) -> None:
            nonlocal cp, batch
            if batch:
                await local.bulk_docs(batch, new_edits=False)
                result.pulled += len(batch)
                known.update((d["_id"], d["_rev"]) for d in batch)
                batch = []
            cp = await _save(local, {**cp, "pull_seq": since})

        result.requests += 1
        lines = remote.stream_lines(
            "POST", wire.SESSION_PATH, params={}, body=body,
            idle_timeout=_IDLE_TIMEOUT, accept_gzip=True,
        )
        more = False
        try:
            async for raw in lines:
                line = orjson.loads(raw)
                if "push" in line:
                    result.rejected += line["push"]["errors"]
                    result.pushed += line["push"]["written"]
                    if not line["push"]["errors"]:
                        cp = await _save(local, {**cp, "push_seq": local_last})
                    docs = []
                elif "docs" in line:
                    batch += line["docs"]
                    since = line["seq"]
                    if len(batch) >= _WRITE_BATCH:
                        await flush(since)
                elif "checkpoint" in line:
                    since = line["checkpoint"]
                elif "last_seq" in line:
                    since, more = line["last_seq"], bool(line["more"])
        finally:
            await lines.aclose()
            await flush(since)
            cp = await _save(local, {**cp, "push_seq": await _advance_push(
                local, cp["push_seq"], known)})
    return result
