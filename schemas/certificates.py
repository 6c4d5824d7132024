"""The signed payload of an issued certificate: what its QR code holds.

``BSC1.<payload>.<signature>``, both parts base64url without padding. The
payload is compact JSON (certificate id, kind, holder's name, issue date,
station, expiry, and ``kid``, the district key that signed it); the Ed25519
signature covers the ASCII text ``BSC1.<payload>`` exactly as printed, so a
verifier (the gateway, an officer's device, a browser's WebCrypto) checks
the bytes it received without re-encoding JSON. Old keys keep verifying
what they signed: a verifier holds every key the district ever published.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["PREFIX", "Checked", "check_certificate", "sign_certificate"]

PREFIX = "BSC1"
FIELDS = ("id", "kind", "name", "issued", "station", "expires", "kid")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_certificate(fields: Mapping[str, str], key: Ed25519PrivateKey) -> str:
    """The printed payload of ``fields`` (every name in :data:`FIELDS`)."""
    body = json.dumps({k: fields[k] for k in FIELDS}, ensure_ascii=False, separators=(",", ":"))
    signed = f"{PREFIX}.{_b64(body.encode())}"
    return f"{signed}.{_b64(key.sign(signed.encode()))}"


@dataclass(frozen=True, slots=True)
class Checked:
    """A verification's outcome: ``ok``, or ``reason`` (English, for logs and
    the device; the portal shows its own words) and what the payload says."""

    ok: bool
    reason: str
    fields: Mapping[str, Any]


def check_certificate(
    text: str,
    keys: Mapping[str, Ed25519PublicKey],
    revoked: Collection[str] = (),
    today: date | None = None,
) -> Checked:
    """Whether ``text`` is a certificate the district signed, not revoked or expired."""
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return Checked(False, "not a certificate payload", {})
    try:
        fields = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error):
        return Checked(False, "not a certificate payload", {})
    if (
        not isinstance(fields, dict)
        or set(fields) != set(FIELDS)
        or not all(isinstance(value, str) for value in fields.values())
    ):
        return Checked(False, "not a certificate payload", {})
    key = keys.get(fields["kid"])
    if key is None:
        return Checked(False, "signed by a key this district never published", fields)
    try:
        key.verify(signature, f"{parts[0]}.{parts[1]}".encode())
    except InvalidSignature:
        return Checked(False, "the signature does not match: altered or forged", fields)
    if fields["id"] in revoked:
        return Checked(False, "revoked by the district", fields)
    if fields["expires"] < (today or date.today()).isoformat():
        return Checked(False, "expired", fields)
    return Checked(True, "valid", fields)
