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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sync.errors import BadRequest, PreconditionFailed

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "AttachmentMeta",
    "Inline",
    "Stub",
    "digest_of",
    "missing_stub",
    "parse_attachments",
    "render_attachments",
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
    """A reference to an attachment the document already has."""

    digest: str | None
    revpos: int | None


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
        if info.get("stub") is True:
            parsed[name] = Stub(digest, revpos)
            continue
        data = info.get("data")
        if not isinstance(data, str):
            # `follows` (multipart uploads) is not supported by this JSON API.
            raise BadRequest(f'Attachment {name} needs base64 data or "stub": true')
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"Invalid attachment data for {name}") from None
        content_type = info.get("content_type", DEFAULT_CONTENT_TYPE)
        if not isinstance(content_type, str):
            raise BadRequest(f"Attachment {name}: content_type must be a string")
        parsed[name] = Inline(content_type, raw, digest_of(raw), revpos)
    return parsed


def missing_stub(doc_id: str, name: str) -> PreconditionFailed:
    """CouchDB's 412 ``missing_stub``: a stub names an attachment the parent does not have."""
    return PreconditionFailed(
        f"Invalid attachment stub in {doc_id} for {name}", error="missing_stub"
    )


def render_attachments(
    metas: Mapping[str, AttachmentMeta], data_of: Callable[[str], bytes] | None = None
) -> dict[str, dict[str, Any]]:
    """The ``_attachments`` of a returned doc: stubs, or inline base64 with ``data_of``."""
    out: dict[str, dict[str, Any]] = {}
    for name, meta in metas.items():
        shown = {
            "content_type": meta["content_type"],
            "digest": meta["digest"],
            "length": meta["length"],
            "revpos": meta["revpos"],
        }
        if data_of is None:
            shown["stub"] = True
        else:
            shown["data"] = base64.b64encode(data_of(meta["digest"])).decode()
        out[name] = shown
    return out
