"""Text for a citizen whose page language nobody knows (a walk-in, a notice
the portal sends unasked): Hindi first, the district's language; then English
for whoever reads that. Both from the one catalogue."""

from __future__ import annotations

from collections.abc import Mapping

from schemas.i18n import translations

__all__ = ["both_languages"]

_ORDER = ("hi", "en")


def both_languages(message: str, values: Mapping[str, str]) -> str:
    return "\n".join(translations(lang).gettext(message) % values for lang in _ORDER)
