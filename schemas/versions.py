"""Which schema a record claims: its ``type`` and ``schema_version``, checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.errors import RecordInvalid
from schemas.loader import CURRENT_VERSIONS, KNOWN_VERSIONS, RECORD_TYPES

__all__ = ["is_tombstone", "record_version"]


def is_tombstone(doc: Mapping[str, Any]) -> bool:
    """A CouchDB deletion (``_deleted: true``): no body, nothing to validate or migrate."""
    return doc.get("_deleted") is True


def record_version(doc: Mapping[str, Any]) -> tuple[str, int]:
    """``(type, schema_version)`` of a record this app has a schema for, else ``RecordInvalid``."""
    record_type = doc.get("type")
    if "type" not in doc:
        raise RecordInvalid.at("type", "is required")
    if not isinstance(record_type, str) or record_type not in RECORD_TYPES:
        raise RecordInvalid.at("type", "must be one of: " + ", ".join(sorted(RECORD_TYPES)))
    version = doc.get("schema_version")
    if "schema_version" not in doc:
        raise RecordInvalid.at("schema_version", "is required")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordInvalid.at("schema_version", "must be a whole number")
    current = CURRENT_VERSIONS[record_type]
    if version > current:
        raise RecordInvalid.at(
            "schema_version",
            f"this {record_type} was written by a newer version of BeatSync (schema "
            f"version {version}; this app knows up to {current}): update the app to use it",
        )
    if version not in KNOWN_VERSIONS[record_type]:
        raise RecordInvalid.at("schema_version", f"{record_type} has no schema version {version}")
    return record_type, version
