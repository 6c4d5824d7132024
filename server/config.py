"""The gateway's settings, one frozen dataclass built by the CLI or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_DATA_DIR", "DEFAULT_TOKEN_DAYS", "GatewayConfig"]

DEFAULT_DATA_DIR = Path("beatsync-data")
DEFAULT_TOKEN_DAYS = 90.0


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    data_dir: Path = DEFAULT_DATA_DIR
    # CouchDB's max_http_request_size defaults to 4 GiB; a police record with a
    # few photos is far below 8 MiB, and a lower cap keeps one device from
    # exhausting the gateway's memory. Larger bodies get 413 too_large, which
    # replicators answer by splitting the batch.
    max_body_bytes: int = 8 * 1024 * 1024
    # Login throttling: this many failed logins per officer id or per client
    # address within the window, then 429 until the window passes.
    max_login_failures: int = 5
    login_window_s: float = 300.0
    # How long a verified Basic-auth header skips the KDF (replicators send it
    # on every request); the officer row is still read on every request.
    auth_cache_ttl_s: float = 60.0
    # Device tokens expire this many days after enrolment (DESIGN: "sessions/
    # tokens expire"); the device then enrols again with the officer's password.
    # Computed from the device's enrolled_at, so changing it applies to every token.
    token_days: float = DEFAULT_TOKEN_DAYS
    # Longpoll `_changes` waits at most this long, whatever the client asks.
    max_longpoll_s: float = 60.0
    # Responses above this size are gzipped for clients that accept it.
    gzip_min_bytes: int = 1024
    # Production backend: the central CouchDB's URL (credentials in it or in
    # BEATSYNC_COUCHDB_USER / BEATSYNC_COUCHDB_PASSWORD); None keeps the
    # embedded SQLite store. repr=False: the URL may carry a password.
    couchdb_url: str | None = field(default=None, repr=False)
    # Longest CouchDB silence (connect or answer) before devices get 503.
    couchdb_timeout_s: float = 15.0
    # Merge conflicts in the background as records arrive (server.conflicts).
    # `serve` turns it on; off here so a test or tool that builds an app sees
    # the conflict branches it made, until it asks for a merge itself.
    merge_conflicts: bool = False
