"""The :class:`~sync.database.Database` interface over CouchDB's HTTP API (aiohttp).

``remote`` is the store (:class:`HttpDatabase`); ``transport`` holds the HTTP
plumbing (sessions, auth, gzip, retries' raw material, counters, the one
translation of a broken link into ``PeerUnreachable``); ``bulk_get`` and
``changes`` adapt the two endpoints whose shapes differ between CouchDB 3 and
the peers we meet (pouchdb-server); ``enrol`` is BeatSync's enrolment call,
shared by officers' devices and station hubs.
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
