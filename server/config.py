"""The gateway's settings, one frozen dataclass built by the CLI or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sync.codec import BodyCodec

__all__ = [
    "DEFAULT_BODY_TIMEOUT_S",
    "DEFAULT_DATA_DIR",
    "DEFAULT_FAIR_LIMITS",
    "DEFAULT_HEADER_TIMEOUT_S",
    "DEFAULT_LOGIN_LIMITS",
    "DEFAULT_MIN_BODY_BYTES_PER_S",
    "DEFAULT_TOKEN_DAYS",
    "FairLimits",
    "GatewayConfig",
    "LoginLimit",
    "LoginLimits",
]

DEFAULT_DATA_DIR = Path("beatsync-data")
DEFAULT_TOKEN_DAYS = 90.0
DEFAULT_HEADER_TIMEOUT_S = 15.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_MIN_BODY_BYTES_PER_S = 1024.0


@dataclass(frozen=True, slots=True)
class LoginLimit:
    """One key's throttle: ``free`` failures, then delays of ``base_s``, twice
    that, ... up to ``max_s``."""

    free: int
    base_s: float
    max_s: float
    forget_s: float  # a key without failures for this long starts afresh


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """The three keys every failed password login counts against (server.policy.throttle)."""

    # The guesser himself: slowed after a few typos, up to 5 minutes per attempt.
    officer_at_address: LoginLimit = LoginLimit(free=3, base_s=1.0, max_s=300.0, forget_s=900.0)
    # One officer guessed at from many addresses: a stranger can delay an
    # officer by at most max_s per attempt, never lock him out.
    officer: LoginLimit = LoginLimit(free=10, base_s=1.0, max_s=60.0, forget_s=900.0)
    # Spraying from one address: a station NAT's officers mistyping now and
    # then stay far below free.
    address: LoginLimit = LoginLimit(free=30, base_s=1.0, max_s=60.0, forget_s=900.0)
    # An officer's successful login makes its address known (skips `officer`) this long.
    known_address_s: float = 30 * 86_400.0


DEFAULT_LOGIN_LIMITS = LoginLimits()


@dataclass(frozen=True, slots=True)
class FairLimits:
    """How requests share the gateway (server.gateway.fair_share): a client is a
    device, an officer using a password, or else an address."""

    # A device syncing needs two at once (push and pull side by side; an idle
    # longpoll holds none): more from one client wait their turn, so a flood
    # from one client takes two slots, not the gateway.
    per_client: int = 2
    # In progress across every client; a freed slot goes to the waiting client
    # with the fewest in progress, so a flood queues behind nobody else.
    total: int = 16
    # Requests one client may have waiting; the next gets 429 at once.
    queue_per_client: int = 200
    # Longest wait for a slot before 429 (the client's own requests held it)
    # or 503 (the gateway was full).
    wait_s: float = 20.0


DEFAULT_FAIR_LIMITS = FairLimits()


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    data_dir: Path = DEFAULT_DATA_DIR
    # CouchDB's max_http_request_size defaults to 4 GiB; a police record with a
    # few photos is far below 8 MiB, and a lower cap keeps one device from
    # exhausting the gateway's memory. Larger bodies get 413 too_large, which
    # replicators answer by splitting the batch.
    max_body_bytes: int = 8 * 1024 * 1024
    # Password-login throttling: growing delays per officer, per address and
    # per both (see server.policy.throttle).
    login_limits: LoginLimits = DEFAULT_LOGIN_LIMITS
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
    # Slow clients (slowloris): a connection must finish a request's headers this
    # long after it opens or goes idle, else it is closed; a body must keep
    # arriving (no gap over body_timeout_s) at min_body_bytes_per_s on average
    # after its first body_timeout_s, else 408. 2G links move ~5-20 KB/s, so an
    # honest device is far above the floor while a trickle is cut off.
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    min_body_bytes_per_s: float = DEFAULT_MIN_BODY_BYTES_PER_S
    # How requests share the gateway: per client, in total, and how long they wait.
    fair: FairLimits = DEFAULT_FAIR_LIMITS
    # Proxies and load balancers (addresses or networks) whose X-Forwarded-For
    # names the client (server.gateway.forwarded); from anyone else it is ignored.
    trusted_proxies: tuple[str, ...] = ()
    # Longest CouchDB silence (connect or answer) before devices get 503.
    couchdb_timeout_s: float = 15.0
    # Seals the embedded stores' bodies, attachments and audited bodies (a
    # station hub always, the district with `serve --encrypt-at-rest`); the
    # unlocked data key, held only here in memory (server.state.data_key).
    at_rest: BodyCodec | None = field(default=None, repr=False, compare=False)
    # Merge conflicts in the background as records arrive (server.conflicts).
    # `serve` turns it on; off here so a test or tool that builds an app sees
    # the conflict branches it made, until it asks for a merge itself.
    merge_conflicts: bool = False
