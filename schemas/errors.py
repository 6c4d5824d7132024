"""What a rejected record looks like to the officer and to the gateway.

``RecordInvalid`` is a ``Forbidden`` because CouchDB answers a document that
fails ``validate_doc_update`` with 403 ``{"error": "forbidden", "reason": ...}``
(docs.couchdb.org, "Validate Document Update Functions"); the gateway's one
error middleware then needs no special case. It is also a ``ValueError`` so
code outside the HTTP layer can treat it as plain bad input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self

from sync.errors import Forbidden

__all__ = ["FieldError", "ImmutableFieldChanged", "RecordInvalid", "TransitionNotAllowed"]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem: the dotted field path and the whole sentence an officer reads.

    ``message`` already starts with the path ("complainant.phone: must be ..."),
    so a form can show it on its own; ``path`` is "" for the record as a whole.
    """

    path: str
    message: str

    @classmethod
    def at(cls, path: str, text: str) -> FieldError:
        return cls(path, f"{path}: {text}" if path else text)


def _path_key(path: str) -> tuple[tuple[int, int, str], ...]:
    # List indices sort as numbers, so action_log.2 comes before action_log.10.
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.split("."))


class RecordInvalid(Forbidden, ValueError):
    """The record breaks its schema; ``errors`` lists every problem, in a fixed order."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        unique = set(errors)
        self.errors: list[FieldError] = sorted(unique, key=lambda e: (_path_key(e.path), e.message))
        super().__init__("; ".join(e.message for e in self.errors) or "invalid record")

    @classmethod
    def at(cls, path: str, text: str) -> Self:
        return cls([FieldError.at(path, text)])


class TransitionNotAllowed(RecordInvalid):
    """The status change is not in the lifecycle table for this role."""


class ImmutableFieldChanged(RecordInvalid):
    """An update touched a field that is fixed once the record exists."""
