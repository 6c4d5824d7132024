"""The district's identity vocabulary: officer roles and the shapes of ids.

One place for what the gateway, the station hub and the device all check:
station and beat ids are slugs, officer ids follow ``common.json``'s
``officer_id``. The patterns are read from ``schemas/json/common.json`` itself,
so an id the gateway issues is always one the record schemas accept.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from importlib import resources
from typing import Final

from sync.errors import BadRequest

__all__ = [
    "CITIZEN",
    "CITIZEN_PREFIX",
    "OFFICER_ID_PATTERN",
    "ROLES",
    "SLUG_PATTERN",
    "Role",
    "check_officer_id",
    "check_slug",
    "citizen_actor",
    "is_citizen_actor",
    "is_slug",
]


class Role(StrEnum):
    """What an officer may do; every officer has exactly one."""

    BEAT_OFFICER = "beat_officer"
    STATION_OFFICER = "station_officer"
    CENTRAL_OFFICE = "central_office"
    ADMIN = "admin"


# The web portal acting for the citizen who owns a record: an actor of the
# lifecycle rules, never an officer's role.
CITIZEN: Final = "citizen"
ROLES: Final[tuple[str, ...]] = (*(role.value for role in Role), CITIZEN)
# A citizen acting through the portal is named ``citizen:<ref>`` in records
# (common.json's ``actor``). Officer ids cannot hold ':', so no officer is one.
CITIZEN_PREFIX: Final = "citizen:"

_DEFS = json.loads(
    (resources.files("schemas") / "json" / "common.json").read_text(encoding="utf-8")
)["$defs"]
SLUG_PATTERN: Final[str] = _DEFS["slug"]["pattern"]
OFFICER_ID_PATTERN: Final[str] = _DEFS["officer_id"]["pattern"]
_SLUG = re.compile(SLUG_PATTERN)
_OFFICER_ID = re.compile(OFFICER_ID_PATTERN)


def citizen_actor(ref: str) -> str:
    """The actor name of the citizen the portal knows as ``ref``."""
    return CITIZEN_PREFIX + ref


def is_citizen_actor(actor: object) -> bool:
    return isinstance(actor, str) and actor.startswith(CITIZEN_PREFIX)


def is_slug(value: object) -> bool:
    """Whether ``value`` is a station or beat id."""
    return isinstance(value, str) and _SLUG.fullmatch(value) is not None


def check_slug(value: object, what: str = "id") -> str:
    if not is_slug(value):
        raise BadRequest(f"{what} must match {SLUG_PATTERN}")
    assert isinstance(value, str)
    return value


def check_officer_id(value: object) -> str:
    if not isinstance(value, str) or not _OFFICER_ID.fullmatch(value):
        raise BadRequest(f"officer_id must match {OFFICER_ID_PATTERN}")
    return value
