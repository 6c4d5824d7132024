"""The office's sessions as the gateway state keeps them: by the SHA-256 of
the cookie's token (never the token), with the officer and two wall-clock
times, so a session outlives a gateway restart and every gateway of the
district (sharing one CouchDB) knows it."""

from __future__ import annotations

import abc
from dataclasses import dataclass

__all__ = ["SessionRepo", "StoredSession"]


@dataclass(frozen=True, slots=True)
class StoredSession:
    key: str  # sha256 hex of the token
    officer_id: str
    started: float  # seconds since the epoch
    last_seen: float


class SessionRepo(abc.ABC):
    @abc.abstractmethod
    async def put_session(self, session: StoredSession) -> None:
        """Store ``session`` (a new one, or its ``last_seen`` moved on)."""

    @abc.abstractmethod
    async def get_session(self, key: str) -> StoredSession | None: ...

    @abc.abstractmethod
    async def delete_session(self, key: str) -> None: ...

    @abc.abstractmethod
    async def forget_sessions(self, *, seen_before: float, started_before: float) -> int:
        """Delete the sessions idle since ``seen_before`` or begun before
        ``started_before``; how many went."""
