"""The one record validator, shared by the field client and the gateway.

Both sides import this module, so a record the device accepts offline is the
record the gateway accepts later, with the same messages. It also re-exports
the version, migration, lifecycle and immutability rules (see ``schemas``).

CouchDB metadata (``_id``, ``_rev``, ``_attachments``, ...) is not part of a
record's schema: CouchDB itself checks those. A deletion tombstone carries no
body to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.checks import cross_field_errors
from schemas.compiled import compiled_check
from schemas.errors import FieldError, ImmutableFieldChanged, RecordInvalid, TransitionNotAllowed
from schemas.immutable import APPEND_ONLY_FIELDS, IMMUTABLE_FIELDS, check_immutable
from schemas.lifecycle import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    INITIAL_STATUS,
    ROLES,
    STATUSES,
    check_transition,
)
from schemas.loader import CURRENT_VERSIONS, RECORD_TYPES, declared_fields
from schemas.messages import field_errors
from schemas.migrations import migrate
from schemas.versions import is_tombstone, record_version

__all__ = [
    "ALLOWED_TRANSITIONS",
    "APPEND_ONLY_FIELDS",
    "CURRENT_VERSIONS",
    "FINAL_STATUSES",
    "IMMUTABLE_FIELDS",
    "INITIAL_STATUS",
    "RECORD_TYPES",
    "ROLES",
    "STATUSES",
    "FieldError",
    "ImmutableFieldChanged",
    "RecordInvalid",
    "TransitionNotAllowed",
    "check_immutable",
    "check_transition",
    "migrate",
    "validate",
]


def validate(doc: Mapping[str, Any]) -> None:
    """Raise ``RecordInvalid`` listing every problem with ``doc``; return if it is valid.

    Any known ``schema_version`` is accepted as written (``migrate`` upgrades it);
    a version newer than this app knows is refused.
    """
    if not isinstance(doc, Mapping):
        raise RecordInvalid.at("", "a record must be a JSON object")
    if is_tombstone(doc):
        return
    body = {key: value for key, value in doc.items() if not str(key).startswith("_")}
    record_type, version = record_version(body)
    problems = list(cross_field_errors(record_type, body))
    if not compiled_check(record_type, version)(body):
        # Only now the slow walk that names every problem in the officer's words.
        from schemas.reference import validator_for

        found = field_errors(
            validator_for(record_type, version).iter_errors(body),
            declared_fields(record_type, version),
        )
        # Never accept what the compiled check refused (a test keeps the two
        # agreeing; should they not, the record is refused all the same).
        problems += list(found) or [FieldError.at("", "does not match its schema")]
    if problems:
        raise RecordInvalid(problems)
