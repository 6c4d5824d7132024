"""The :class:`~sync.database.Database` interface over CouchDB's HTTP API (aiohttp).

``remote`` is the store (:class:`HttpDatabase`); ``transport`` holds the HTTP
plumbing (sessions, auth, gzip, retries' raw material, counters); ``bulk_get``
and ``changes`` adapt the two endpoints whose shapes differ between CouchDB 3
and the peers we meet (pouchdb-server).
"""

from sync.http.remote import (
    BadPeerResponse,
    HttpDatabase,
    PeerUnreachable,
    TooManyRequests,
    TrafficStats,
)

__all__ = [
    "BadPeerResponse",
    "HttpDatabase",
    "PeerUnreachable",
    "TooManyRequests",
    "TrafficStats",
]
