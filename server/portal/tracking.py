"""Tracking numbers and PINs a citizen reads aloud, writes down or types on a phone.

A number is a kind letter and eight characters of Crockford's base32 without
the look-alikes 0, O, 1, I, L (and U): ``C-7KQ4-M2XH``. 30^8 (about 6.5e11)
numbers make guessing one hopeless; the PIN (six digits, stored as a scrypt
hash) is what opens the record, and wrong PINs are throttled per number.
"""

from __future__ import annotations

import secrets
from enum import StrEnum

from server.policy.passwords import hash_password_async, verify_password_async

__all__ = ["ALPHABET", "Kind", "hash_pin", "new_number", "new_pin", "normalize", "verify_pin"]

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY = 8
PIN_DIGITS = 6


class Kind(StrEnum):
    """The record a number stands for: its first letter."""

    COMPLAINT = "C"
    APPOINTMENT = "A"
    CERTIFICATE = "V"
    VISIT = "P"


def new_number(kind: Kind) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(_BODY))
    return f"{kind.value}-{body[:4]}-{body[4:]}"


def normalize(typed: str) -> str | None:
    """The number as issued, from what a citizen typed (any case, spaces,
    dashes or none), or ``None`` when it cannot be one."""
    raw = "".join(ch for ch in typed.upper() if ch not in " -")
    if len(raw) != _BODY + 1 or raw[0] not in {k.value for k in Kind}:
        return None
    if any(ch not in ALPHABET for ch in raw[1:]):
        return None
    return f"{raw[0]}-{raw[1:5]}-{raw[5:]}"


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


async def hash_pin(pin: str) -> str:
    return await hash_password_async(pin)


async def verify_pin(pin: str, stored: str | None) -> bool:
    """Whether ``pin`` opens ``stored``; with ``None`` (no such number) the
    same work is done against a stand-in hash, so the answer's time does not
    tell which numbers exist."""
    if stored is None:
        await verify_password_async(pin.strip(), await _stand_in())
        return False
    return await verify_password_async(pin.strip(), stored)


_STAND_IN: list[str] = []


async def _stand_in() -> str:
    if not _STAND_IN:
        _STAND_IN.append(await hash_password_async(new_pin()))
    return _STAND_IN[0]
