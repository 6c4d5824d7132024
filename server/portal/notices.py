"""Messages the portal sends without a citizen's request in hand: no page
language to follow, so the text goes in Hindi and in English, one after the
other, from the one catalogue.

The double-booking notice: when the merge runner queues a conflict of an
appointment (a slot booked at the centre and, offline, at a station or on an
officer's device), every citizen named in its leaves is told, whoever holds
a tracking number: the walk-in an officer booked has none.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.i18n import translations
from server.conflicts.leaves import Conflicted
from server.conflicts.runner import QueueListener
from server.portal.forms import N_
from server.portal.outbox import Message, Outbox
from server.portal.slots import local_time
from server.state.conflict_queue import QueuedConflict
from server.state.timestamps import utc_now

__all__ = ["DOUBLE_BOOKED", "both_languages", "double_booking_notice"]

DOUBLE_BOOKED = N_(
    "Your police meeting on %(slot)s was booked for someone else too. The office will"
    " decide and tell you; you may also move your meeting."
)
# Hindi first: the district's language; English for whoever reads that.
_ORDER = ("hi", "en")


def both_languages(message: str, values: Mapping[str, str]) -> str:
    return "\n".join(translations(lang).gettext(message) % values for lang in _ORDER)


def _phones(record: Conflicted) -> list[str]:
    phones = set()
    for leaf in record.leaves:
        citizen = leaf.body.get("citizen")
        if isinstance(citizen, dict) and isinstance(citizen.get("phone"), str):
            phones.add(citizen["phone"])
    return sorted(phones)


def double_booking_notice(outbox: Outbox) -> QueueListener:
    """The merge runner's listener that queues the notice for each citizen."""

    async def tell(entry: QueuedConflict, record: Conflicted) -> None:
        if entry.record_type != "appointment":
            return
        slot = next((str(leaf.body["slot"]) for leaf in record.leaves if "slot" in leaf.body), "")
        text = both_languages(DOUBLE_BOOKED, {"slot": local_time(slot)})
        now = utc_now()
        # No booking number: the notice is about the slot, which every party
        # shares, and only the online citizen has a number.
        await outbox.add(*(Message("double_booking", p, "", text, now) for p in _phones(record)))

    return tell
