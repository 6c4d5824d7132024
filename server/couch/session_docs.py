"""The office's sessions as ``office-session:<token hash>`` documents of the
identities database, a part of :class:`server.couch.state.CouchGatewayState`:
several gateways sharing one CouchDB need no sticky sessions, and a restart
logs nobody out."""

from __future__ import annotations

import abc
import contextlib
from typing import Final

from server.couch.docs import get_or_none, list_prefixed, update_doc
from server.state.office_sessions import SessionRepo, StoredSession
from sync.database import Database, Doc
from sync.errors import Conflict, NotFound

__all__ = ["CouchOfficeSessions"]

_PREFIX: Final = "office-session:"


def _stored_session(doc: Doc) -> StoredSession:
    key = str(doc["_id"]).removeprefix(_PREFIX)
    return StoredSession(key, doc["officer_id"], float(doc["started"]), float(doc["last_seen"]))


class CouchOfficeSessions(SessionRepo):
    @property
    @abc.abstractmethod
    def _sessions_db(self) -> Database: ...

    async def put_session(self, session: StoredSession) -> None:
        fields = {"officer_id": session.officer_id, "started": session.started}
        await update_doc(
            self._sessions_db,
            f"{_PREFIX}{session.key}",
            lambda d: {**d, **fields, "last_seen": session.last_seen},
            create={"kind": "office_session"},
        )

    async def get_session(self, key: str) -> StoredSession | None:
        doc = await get_or_none(self._sessions_db, f"{_PREFIX}{key}")
        return _stored_session(doc) if doc is not None else None

    async def delete_session(self, key: str) -> None:
        doc = await get_or_none(self._sessions_db, f"{_PREFIX}{key}")
        if doc is not None:
            with contextlib.suppress(Conflict, NotFound):  # gone or touched meanwhile: fine
                await self._sessions_db.put(
                    {"_id": doc["_id"], "_rev": doc["_rev"], "_deleted": True}
                )

    async def forget_sessions(self, *, seen_before: float, started_before: float) -> int:
        gone = [
            {"_id": d["_id"], "_rev": d["_rev"], "_deleted": True}
            for d in await list_prefixed(self._sessions_db, _PREFIX)
            if d.get("last_seen", 0) < seen_before or d.get("started", 0) < started_before
        ]
        if gone:
            await self._sessions_db.bulk_docs(gone)
        return len(gone)
