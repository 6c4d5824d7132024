"""The one message catalogue of the people's faces: English and Hindi.

Every label, message and error the portal, the office and the officer's app
show is an English msgid translated in ``schemas/locale/hi/*.po``. The files
are one catalogue split by face (``common.po``, ``portal.po``, ...) so that
work on two faces does not edit one file; a msgid lives in exactly one of
them (a test holds it). English is the msgid itself.

The ``.po`` files are read with Babel at first use and compiled in memory:
nothing binary is committed, and ``tests/schemas/test_i18n.py`` checks that
every string a template or face module marks for translation is translated.
"""

from __future__ import annotations

import datetime
import functools
import gettext
import io
from pathlib import Path
from typing import Final

from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "DEFAULT_LANGUAGE",
    "IST",
    "LANGUAGES",
    "LOCALE_DIR",
    "catalog",
    "local_moment",
    "month_name",
    "negotiate",
    "translations",
]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# The order is the switch's order on every page.
LANGUAGES = ("hi", "en")
DEFAULT_LANGUAGE = "en"
# The district works in India time; stored times are UTC. One clock for every
# page, report month and slot, so a booking at 23:30 is in the month it says.
IST: Final = datetime.timezone(datetime.timedelta(hours=5, minutes=30), "IST")


def catalog_files(language: str) -> list[Path]:
    return sorted((LOCALE_DIR / language).glob("*.po"))


@functools.cache
def catalog(language: str) -> Catalog:
    """All of one language's ``.po`` files as one Babel catalogue."""
    merged = Catalog(locale=language)
    for path in catalog_files(language):
        with path.open("rb") as fileobj:
            part = read_po(fileobj, locale=language)
        for message in part:
            if message.id:
                merged[message.id] = message
    return merged


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """A gettext object for ``language``; English (the msgids) needs no file."""
    if language not in LANGUAGES or language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, catalog(language))
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def negotiate(accept_language: str | None) -> str:
    """The language a browser asks for first among ours (RFC 9110 q-values);
    English when it asks for neither."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def local_moment(
    moment: datetime.datetime, language: str, pattern: str = "EEE d MMM, HH:mm"
) -> str:
    """A moment on the district's clock as the reader names it (``Mon 7 Dec, 10:00``,
    ``सोम 7 दिस॰, 10:00``): day and month names are CLDR's, like :func:`month_name`."""
    return format_datetime(moment, pattern, tzinfo=IST, locale=language)


def month_name(month: str, language: str, pattern: str = "MMM") -> str:
    """A ``YYYY-MM`` month as the reader names it (``Nov``, ``नव॰``), from Babel's CLDR data:
    month names are the locale's, not the catalogue's, so they are never left untranslated."""
    year, number = (int(part) for part in month.split("-"))
    return format_date(datetime.date(year, number, 1), pattern, locale=language)
