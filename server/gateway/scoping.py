"""What every read of a station database shares: its ``since`` and the beat scoping.

The stock endpoints (``_changes``, ``_bulk_get``) and the sync session
(:mod:`server.gateway.handlers_session`) call the same functions, so a device
sees through the session exactly what it would see through the standard
protocol, never more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from server.gateway.request import MAX_INTEGER, parse_integer
from server.policy.access import DbScope
from sync.database import Doc, Seq
from sync.errors import BadRequest
from sync.selector import compile_selector

__all__ = ["beat_selector", "hide_other_beats", "parse_since"]

# CouchDB 3 sequences of a large cluster run to a few hundred characters.
_MAX_SEQ_LENGTH = 4096
# CouchDB 3's sequence: "<number>-<base64url of the shard positions>".
_OPAQUE_SEQ = re.compile(r"[0-9]+-[A-Za-z0-9_-]+")


def parse_since(value: str | None) -> Seq | Literal["now"]:
    if value is None:
        return 0
    if value == "now":
        return "now"
    number = parse_integer(value)
    if number is not None:
        if not 0 <= number <= MAX_INTEGER:
            raise BadRequest("since is out of range", error="query_parse_error")
        return number
    if len(value) > _MAX_SEQ_LENGTH:
        raise BadRequest("since is too long", error="query_parse_error")
    if not _OPAQUE_SEQ.fullmatch(value):
        raise BadRequest("Malformed since", error="query_parse_error")
    # Opaque otherwise (CouchDB 3's "N-g1AAA..."): the store accepts or refuses it.
    return value


def beat_selector(scope: DbScope, selector: Any) -> Mapping[str, Any] | None:
    if selector is not None and not isinstance(selector, dict):
        raise BadRequest("selector must be a JSON object")
    if selector is not None:
        compile_selector(selector)  # bounds and RE2 syntax, before any backend sees it
    if scope.beat_id is None:
        return selector
    own_beat = {"beat_id": {"$eq": scope.beat_id}}
    return {"$and": [selector, own_beat]} if selector else own_beat


def hide_other_beats(scope: DbScope, found: list[Doc]) -> list[Doc]:
    """Replace other beats' revisions in an ``open_revs``-shaped list with errors."""
    if scope.beat_id is None:
        return found
    out: list[Doc] = []
    for entry in found:
        doc = entry.get("ok")
        if doc is not None and not scope.visible(doc):
            out.append(
                {
                    "error": {
                        "id": doc.get("_id"),
                        "rev": doc.get("_rev"),
                        "error": "forbidden",
                        "reason": "another beat's record",
                    }
                }
            )
        else:
            out.append(entry)
    return out
