"""Office sessions: a random token in an HttpOnly cookie, held in this
gateway's memory, ended by logout, by idleness or by age.

In memory on purpose: a session is worth nothing after a restart (the
officer logs in again), and no token, even hashed, lands on disk. Several
gateways behind a load balancer need sticky sessions for the office (see
server/README.md, "The office").
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

__all__ = [
    "IDLE_S",
    "MAX_AGE_S",
    "SESSION_COOKIE",
    "Session",
    "Sessions",
    "set_session_cookie",
]

SESSION_COOKIE: Final = "office_session"
# An office PC left unlocked: 30 minutes without a page ends the session.
IDLE_S: Final = 30 * 60
# A working day: even an active session logs in again the next morning.
MAX_AGE_S: Final = 12 * 3600
# More sessions than a district's office has officers means someone is
# filling memory with logins; the oldest go first.
MAX_SESSIONS: Final = 5000


@dataclass(slots=True)
class Session:
    officer_id: str
    started: float
    last_seen: float


def _key(token: str) -> str:
    # Keyed by hash: a memory dump or a debugger shows no usable token.
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(
        self,
        *,
        idle_s: float = IDLE_S,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def start(self, officer_id: str) -> str:
        """A new session (a new token at every login: no session fixation)."""
        now = self._clock()
        self._forget(now)
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
            del self._sessions[oldest]
        token = secrets.token_urlsafe(32)
        self._sessions[_key(token)] = Session(officer_id, now, now)
        return token

    def officer_of(self, token: str | None) -> str | None:
        """The officer of a live session (and it is touched), else ``None``."""
        if not token:
            return None
        now = self._clock()
        session = self._sessions.get(_key(token))
        if session is None:
            return None
        if now - session.last_seen > self.idle_s or now - session.started > self.max_age_s:
            del self._sessions[_key(token)]
            return None
        session.last_seen = now
        return session.officer_id

    def end(self, token: str | None) -> None:
        if token:
            self._sessions.pop(_key(token), None)

    def _forget(self, now: float) -> None:
        self._sessions = {
            k: s
            for k, s in self._sessions.items()
            if now - s.last_seen <= self.idle_s and now - s.started <= self.max_age_s
        }


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
