"""Words every face shows for the same things: the schema's values as people
read them, and the form messages. English msgids of the one catalogue
(:mod:`schemas.i18n`); ``N_`` marks them, the page translates them.

The citizen portal and the officer's app both show a complaint's status and
category and a visit's kind; one table each keeps them saying the same.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BAD_CHOICE",
    "BAD_PHONE",
    "BAD_TIME",
    "CATEGORY_LABELS",
    "COMPLAINT_STATUS_LABELS",
    "KIND_LABELS",
    "NOT_AN_IMAGE",
    "N_",
    "PHOTO_TOO_LARGE",
    "REQUIRED",
    "TOO_LONG",
]


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated where shown."""
    return message


REQUIRED = N_("Please fill this in.")
TOO_LONG = N_("This is too long: at most %(limit)s characters.")
BAD_PHONE = N_("Give a 10-digit mobile number, like 9876543210.")
BAD_TIME = N_("Give a date and time, like 2026-05-01 10:30.")
BAD_CHOICE = N_("Please choose one of the options.")
NOT_AN_IMAGE = N_("The photo must be a JPEG or PNG picture.")
PHOTO_TOO_LARGE = N_("The photo is too large: at most %(limit)s KB.")

CATEGORY_LABELS: Mapping[str, str] = {
    "theft": N_("Theft"),
    "assault": N_("Assault"),
    "cyber_fraud": N_("Cyber fraud"),
    "missing_person": N_("Missing person"),
    "domestic_dispute": N_("Domestic dispute"),
    "land_dispute": N_("Land dispute"),
    "other": N_("Something else"),
}
COMPLAINT_STATUS_LABELS: Mapping[str, str] = {
    "registered": N_("Registered"),
    "assigned": N_("Assigned to an officer"),
    "under_investigation": N_("Under investigation"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
    "converted_to_fir": N_("Registered as an FIR"),
}
KIND_LABELS: Mapping[str, str] = {
    "character": N_("Character certificate"),
    "tenant": N_("Tenant verification"),
    "domestic_help": N_("Domestic help verification"),
    "employee": N_("Employee verification"),
    "passport": N_("Passport verification"),
}
