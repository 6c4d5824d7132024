"""Records as the rest of BeatSync produces them: signed, and journalled, must validate."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import RecordInvalid, validate
from schemas.samples import sample_records
from sync.journal import next_entry, verify_chain
from sync.signing import sign, verify
from tests.schemas.examples import ENVELOPE


def test_a_signed_record_validates_and_a_forged_signature_shape_does_not() -> None:
    key = Ed25519PrivateKey.generate()
    record = sample_records(1, seed=11)[0]
    signed = sign(record, key, "dev-3f9a", parent=None)
    validate(signed)
    assert verify(signed, key.public_key())
    signed["signature"] = {**signed["signature"], "alg": "none"}
    with pytest.raises(RecordInvalid):
        validate(signed)


def test_journal_entries_from_sync_journal_validate() -> None:
    entries, prev = [], None
    for record in sample_records(5, seed=12):
        prev = next_entry(
            prev,
            device_id="dev-3f9a",
            record_id=record["_id"],
            record_type=record["type"],
            rev="1-" + "a" * 32,
            parent_rev=None,
            action="create",
            at=record["created_at"],
            envelope=ENVELOPE,
        )
        entries.append(prev)
    for entry in entries:
        validate(entry)
    assert verify_chain(entries) == []
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
