"""Checking a certificate's QR payload on the officer's device, offline.

The device keeps the district's published keys and revoked certificates in
``HOME/district-keys.json`` (fetched from the gateway's ``/portal/keys.json``
when there is a network), checks the signature with
:func:`schemas.certificates.check_certificate`, and logs each check (time,
certificate id, outcome: never the holder's name) in ``HOME/verifications.log``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from schemas.certificates import Checked, check_certificate
from sync.http.transport import connection_errors
from sync.signing import public_key_from_b64

__all__ = ["KEYS_FILE", "LOG_FILE", "fetch_keys", "save_keys", "verify_offline"]

KEYS_FILE = "district-keys.json"
LOG_FILE = "verifications.log"


def _write_private(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


async def fetch_keys(home: Path, server_url: str) -> dict[str, Any]:
    """Refresh the cached keys and revocations from the gateway
    (``PeerUnreachable`` without a network)."""
    timeout = aiohttp.ClientTimeout(total=30)
    url = server_url.rstrip("/") + "/portal/keys.json"
    with connection_errors(url, method="GET"):
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as answer:
            answer.raise_for_status()
            published: dict[str, Any] = await answer.json()
    save_keys(home, published)
    return published


def save_keys(home: Path, published: dict[str, Any]) -> None:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_private(home / KEYS_FILE, json.dumps(published), os.O_TRUNC)


def verify_offline(home: Path, payload: str, keys_file: Path | None = None) -> Checked:
    """Check ``payload`` against the cached (or given) keys, and log the check."""
    source = keys_file or home / KEYS_FILE
    if not source.exists():
        raise FileNotFoundError(source)
    published = json.loads(source.read_text(encoding="utf-8"))
    keys = {kid: public_key_from_b64(public) for kid, public in published["keys"].items()}
    checked = check_certificate(payload, keys, set(published.get("revoked", [])))
    line = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "certificate": checked.fields.get("id"),
        "outcome": checked.reason,
    }
    if home.exists():
        _write_private(home / LOG_FILE, json.dumps(line) + "\n", os.O_APPEND)
    return checked
