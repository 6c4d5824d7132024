"""Upgrading a record written under an older schema version to the current one.

Devices update on their own schedule, so the gateway keeps receiving records
in every version still in the field. Each step upgrades one version to the
next and is a pure function of the record; ``migrate`` chains them. Add a
step here whenever a ``<type>.v<N+1>.json`` is added (a test enforces it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from schemas.loader import CURRENT_VERSIONS
from schemas.versions import is_tombstone, record_version

__all__ = ["STEPS", "migrate"]

Step = Callable[[dict[str, Any]], dict[str, Any]]


def _complaint_1_to_2(doc: dict[str, Any]) -> dict[str, Any]:
    """v2 keeps all of the complainant in one object and names cyber fraud plainly."""
    phone = doc.pop("complainant_phone", None)
    if phone is not None:
        complainant = doc.get("complainant")
        doc["complainant"] = {**(complainant if isinstance(complainant, Mapping) else {})}
        doc["complainant"]["phone"] = phone
    if doc.get("category") == "cyber":
        doc["category"] = "cyber_fraud"
    return doc


def _unchanged(doc: dict[str, Any]) -> dict[str, Any]:
    """A version that only adds an optional state: every older record is
    already what the new version reads it as (a verification visit without
    ``status`` was made; a visitor entry with ``time_in`` came in)."""
    return doc


# (type, from_version) -> step to from_version + 1
STEPS: dict[tuple[str, int], Step] = {
    ("complaint", 1): _complaint_1_to_2,
    ("verification_visit", 1): _unchanged,
    ("visitor_entry", 1): _unchanged,
}


def migrate(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``doc`` brought to its type's current ``schema_version``.

    Nested values of a record already current are ``doc``'s own: treat the
    result as read-only below its top level, as every caller does.

    It does not validate; validate the result. A version newer than this app
    knows raises ``RecordInvalid`` ("update the app"). Tombstones come back as
    a copy. CouchDB metadata is carried over untouched; the caller decides what
    the changed body means for ``_rev`` and for the device's signature.
    """
    result = dict(doc)
    if is_tombstone(result):
        return result
    record_type, version = record_version(result)
    if version < CURRENT_VERSIONS[record_type]:
        # Only a record that steps will change is copied deeply (steps may edit
        # nested fields); a current one, nearly every record, shares its values.
        result = copy.deepcopy(result)
    while version < CURRENT_VERSIONS[record_type]:
        result = STEPS[(record_type, version)](result)
        version += 1
        result["schema_version"] = version
    return result
