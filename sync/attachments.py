"""Document attachments as CouchDB 3 shows them in JSON.

A revision's ``_attachments`` is ``{name: info}``. On the way in, ``info`` is
either inline (``{"content_type", "data": <base64>}``) or a stub
(``{"stub": true}``, "keep the parent revision's attachment of that name").
On the way out it is a stub ``{"content_type", "digest", "length", "revpos",
"stub": true}`` or, when asked for, the same with ``data`` instead of
``stub``. Digests are CouchDB's ``"md5-<base64 of the MD5>"``; a store keeps
one blob per digest, and the digests feed :func:`sync.revid.new_rev`.
See https://docs.couchdb.org/en/stable/api/document/common.html#attachments
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync.errors import BadRequest, PreconditionFailed
from sync.revtree import parse_rev

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "AttachmentMeta",
    "Inline",
    "Stub",
    "digest_of",
    "missing_stub",
    "parse_attachments",
    "parse_atts_since",
    "render_attachments",
    "revpos_since",
]

# CouchDB's type for an attachment sent without one.
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# What a stored revision keeps per attachment name (sealed with its body).
AttachmentMeta = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Inline:
    """New attachment data sent with the document."""

    content_type: str
    data: bytes
    digest: str
    revpos: int | None


@dataclass(frozen=True, slots=True)
class Stub:
    """A reference to an attachment the document already has (what the sender said of it)."""

    digest: str | None
    revpos: int | None
    content_type: str | None = None


def digest_of(data: bytes) -> str:
    # MD5 because CouchDB and PouchDB name attachments this way; it names
    # content, it guards no secret.
    return "md5-" + base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _optional_int(name: str, info: Mapping[str, Any], key: str) -> int | None:
    value = info.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"Attachment {name}: {key} must be a non-negative integer")
    return value


def parse_attachments(value: object) -> dict[str, Inline | Stub]:
    """Check a document's ``_attachments`` and decode inline data (``BadRequest`` if malformed)."""
    if not isinstance(value, dict):
        raise BadRequest("_attachments must be a JSON object", error="doc_validation")
    parsed: dict[str, Inline | Stub] = {}
    for name, info in value.items():
        if not name or not isinstance(info, dict):
            raise BadRequest(f"Attachment {name!r} must be a non-empty name with an object")
        digest = info.get("digest")
        if digest is not None and not isinstance(digest, str):
            raise BadRequest(f"Attachment {name}: digest must be a string")
        revpos = _optional_int(name, info, "revpos")
        content_type = info.get("content_type")
        if content_type is not None and not isinstance(content_type, str):
            raise BadRequest(f"Attachment {name}: content_type must be a string")
        if info.get("stub") is True:
            parsed[name] = Stub(digest, revpos, content_type)
            continue
        data = info.get("data")
        if not isinstance(data, str):
            # `follows` (multipart uploads) is not supported by this JSON API.
            raise BadRequest(f'Attachment {name} needs base64 data or "stub": true')
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"Invalid attachment data for {name}") from None
        parsed[name] = Inline(content_type or DEFAULT_CONTENT_TYPE, raw, digest_of(raw), revpos)
    return parsed


def missing_stub(doc_id: str, name: str) -> PreconditionFailed:
    """CouchDB's 412 ``missing_stub``: a stub names an attachment the parent does not have."""
    return PreconditionFailed(
        f"Invalid attachment stub in {doc_id} for {name}", error="missing_stub"
    )


def parse_atts_since(value: object) -> list[str] | None:
    """A ``_bulk_get`` item's ``atts_since``: a JSON array of revs (``BadRequest`` if not).

    An empty list means no ``atts_since``, as in CouchDB's ``bulk_get_open_doc_revs1``.
    """
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list):
        raise BadRequest("atts_since must be a JSON array of revs")
    for rev in value:
        parse_rev(rev)
    return list(value) or None


def revpos_since(path: Sequence[str], atts_since: Collection[str]) -> int:
    """The generation up to which the asker has this revision's attachments.

    ``path`` is the revision and its ancestors, newest first. CouchDB's
    ``couch_db:find_ancestor_rev_pos`` walks it and stops at the first rev
    named in ``atts_since``; attachments whose ``revpos`` is above that
    generation go inline, the others as stubs. No match: 0 (all inline).
    """
    for rev in path:
        if rev in atts_since:
            return parse_rev(rev)[0]
    return 0


def render_attachments(
    metas: Mapping[str, AttachmentMeta],
    data_of: Callable[[str], bytes] | None = None,
    *,
    inline_after: int = 0,
) -> dict[str, dict[str, Any]]:
    """The ``_attachments`` of a returned doc: stubs, or inline base64 with ``data_of``
    for those added after generation ``inline_after`` (see :func:`revpos_since`)."""
    out: dict[str, dict[str, Any]] = {}
    for name, meta in metas.items():
        shown = {
            "content_type": meta["content_type"],
            "digest": meta["digest"],
            "length": meta["length"],
            "revpos": meta["revpos"],
        }
        if data_of is None or meta["revpos"] <= inline_after:
            shown["stub"] = True
        else:
            shown["data"] = base64.b64encode(data_of(meta["digest"])).decode()
        out[name] = shown
    return out
