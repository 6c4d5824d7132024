"""Conflicting edits made the way devices make them: replicated children of one revision."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from server.gateway.keys import MERGER
from sync.revid import new_rev
from sync.revtree import parse_rev
from tests.server.conftest import basic, bulk_docs, record

Edit = Callable[[dict[str, Any]], None]
NAMES = ("Sunita Devi", "Sunita Kumari")


def child(parent: dict[str, Any], edit: Edit) -> dict[str, Any]:
    """A replicated (``new_edits=false``) edit of ``parent``, as a device pushes it."""
    body = copy.deepcopy({k: v for k, v in parent.items() if not k.startswith("_")})
    edit(body)
    rev = new_rev(parent["_rev"], False, body)
    return {
        **body,
        "_id": parent["_id"],
        "_rev": rev,
        "_revisions": {
            "start": parse_rev(rev)[0],
            "ids": [parse_rev(rev)[1], parse_rev(parent["_rev"])[1]],
        },
    }


async def conflicted(
    client: TestClient[Any, Any],
    edits: list[Edit],
    *,
    seed: int = 1,
    record_type: str = "complaint",
    officer: str = "so-alpha",
    prepare: Edit | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A record written through the gateway, then one conflicting child per edit
    (all unsigned, by ``officer`` with a password, as a station desk might)."""
    doc = record(seed, record_type=record_type, officer=officer)
    if prepare is not None:
        prepare(doc)
    (answer,) = await bulk_docs(client, [doc], basic(officer))
    assert answer.get("ok"), answer
    parent = {**doc, "_rev": answer["rev"]}
    children = [child(parent, edit) for edit in edits]
    assert await bulk_docs(client, children, basic(officer), new_edits=False) == []
    return parent, children


def note(at: str, by: str = "so-alpha", action: str = "note") -> Edit:
    def edit(body: dict[str, Any]) -> None:
        body["updated_at"] = at
        body["updated_by"] = by
        body["action_log"] = [*body["action_log"], {"at": at, "by": by, "action": action}]

    return edit


def both(*edits: Edit) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        for one in edits:
            one(body)

    return edit


def setting(path: str, value: Any) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        node = body
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


async def queued_complaint(client: TestClient[Any, Any], seed: int = 1) -> tuple[str, list[str]]:
    """A complaint of station alpha whose two branches name the complainant
    differently, merged as far as it goes and queued: its id and leaf revs."""
    parent, children = await conflicted(
        client,
        [
            both(note("2026-01-02T10:00:00Z"), setting("complainant.name", NAMES[0])),
            both(
                note("2026-01-02T11:00:00Z", action="visited"),
                setting("complainant.name", NAMES[1]),
                setting("description", "The accused was seen near the market."),
            ),
        ],
        seed=seed,
    )
    report = await client.server.app[MERGER].merge_station("alpha")
    assert parent["_id"] in report.queued
    return parent["_id"], sorted(c["_rev"] for c in children)
