"""Checking a "revs map", the ``{doc_id: [rev, ...]}`` body of ``_revs_diff`` and ``_purge``.

One rule for every door that takes one (the embedded store, the gateway), so
they refuse the same bodies with the same 400 before anything is looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sync.errors import BadRequest
from sync.revtree import parse_rev

__all__ = ["check_revs_map"]


def check_revs_map(
    revs: object, *, endpoint: str, check_id: Callable[[object], str]
) -> Mapping[str, Sequence[str]]:
    """``revs`` if it maps ids ``check_id`` accepts to JSON arrays of valid revs.

    ``endpoint`` (``"_revs_diff"``, ``"_purge"``) names the request in the
    error for a body that is not an object; ``check_id`` is the caller's id
    rule (CouchDB's for the store, the gateway's stricter one for records).
    """
    if not isinstance(revs, Mapping):
        raise BadRequest(f"{endpoint} needs {{doc_id: [rev, ...]}}")
    for doc_id, doc_revs in revs.items():
        check_id(doc_id)
        if isinstance(doc_revs, str) or not isinstance(doc_revs, Sequence):
            raise BadRequest(f"Revisions of {doc_id} must be a JSON array")
        for rev in doc_revs:
            parse_rev(rev)
    return revs
