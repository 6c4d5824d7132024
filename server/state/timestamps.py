"""Times as the gateway stores and answers them, on both state backends."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_now"]


def utc_now(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as the gateway stores times: ISO 8601 UTC, ms, ``Z``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
