"""The reports over CouchDB: two views in the district database
(``beatsync-district``, which every station replicates into), provisioned by
``couch bootstrap`` as the design document :data:`REPORTS_DESIGN`.

The map functions index what :func:`server.state.reports.report_row` gives
the embedded index, written in ES5 for CouchDB 3's JavaScript engine:

* ``complaints``: ``[month, station, status, category]`` with the built-in
  ``_count`` reduce, so a month's counts are one grouped query of a few
  hundred rows at most, whatever the number of complaints;
* ``waiting``: what can fall overdue, twice: ``[type, "", since, id]`` for the
  district and ``[type, station, since, id]`` for one station (station ids
  are slugs, never ""), so a list is one key range read in order, paged
  by the key of the first row of the next page (the doc id is in the key:
  no ``startkey_docid``, which pouchdb-server ignores).

CouchDB builds a view when it is first queried and updates it at each
query from the database's changes, so a report sees what the fan-in
replication has copied so far (seconds behind the stations).
"""

from __future__ import annotations

import json
from typing import Any, Final

import orjson

from schemas.lifecycle import FINAL_STATUSES
from server.couch.backend import CouchServer
from server.state.reports import (
    Counts,
    OverdueItem,
    OverduePage,
    OverdueQuery,
    ReportIndex,
    page_mark,
)
from sync.errors import BadRequest

__all__ = ["REPORTS_DDOC", "REPORTS_DESIGN", "CouchReportIndex"]

REPORTS_DDOC: Final = "beatsync-reports"
# 5 h 30 min in milliseconds: the month is India time's (schemas.i18n.IST).
_IST_MS: Final = 19_800_000
_MAP_COMPLAINTS: Final = (
    "function (doc) {"
    " if (doc.type !== 'complaint' || typeof doc.station_id !== 'string'"
    " || typeof doc.created_at !== 'string') { return; }"
    " var t = Date.parse(doc.created_at); if (isNaN(t)) { return; }"
    f" var month = new Date(t + {_IST_MS}).toISOString().slice(0, 7);"
    " emit([month, doc.station_id,"
    " typeof doc.status === 'string' ? doc.status : null,"
    " typeof doc.category === 'string' ? doc.category : null], null); }"
)
_MAP_WAITING: Final = (
    "function (doc) {"
    " if (typeof doc.station_id !== 'string' || typeof doc.created_at !== 'string') { return; }"
    " var created = Date.parse(doc.created_at); if (isNaN(created)) { return; }"
    " var since = null, i, t;"
    " if (doc.type === 'verification_visit') {"
    "  if (doc.status === 'assigned') { since = created; }"
    " } else if (doc.type === 'complaint'"
    f" && {json.dumps(sorted(FINAL_STATUSES['complaint']))}.indexOf(doc.status) < 0) {{"
    "  var log = doc.action_log instanceof Array ? doc.action_log : [];"
    "  for (i = 0; i < log.length; i++) {"
    "   t = log[i] && typeof log[i].at === 'string' ? Date.parse(log[i].at) : NaN;"
    "   if (!isNaN(t) && (since === null || t > since)) { since = t; } }"
    "  if (since === null) { since = created; }"
    " }"
    " if (since === null) { return; }"
    " var at = new Date(since).toISOString();"
    " var value = {station_id: doc.station_id,"
    " beat_id: typeof doc.beat_id === 'string' ? doc.beat_id : null,"
    " status: typeof doc.status === 'string' ? doc.status : null};"
    " emit([doc.type, '', at, doc._id], value);"
    " emit([doc.type, doc.station_id, at, doc._id], value); }"
)
REPORTS_DESIGN: Final = {
    "_id": f"_design/{REPORTS_DDOC}",
    "language": "javascript",
    "views": {
        "complaints": {"map": _MAP_COMPLAINTS, "reduce": "_count"},
        "waiting": {"map": _MAP_WAITING},
    },
}


class CouchReportIndex(ReportIndex):
    def __init__(self, server: CouchServer, db: str) -> None:
        self._server = server
        self._db = db

    async def _rows(self, view: str, **params: Any) -> list[dict[str, Any]]:
        answer = await self._server.view(self._db, REPORTS_DDOC, view, params)
        return list(answer.get("rows", []))

    async def counts(self, station_id: str | None, month: str) -> Counts:
        start = [month] if station_id is None else [month, station_id]
        rows = await self._rows("complaints", startkey=start, endkey=[*start, {}], group_level=4)
        return Counts.of([(r["key"][1], r["key"][2], r["key"][3], int(r["value"])) for r in rows])

    async def months(self, station_id: str | None, first: str, last: str) -> dict[str, int]:
        rows = await self._rows("complaints", startkey=[first], endkey=[last, {}], group_level=2)
        found: dict[str, int] = {}
        for row in rows:
            month, station = row["key"][0], row["key"][1]
            if station_id is None or station == station_id:
                found[month] = found.get(month, 0) + int(row["value"])
        return found

    async def overdue(self, query: OverdueQuery) -> OverduePage:
        scope, limit = query.station_id or "", query.limit
        start = page_mark(query.after, 4) or [query.kind, scope]
        if start[:2] != [query.kind, scope]:
            raise BadRequest("after is not a page mark of this list")
        rows = await self._rows(
            "waiting", startkey=start, endkey=[query.kind, scope, query.before], limit=limit + 1
        )
        items = [
            OverdueItem(
                station_id=str(r["value"]["station_id"]),
                doc_id=r["key"][3],
                beat_id=r["value"].get("beat_id"),
                status=r["value"].get("status"),
                waiting_since=r["key"][2],
            )
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        return OverduePage(items, orjson.dumps(rows[limit]["key"]).decode() if more else None)
