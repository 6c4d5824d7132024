"""Ed25519 signatures on revisions: what they bind, and that checking never raises."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.attachments import digest_of
from sync.signing import (
    public_key_from_b64,
    public_key_to_b64,
    sign,
    signed_parent,
    signer_of,
    verify,
)

KEY = Ed25519PrivateKey.generate()
PHOTO = b"\xff\xd8 pretend JPEG"
DOC: dict[str, Any] = {
    "_id": "0f3c",
    "_rev": "1-abc",
    "type": "verification_visit",
    "findings": "पड़ोसियों ने पुष्टि की / neighbours confirmed",
    "_attachments": {"door.jpg": {"content_type": "image/jpeg",
                                  "data": base64.b64encode(PHOTO).decode()}},
}


def test_a_signed_revision_verifies_with_the_device_key_only() -> None:
    signed = sign(DOC, KEY, "dev-1", parent=None)
    assert signer_of(signed) == "dev-1"
    assert verify(signed, KEY.public_key())
    assert not verify(signed, Ed25519PrivateKey.generate().public_key())
    assert "signature" not in DOC, "sign returns a copy"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: {**d, "findings": "altered"},
        lambda d: {**d, "_id": "another-record"},
        lambda d: {**d, "_deleted": True},
        lambda d: {**d, "extra": 1},
        lambda d: {**d, "_attachments": {"door.jpg": {
            "content_type": "image/jpeg", "data": base64.b64encode(b"another photo").decode()}}},
        lambda d: {**d, "_attachments": {}},
        lambda d: {**d, "signature": {**d["signature"], "value": "AAAA"}},
        lambda d: {**d, "signature": {**d["signature"], "alg": "rsa"}},
        lambda d: {**d, "signature": "not an object"},
        lambda d: {k: v for k, v in d.items() if k != "signature"},
    ],
)
def test_any_change_breaks_the_signature(tamper: Any) -> None:
    assert not verify(tamper(sign(DOC, KEY, "dev-1", parent=None)), KEY.public_key())


def test_metadata_that_replication_changes_does_not_matter() -> None:
    signed = sign(DOC, KEY, "dev-1", parent=None)
    # The gateway sees the revision as replication delivers it: another _rev
    # field, _revisions, and the photo as a stub carrying its digest.
    as_replicated = {
        **signed,
        "_rev": "1-abc",
        "_revisions": {"start": 1, "ids": ["abc"]},
        "_attachments": {"door.jpg": {"stub": True, "digest": digest_of(PHOTO), "revpos": 1}},
    }
    assert verify(as_replicated, KEY.public_key())


def test_malformed_input_is_false_not_an_exception() -> None:
    signed = sign(DOC, KEY, "dev-1", parent=None)
    broken = {**signed, "_attachments": {"door.jpg": {"data": "%%% not base64"}}}
    assert not verify(broken, KEY.public_key())
    assert not verify({**signed, "_attachments": "nonsense"}, KEY.public_key())


def test_public_keys_round_trip_and_bad_ones_are_refused() -> None:
    text = public_key_to_b64(KEY)
    assert verify(sign(DOC, KEY, "d", parent=None), public_key_from_b64(text))
    for bad in ("", "%%%", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError, match=r"public key|32 bytes"):
            public_key_from_b64(bad)


def test_the_signature_covers_the_parent_it_names() -> None:
    parent = "2-" + "a" * 32
    signed = sign(DOC, KEY, "dev-1", parent=parent)
    assert signed_parent(signed) == parent
    assert verify(signed, KEY.public_key())
    for other in (None, "2-" + "b" * 32, 7):
        moved = {**signed, "signature": {**signed["signature"], "parent": other}}
        assert not verify(moved, KEY.public_key())
    assert signed_parent(sign(DOC, KEY, "dev-1", parent=None)) is None
