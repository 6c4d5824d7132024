"""Who is calling: Bearer device tokens and Basic officer passwords.

Devices send ``Authorization: Bearer <token>`` (issued at enrolment; only its
SHA-256 is stored). Stock CouchDB/PouchDB clients send Basic auth with an
officer's id and password. The officer (and device) rows are read on every
request, so a revocation made anywhere takes effect on the very next request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from server.config import DEFAULT_TOKEN_DAYS
from server.policy.passwords import dummy_hash, verify_password_async
from server.policy.throttle import LoginThrottle
from server.state.interface import IdentityRepo
from server.state.models import Device, Officer, Principal
from sync.errors import Unauthorized

__all__ = [
    "DEVICE_REVOKED_REASON",
    "TOKEN_EXPIRED_REASON",
    "Authenticator",
    "Clock",
    "basic_officer_id",
    "new_token",
    "token_expires_at",
    "token_hash",
]

DEVICE_REVOKED_REASON = (
    "This device was revoked by the district office; its local data must be wiped."
)
# The field client keeps its data on this answer (only device_revoked wipes)
# and `beatsync enrol` gets the device a new token with the same key.
TOKEN_EXPIRED_REASON = (
    "This device's token has expired; enrol again with your officer password (beatsync enrol)."
)
_BAD_LOGIN = "Name or password is incorrect."

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def token_expires_at(device: Device, token_days: float) -> datetime:
    """When ``device``'s token stops working: ``token_days`` after its enrolment."""
    enrolled = datetime.fromisoformat(device.enrolled_at.replace("Z", "+00:00"))
    return enrolled + timedelta(days=token_days)


def new_token() -> str:
    """A device credential: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Authenticator:
    def __init__(
        self,
        identities: IdentityRepo,
        throttle: LoginThrottle,
        cache_ttl_s: float,
        *,
        token_days: float = DEFAULT_TOKEN_DAYS,
        clock: Clock | None = None,
    ) -> None:
        self._identities = identities
        self._throttle = throttle
        self._ttl = cache_ttl_s
        self.token_days = token_days
        self.clock = clock or _utc_now
        # sha256(header + stored hash) -> expiry. Keyed on the stored hash too, so a
        # password reset (new hash) makes every cached entry for the officer miss.
        self._verified: dict[str, float] = {}

    async def authenticate(self, header: str | None, client: str) -> Principal | None:
        """The caller, ``None`` without credentials; ``Unauthorized`` for bad ones."""
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return await self._bearer(value.strip())
        if scheme == "basic":
            officer_id, password = _parse_basic(value.strip())
            return Principal(await self.login(officer_id, password, client, cache_key=header))
        raise Unauthorized("Use Bearer (device token) or Basic (officer id and password).")

    async def _bearer(self, token: str) -> Principal:
        device = await self._identities.device_by_token_hash(token_hash(token)) if token else None
        if device is None:
            raise Unauthorized("Unknown device token.")
        if device.revoked:
            raise Unauthorized(DEVICE_REVOKED_REASON, error="device_revoked")
        officer = await self._identities.get_officer(device.officer_id)
        if officer is None or officer.revoked:
            # The officer's devices go with the officer: tell the device to wipe too.
            raise Unauthorized(DEVICE_REVOKED_REASON, error="device_revoked")
        # After the revocation checks: a revoked device must still learn to wipe.
        if self.clock() >= token_expires_at(device, self.token_days):
            raise Unauthorized(TOKEN_EXPIRED_REASON, error="token_expired")
        return Principal(officer, device)

    async def login(
        self, officer_id: str, password: str, client: str, *, cache_key: str | None = None
    ) -> Officer:
        """Check an officer's password (throttled); the officer, or ``Unauthorized``.

        Every refusal costs one KDF run: an unknown id is checked against a
        dummy hash and a revoked officer's password against his own, so the
        answer's timing tells no one which ids exist or are revoked.
        """
        officer = await self._identities.get_officer(officer_id)
        # A header verified moments ago is no guess: a replicator sending it on
        # every request keeps syncing while its address is being throttled.
        if officer is not None and not officer.revoked and self._cached(cache_key, officer):
            return officer
        self._throttle.check(officer_id, client)
        # In a worker thread: the first call computes the dummy hash (one KDF run).
        stored = officer.password_hash if officer else await asyncio.to_thread(dummy_hash)
        if await verify_password_async(password, stored) and officer is not None:
            if officer.revoked:
                # Only the right password learns that the account was revoked.
                raise Unauthorized("This officer account was revoked by the district office.")
            self._throttle.succeeded(officer_id, client)
            if cache_key is not None:
                self._remember(cache_key, officer)
            return officer
        self._throttle.failed(officer_id, client)
        raise Unauthorized(_BAD_LOGIN)

    def _key(self, header: str, officer: Officer) -> str:
        return hashlib.sha256(f"{header}\0{officer.password_hash}".encode()).hexdigest()

    def _cached(self, header: str | None, officer: Officer) -> bool:
        if header is None:
            return False
        expiry = self._verified.get(self._key(header, officer))
        return expiry is not None and expiry > time.monotonic()

    def _remember(self, header: str, officer: Officer) -> None:
        now = time.monotonic()
        if len(self._verified) > 10_000:
            self._verified = {k: t for k, t in self._verified.items() if t > now}
        self._verified[self._key(header, officer)] = now + self._ttl


def basic_officer_id(header: str | None) -> str | None:
    """The officer id of a Basic ``Authorization`` header, never its password."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return _parse_basic(value.strip())[0]
    except Unauthorized:
        return None


def _parse_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Malformed Basic credentials.") from None
    officer_id, sep, password = decoded.partition(":")
    if not sep or not officer_id:
        raise Unauthorized("Malformed Basic credentials.")
    return officer_id, password
