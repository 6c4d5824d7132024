"""Office sessions: a random token in an HttpOnly cookie, kept in the
gateway state by its SHA-256 (:mod:`server.state.office_sessions`), ended
by logout, by idleness or by age.

In the state, so a gateway restart logs nobody out, and several gateways
over one CouchDB share them (no sticky sessions). Only the hash is stored:
a copy of the state file or database opens no session. Times are the wall
clock's, which a restart keeps.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Final

from aiohttp import web

from server.state.office_sessions import SessionRepo, StoredSession

__all__ = [
    "IDLE_S",
    "MAX_AGE_S",
    "SESSION_COOKIE",
    "Sessions",
    "set_session_cookie",
]

SESSION_COOKIE: Final = "office_session"
# An office PC left unlocked: 30 minutes without a page ends the session.
IDLE_S: Final = 30 * 60
# A working day: even an active session logs in again the next morning.
MAX_AGE_S: Final = 12 * 3600
# A page moves the stored "last seen" only once this share of the idle
# limit has passed: not one state write per page, and a session ends at
# most a tenth of the limit early.
_TOUCH_SHARE: Final = 0.1


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """The rules (idle limit, age limit, clock); the sessions are in the state passed in."""

    def __init__(
        self,
        *,
        idle_s: float = IDLE_S,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self._clock = clock

    async def start(self, repo: SessionRepo, officer_id: str) -> str:
        """A new session (a new token at every login: no session fixation)."""
        now = self._clock()
        await repo.forget_sessions(
            seen_before=now - self.idle_s, started_before=now - self.max_age_s
        )
        token = secrets.token_urlsafe(32)
        await repo.put_session(StoredSession(_key(token), officer_id, now, now))
        return token

    async def officer_of(self, repo: SessionRepo, token: str | None) -> str | None:
        """The officer of a live session (and it is touched), else ``None``."""
        if not token:
            return None
        now = self._clock()
        session = await repo.get_session(_key(token))
        if session is None:
            return None
        if now - session.last_seen > self.idle_s or now - session.started > self.max_age_s:
            await repo.delete_session(session.key)
            return None
        if now - session.last_seen >= self.idle_s * _TOUCH_SHARE:
            await repo.put_session(
                StoredSession(session.key, session.officer_id, session.started, now)
            )
        return session.officer_id

    async def end(self, repo: SessionRepo, token: str | None) -> None:
        if token:
            await repo.delete_session(_key(token))


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    # Strict: a link from elsewhere never carries the session; Secure when
    # the officer came over HTTPS (a TLS-terminating proxy sets the scheme).
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/office/",
    )
