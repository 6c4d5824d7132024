"""What the portal's handlers share: the gateway's state and stores, the
per-address and per-phone limits, and the outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from server.gateway.keys import STATE, STORES
from server.policy.rate_window import SlidingWindowLimit
from server.portal.outbox import Outbox
from server.portal.reminders import ReminderScheduler
from server.state.interface import GatewayState
from server.state.stations import StationDatabases

__all__ = ["OUTBOX", "OUTBOX_FILE", "PORTAL", "REMINDERS", "Limits", "Portal", "portal_of"]

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

    @contextmanager
    def phone_turn(self, phone: str) -> Iterator[None]:
        """429 once this phone filed its share. The turn is taken before the
        write (so concurrent submissions from one phone cannot all pass the
        check) and given back if the write fails: a booking that lost its
        slot to someone else costs the citizen nothing."""
        key = _phone_key(phone)
        taken = self.by_phone.take(key)
        try:
            yield
        except BaseException:
            self.by_phone.give_back(key, taken)
            raise

    def outbox(self, request: web.Request) -> Outbox:
        return request.config_dict[OUTBOX]


def _phone_key(phone: str) -> str:
    # A hash: the limiter holds no phone number, even in memory.
    return hashlib.sha256(phone.encode()).hexdigest()


PORTAL = web.AppKey("portal", Portal)
# On the gateway's own app (server.portal.app.attach_portal): the one outbox of
# the process, shared by the pages, the merge runner's double-booking notices
# and the reminder scheduler (one lock around the file's rewrites).
OUTBOX = web.AppKey("portal_outbox", Outbox)
# On the gateway's app too, while it runs: the reminder scheduler.
REMINDERS = web.AppKey("portal_reminders", ReminderScheduler)


def portal_of(request: web.Request) -> Portal:
    return request.config_dict[PORTAL]


def state_of(request: web.Request) -> GatewayState:
    return request.config_dict[STATE]


def stores_of(request: web.Request) -> StationDatabases:
    return request.config_dict[STORES]
