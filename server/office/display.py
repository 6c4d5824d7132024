"""How record values and times read on the office's pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import orjson

from schemas.i18n import IST

__all__ = ["at_path", "local_time", "shown"]

_MAX_SHOWN: Final = 400


def shown(value: Any) -> str:
    """A field's value as one line of text: strings as they are, the rest as
    compact JSON (a list of log entries stays readable), cut at a length a
    table cell can hold."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def local_time(stamp: str | None) -> str:
    """``2026-01-02T04:30:00Z`` as ``2026-01-02 10:00`` India time; as given
    when it is not a time (an old record's odd clock)."""
    if not stamp:
        return "—"
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M")


def at_path(body: Any, path: str) -> Any:
    """The value at a dotted path (``complainant.name``), ``None`` where absent."""
    for part in path.split("."):
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body
