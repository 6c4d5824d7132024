"""The data key that seals a server's embedded stores at rest: a station hub
always, the district gateway with ``serve --encrypt-at-rest``.

The key is random (AES-256) and lives only in memory once unlocked. What is
on disk beside the data is ``data-key.json`` (owner-only), one of::

    {"format": "beatsync-data-key", "version": 1, "unlock": "passphrase",
     "kdf": {...scrypt...}, "wrapped_key": <b64>}          # sync.keywrap
    {"format": "beatsync-data-key", "version": 1, "unlock": "key-file",
     "check": <b64 AES-GCM(key, "beatsync data key check")>}

With a passphrase (the station officer's, asked at start) the key is wrapped
in the folder, so a stolen station PC opens only with that passphrase. With
a key file (``--key-file``, 32 random bytes in base64, which the operator
keeps on another disk or a USB key) only a check value is kept here, so a
wrong or missing key file is refused at start instead of being found out at
the first read of a record.

A folder that already holds data written in the clear is not sealed in
place: seal a new folder and let it fill by replication (a hub re-syncs
its station from the district).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson

from server.state.stations import STATIONS_DIR
from sync.codec import AesGcmCodec, new_data_key
from sync.errors import BadRequest, PreconditionFailed, SealBroken, Unauthorized
from sync.files import private_dir, private_file
from sync.keywrap import b64, new_kdf, unb64, unwrap_key, wrap_key

__all__ = ["DATA_KEY_FILE", "MIN_PASSPHRASE_LENGTH", "is_sealed", "unlock_data_key"]

DATA_KEY_FILE: Final = "data-key.json"
MIN_PASSPHRASE_LENGTH: Final = 12
_FORMAT: Final = "beatsync-data-key"
_CHECK_AAD: Final = b"beatsync\0data-key-check"
_CHECK: Final = b"beatsync data key check"


def is_sealed(data_dir: Path) -> bool:
    """Whether the folder's stores were written sealed (it has a ``data-key.json``)."""
    return (data_dir / DATA_KEY_FILE).exists()


def unlock_data_key(
    data_dir: Path, *, passphrase: str | None = None, key_file: Path | None = None
) -> AesGcmCodec:
    """The codec of the folder's data key, made on first use; exactly one of
    ``passphrase`` and ``key_file`` unlocks it.

    ``Unauthorized`` when it does not open the key, ``PreconditionFailed`` for
    a folder of clear data or one sealed the other way, ``BadRequest`` for a
    short passphrase or a key file that is not one.
    """
    if (passphrase is None) == (key_file is None):
        raise BadRequest("Give either a passphrase or a key file.")
    path = data_dir / DATA_KEY_FILE
    if not path.exists():
        return _create(data_dir, path, passphrase, key_file)
    stored = _read(path)
    how = "passphrase" if passphrase is not None else "key-file"
    if stored.get("unlock") != how:
        raise PreconditionFailed(
            f"The data in {data_dir} is sealed with a {stored.get('unlock')}, not a {how}."
        )
    try:
        if passphrase is not None:
            return AesGcmCodec(unwrap_key(stored["wrapped_key"], passphrase, stored["kdf"]))
        assert key_file is not None
        codec = AesGcmCodec(_read_key_file(key_file))
        codec.open(_CHECK_AAD, unb64(stored["check"]))
        return codec
    except (SealBroken, KeyError):
        raise Unauthorized(
            f"This {'passphrase' if passphrase is not None else 'key file'} does not open"
            f" the data in {data_dir}; nothing was opened."
        ) from None


def _create(
    data_dir: Path, path: Path, passphrase: str | None, key_file: Path | None
) -> AesGcmCodec:
    # Station stores mean records in the clear; an identity-only gateway.sqlite
    # (`station add`, `officer add` before the first start) holds none.
    if any((data_dir / STATIONS_DIR).glob("*.sqlite")):
        raise PreconditionFailed(
            f"{data_dir} already holds data written in the clear; seal a new data folder"
            " and fill it by replication."
        )
    record: dict[str, Any] = {"format": _FORMAT, "version": 1}
    if passphrase is not None:
        if len(passphrase) < MIN_PASSPHRASE_LENGTH:
            raise BadRequest(f"The passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters.")
        key = new_data_key()
        kdf = new_kdf()
        record |= {
            "unlock": "passphrase",
            "kdf": kdf,
            "wrapped_key": wrap_key(key, passphrase, kdf),
        }
    else:
        assert key_file is not None
        key = _read_key_file(key_file) if key_file.exists() else _new_key_file(key_file)
        record |= {"unlock": "key-file", "check": b64(AesGcmCodec(key).seal(_CHECK_AAD, _CHECK))}
    private_dir(data_dir)
    private_file(path).write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    return AesGcmCodec(key)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("version") != 1:
        raise PreconditionFailed(f"{path} is not a BeatSync data key file (or a newer one).")
    return data


def _read_key_file(path: Path) -> bytes:
    try:
        key = unb64(path.read_text().strip())
    except (OSError, SealBroken):
        raise BadRequest(f"{path} is no readable BeatSync key file.") from None
    if len(key) != 32:
        raise BadRequest(f"{path} is no BeatSync key file (32 bytes in base64).")
    return key


def _new_key_file(path: Path) -> bytes:
    key = new_data_key()
    try:
        private_file(path).write_text(b64(key) + "\n")
    except OSError as exc:
        raise BadRequest(f"Cannot write the key file {path}: {exc.strerror}.") from None
    return key
