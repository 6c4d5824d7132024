"""The portal's forms: each field's label, kind and limits in one place, so
the page draws the field and the server checks it from the same description.

A refused form comes back with every answer kept and a message beside each
wrong field, in the citizen's language (``N_`` marks a message for the
catalogue; the page translates it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from schemas.i18n import IST
from schemas.web.labels import (
    BAD_CHOICE,
    BAD_PHONE,
    BAD_TIME,
    N_,
    NOT_AN_IMAGE,
    PHOTO_TOO_LARGE,
    REQUIRED,
    TOO_LONG,
)

__all__ = ["N_", "Field", "Form", "Submission"]

_PHONE = re.compile(r"^(\+91)?[6-9][0-9]{9}$")
FUTURE_TIME = N_("This time is in the future.")
PAST_TIME = N_("This time has passed.")

# Sniffed from the bytes, never from the name or the browser's word.
_IMAGE_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, textarea, phone, datetime, choice, photo, hidden
    required: bool = True
    max_length: int = 200
    choices: Sequence[tuple[str, str]] = ()
    past_only: bool = False
    future_only: bool = False
    hint: str = ""
    autocomplete: str = ""


@dataclass
class Submission:
    """What the citizen sent: clean ``values`` (answers as typed are ``raw``)."""

    raw: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class Form:
    fields: Sequence[Field]
    photo_limit_kb: int = 1024

    def blank(self) -> Submission:
        return Submission()

    async def read(
        self, request: web.Request, choices: Mapping[str, Sequence[tuple[str, str]]] | None = None
    ) -> Submission:
        posted = await request.post()
        sub = Submission()
        for spec in self.fields:
            value = posted.get(spec.name)
            if spec.kind == "photo":
                self._photo(spec, value, sub)
                continue
            text = value.strip() if isinstance(value, str) else ""
            sub.raw[spec.name] = text
            options = (choices or {}).get(spec.name, spec.choices)
            self._check(spec, text, options, sub)
        return sub

    def _check(
        self, spec: Field, text: str, options: Sequence[tuple[str, str]], sub: Submission
    ) -> None:
        if not text:
            if spec.required:
                sub.errors[spec.name] = (REQUIRED, {})
            return
        if len(text) > spec.max_length:
            sub.errors[spec.name] = (TOO_LONG, {"limit": spec.max_length})
        elif spec.kind == "phone":
            compact = re.sub(r"[\s-]", "", text)
            if not _PHONE.match(compact):
                sub.errors[spec.name] = (BAD_PHONE, {})
            else:
                sub.values[spec.name] = compact[-10:]
        elif spec.kind == "datetime":
            when = _parse_time(text)
            if when is None:
                sub.errors[spec.name] = (BAD_TIME, {})
            elif spec.past_only and when > datetime.now(IST):
                sub.errors[spec.name] = (FUTURE_TIME, {})
            elif spec.future_only and when < datetime.now(IST):
                sub.errors[spec.name] = (PAST_TIME, {})
            else:
                sub.values[spec.name] = when
        elif spec.kind == "choice" and text not in {value for value, _ in options}:
            sub.errors[spec.name] = (BAD_CHOICE, {})
        else:
            sub.values[spec.name] = text

    def _photo(self, spec: Field, value: object, sub: Submission) -> None:
        if not isinstance(value, web.FileField):
            return
        with value.file:  # aiohttp's spooled temporary file: ours to close
            data = value.file.read(self.photo_limit_kb * 1024 + 1)
        if not data:
            return
        if len(data) > self.photo_limit_kb * 1024:
            sub.errors[spec.name] = (PHOTO_TOO_LARGE, {"limit": self.photo_limit_kb})
            return
        kind = next((t for magic, t in _IMAGE_MAGIC.items() if data.startswith(magic)), None)
        if kind is None:
            sub.errors[spec.name] = (NOT_AN_IMAGE, {})
        else:
            sub.values[spec.name] = (kind, data)


def _parse_time(text: str) -> datetime | None:
    """A time from a ``datetime-local`` input (or typed by hand), in IST."""
    try:
        when = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=IST)
