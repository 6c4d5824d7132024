"""What the portal's handlers share: the gateway's state and stores, the
per-address and per-phone limits, and the outbox."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from aiohttp import web

from server.gateway.keys import CONFIG, STATE, STORES
from server.policy.rate_window import SlidingWindowLimit
from server.portal.outbox import Outbox
from server.state.interface import GatewayState
from server.state.stations import StationDatabases

__all__ = ["OUTBOX_FILE", "PORTAL", "Limits", "Portal", "portal_of"]

OUTBOX_FILE = "portal-outbox.jsonl"


@dataclass(frozen=True, slots=True)
class Limits:
    """How many forms one address and one phone number may send per window;
    and wrong PINs per tracking number (six digits: 10^6 guesses otherwise)."""

    per_address: int = 20
    per_phone: int = 5
    window_s: float = 3600
    wrong_pins: int = 5


@dataclass
class Portal:
    limits: Limits = field(default_factory=Limits)
    _outbox: Outbox | None = None

    def __post_init__(self) -> None:
        self.by_address = SlidingWindowLimit(self.limits.per_address, self.limits.window_s)
        self.by_phone = SlidingWindowLimit(self.limits.per_phone, self.limits.window_s)
        self.by_number = SlidingWindowLimit(self.limits.wrong_pins, self.limits.window_s)

    def count_post(self, request: web.Request) -> None:
        """429 once this address sent its share of forms; counted before the
        form is read, so a refused one counts too (the flood is the abuse)."""
        key = f"addr:{request.remote or 'unknown'}"
        self.by_address.check(key)
        self.by_address.count(key)

    def check_phone(self, phone: str) -> None:
        """429 once this phone filed its share. Checked before a write and
        counted after it succeeds (:meth:`count_phone`): a booking that lost
        its slot to someone else costs the citizen nothing."""
        self.by_phone.check(_phone_key(phone))

    def count_phone(self, phone: str) -> None:
        self.by_phone.count(_phone_key(phone))

    def outbox(self, request: web.Request) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(request.config_dict[CONFIG].data_dir / OUTBOX_FILE)
        return self._outbox


def _phone_key(phone: str) -> str:
    # A hash: the limiter holds no phone number, even in memory.
    return hashlib.sha256(phone.encode()).hexdigest()


PORTAL = web.AppKey("portal", Portal)


def portal_of(request: web.Request) -> Portal:
    return request.config_dict[PORTAL]


def state_of(request: web.Request) -> GatewayState:
    return request.config_dict[STATE]


def stores_of(request: web.Request) -> StationDatabases:
    return request.config_dict[STORES]
