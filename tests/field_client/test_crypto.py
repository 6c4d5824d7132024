"""The AES-256-GCM codec and the key file, on their own (no database)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from field_client import keys
from field_client.errors import NoReplica, SealBroken, WrongPassphrase
from sync.codec import NONCE_BYTES, AesGcmCodec, new_data_key
from sync.errors import BadRequest
from tests.field_client.support import PASSPHRASE


def test_seal_opens_with_the_same_aad_only() -> None:
    codec = AesGcmCodec(new_data_key())
    sealed = codec.seal(b"doc1\x001-abc", "शिकायत text".encode())
    assert codec.open(b"doc1\x001-abc", sealed) == "शिकायत text".encode()
    with pytest.raises(SealBroken):
        codec.open(b"doc2\x001-abc", sealed)
    with pytest.raises(SealBroken):
        codec.open(b"doc1\x002-abc", sealed)


def test_every_seal_has_a_fresh_nonce_and_hides_the_text() -> None:
    codec = AesGcmCodec(new_data_key())
    first, second = codec.seal(b"a", b"same text"), codec.seal(b"a", b"same text")
    assert first[:NONCE_BYTES] != second[:NONCE_BYTES]
    assert b"same text" not in first


@pytest.mark.parametrize(
    "damage", [lambda b: b[:-1] + bytes([b[-1] ^ 1]), lambda b: b[:10], lambda b: b""]
)
def test_altered_or_truncated_seals_fail(damage) -> None:  # type: ignore[no-untyped-def]
    codec = AesGcmCodec(new_data_key())
    with pytest.raises(SealBroken):
        codec.open(b"a", damage(codec.seal(b"a", b"x" * 40)))


def test_another_key_cannot_open() -> None:
    sealed = AesGcmCodec(new_data_key()).seal(b"a", b"secret")
    with pytest.raises(SealBroken):
        AesGcmCodec(new_data_key()).open(b"a", sealed)


def test_key_file_documents_its_scrypt_cost_and_holds_no_key_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = keys.create_keyfile(path, PASSPHRASE)
    data = orjson.loads(path.read_bytes())
    assert data["kdf"] == {
        "name": "scrypt",
        "n": 2**15,
        "r": 8,
        "p": 1,
        "salt": data["kdf"]["salt"],
    }
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.unlock(path, PASSPHRASE).public_key_b64 == ring.public_key_b64
    assert set(data) == {"format", "version", "kdf", "wrapped_key", "device_key", "public_key"}


def test_wrong_passphrase_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys.create_keyfile(path, PASSPHRASE)
    before = path.read_bytes()
    with pytest.raises(WrongPassphrase):
        keys.unlock(path, "not the passphrase")
    with pytest.raises(WrongPassphrase):
        keys.change_passphrase(path, "not the passphrase", "a new passphrase")
    assert path.read_bytes() == before


def test_cheapened_kdf_does_not_open(tmp_path: Path) -> None:
    # An attacker lowering n to guess faster gets a file that no passphrase opens.
    path = tmp_path / "keys.json"
    keys.create_keyfile(path, PASSPHRASE)
    data = orjson.loads(path.read_bytes())
    data["kdf"]["n"] = 2**10
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(WrongPassphrase):
        keys.unlock(path, PASSPHRASE)


def test_passphrase_change_rewraps_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = keys.create_keyfile(path, PASSPHRASE)
    sealed = ring.codec.seal(b"a", b"record")
    keys.change_passphrase(path, PASSPHRASE, "a brand new passphrase")
    with pytest.raises(WrongPassphrase):
        keys.unlock(path, PASSPHRASE)
    reopened = keys.unlock(path, "a brand new passphrase")
    assert reopened.codec.open(b"a", sealed) == b"record"
    assert reopened.public_key_b64 == ring.public_key_b64


def test_short_passphrase_refused_and_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    with pytest.raises(BadRequest):
        keys.create_keyfile(path, "short")
    assert not path.exists()


def test_destroyed_key_file_is_gone_and_no_replica_remains(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys.create_keyfile(path, PASSPHRASE)
    keys.destroy_keyfile(path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(NoReplica):
        keys.unlock(path, PASSPHRASE)


def test_sealed_secret_is_bound_to_its_name(tmp_path: Path) -> None:
    ring = keys.create_keyfile(tmp_path / "keys.json", PASSPHRASE)
    sealed = ring.seal_secret("token", "bearer-123")
    assert ring.open_secret("token", sealed) == "bearer-123"
    with pytest.raises(SealBroken):
        ring.open_secret("other", sealed)
