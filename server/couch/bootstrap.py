"""``beatsync-server couch bootstrap``: provision a central CouchDB, idempotently.

Admin-time and synchronous, so it uses :mod:`pycouchdb` (the request path of
the gateway stays on aiohttp). Every step checks before it writes, so running
it again changes nothing, and running it after adding stations provisions
just the new ones. What it sets up, each through CouchDB 3's documented API
(docs.couchdb.org, "API Reference"):

* the gateway's databases: ``beatsync-identities``, ``beatsync-audit`` (with a
  ``validate_doc_update`` that refuses updates and deletions: append-only),
  ``beatsync-device-status``, the district-wide ``beatsync-district``, and
  ``station-<id>`` for every station in the identities database;
* ``PUT /{db}/_security`` on each: only the gateway's CouchDB user (and
  server admins, always) may read or write ("Security Objects");
* ``POST /beatsync-district/_index``: the Mango indexes of the central
  office's reports (type/status/updated_at, station_id/updated_at), and one
  on the audit log (db/seq) for one station's entries. Only the
  district database gets them: a design document in a station database would
  be replicated to every device;
* one continuous replication per station into ``beatsync-district`` as a
  ``_replicator`` document ("Replicator Database"). No filter is needed:
  station databases hold only records and journal entries (the gateway
  refuses ``_design/`` ids, and bootstrap puts no index there). A
  ``selector`` would also crash pouchdb-server 4.2's replicator.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pycouchdb
from pycouchdb import exceptions as couch_exc
from pycouchdb.client import Database as CouchDatabase
from pycouchdb.client import Server as CouchServer

from server.couch.backend import couch_credentials, redact, with_credentials
from server.couch.state import AUDIT_DB, AUDIT_INDEX, DEVICE_STATUS_DB, IDENTITIES_DB
from server.state.models import station_db_name

__all__ = [
    "AUDIT_VALIDATOR",
    "DISTRICT_DB",
    "DISTRICT_INDEXES",
    "BootstrapReport",
    "bootstrap",
    "fan_in_doc",
    "replication_doc_id",
]

DISTRICT_DB: Final = "beatsync-district"
REPLICATOR_DB: Final = "_replicator"
USERS_DB: Final = "_users"
GATEWAY_DBS: Final = (IDENTITIES_DB, AUDIT_DB, DEVICE_STATUS_DB, DISTRICT_DB)
# One index per design document, so changing one rebuilds only that one
# (CouchDB's Mango docs recommend it). Names are what reports pass as use_index.
DISTRICT_INDEXES: Final[Mapping[str, list[str]]] = {
    "by-type-status-updated": ["type", "status", "updated_at"],
    "by-station-updated": ["station_id", "updated_at"],
    "by-type-updated": ["type", "updated_at"],
}
AUDIT_VALIDATOR: Final = {
    "_id": "_design/append-only",
    "validate_doc_update": (
        "function (newDoc, oldDoc) {"
        " if (oldDoc) { throw({forbidden: 'the audit log is append-only'}); } }"
    ),
}
# Mango index creation may take a while on a big district database.
_TIMEOUT_S: Final = 120.0


@dataclass
class BootstrapReport:
    """What one run did; a second run over the same server reports only ``unchanged``."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def note(self, what: str, changed: bool | None) -> None:
        """``changed``: True created, None updated, False already right."""
        if changed is True:
            self.created.append(what)
        elif changed is None:
            self.updated.append(what)
        else:
            self.unchanged.append(what)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def replication_doc_id(station_id: str) -> str:
    return f"beatsync-fanin-{station_id}"


def fan_in_doc(base: str, station_id: str, credentials: tuple[str, str] | None) -> dict[str, Any]:
    """The ``_replicator`` document that copies one station into the district database.

    Credentials go in the URLs (the form every CouchDB version and PouchDB
    accept); CouchDB 3 hides them from anyone but server admins when the
    document is read back.
    """
    return {
        "_id": replication_doc_id(station_id),
        "source": with_credentials(base, station_db_name(station_id), credentials),
        "target": with_credentials(base, DISTRICT_DB, credentials),
        "continuous": True,
    }


def _security(gateway_user: str | None) -> dict[str, Any]:
    names = [gateway_user] if gateway_user else []
    return {"admins": {"names": names, "roles": []}, "members": {"names": names, "roles": []}}


class _Provisioner:
    def __init__(self, server: CouchServer, report: BootstrapReport) -> None:
        self.server = server
        self.report = report

    def database(self, name: str) -> CouchDatabase:
        if name in self.server:
            self.report.note(f"database {name}", False)
            return self.server.database(name)
        with contextlib.suppress(couch_exc.Conflict):  # created meanwhile: fine
            self.server.create(name)
        self.report.note(f"database {name}", True)
        return self.server.database(name)

    def security(self, db: CouchDatabase, wanted: dict[str, Any]) -> None:
        _, current = db.resource.get("_security")
        same = isinstance(current, dict) and {k: current.get(k) for k in wanted} == wanted
        if not same:
            db.resource.put("_security", data=pycouchdb.utils.force_bytes(_json(wanted)))
        self.report.note(f"_security of {db.name}", None if not same else False)

    def put_if_different(self, db: CouchDatabase, wanted: dict[str, Any]) -> None:
        what = f"{wanted['_id']} in {db.name}"
        try:
            current = db.get(wanted["_id"])
        except couch_exc.NotFound:
            db.save(dict(wanted))
            self.report.note(what, True)
            return
        if all(current.get(k) == v for k, v in wanted.items() if k != "_id"):
            self.report.note(what, False)
            return
        db.save({**wanted, "_rev": current["_rev"]})
        self.report.note(what, None)

    def user(self, name: str, password: str) -> None:
        """The gateway's CouchDB account, created once; an existing one is left
        alone (its password is the operator's to rotate)."""
        users = self.database(USERS_DB)
        doc_id = f"org.couchdb.user:{name}"
        try:
            users.get(doc_id)
        except couch_exc.NotFound:
            users.save(
                {"_id": doc_id, "name": name, "password": password, "roles": [], "type": "user"}
            )
            self.report.note(f"user {name}", True)
        else:
            self.report.note(f"user {name}", False)

    def index(self, db: CouchDatabase, name: str, fields: list[str]) -> None:
        _, result = db.resource.post(
            "_index",
            data=pycouchdb.utils.force_bytes(
                _json({"index": {"fields": fields}, "name": name, "ddoc": name, "type": "json"})
            ),
        )
        # CouchDB answers "created" or "exists": POST _index is idempotent itself.
        created = isinstance(result, dict) and result.get("result") == "created"
        self.report.note(f"index {name} in {db.name}", created)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def _station_ids(identities: CouchDatabase) -> list[str]:
    rows = identities.all(
        startkey="station:", endkey="station:\ufff0", include_docs=False, as_list=True
    )
    return sorted(row["id"].split(":", 1)[1] for row in rows)


def bootstrap(
    couch_url: str,
    *,
    gateway_user: str | None = None,
    gateway_password: str | None = None,
    stations: Iterable[str] = (),
    replication_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> BootstrapReport:
    """Provision ``couch_url`` (see the module docstring); safe to run any number of times.

    ``gateway_user``: the CouchDB user the gateways log in as (default: the
    user of ``couch_url`` or ``BEATSYNC_COUCHDB_USER``); with ``gateway_password``
    its ``_users`` account is created when missing. ``stations``: station
    ids to provision besides those in the identities database.
    ``replication_url``: CouchDB's base URL as CouchDB itself reaches it, for
    the ``_replicator`` documents (default ``couch_url``).
    """
    base, credentials = couch_credentials(couch_url, environ)
    user = gateway_user or (credentials[0] if credentials else None)
    server = CouchServer(
        with_credentials(base, "", credentials).rstrip("/") + "/", timeout=_TIMEOUT_S
    )
    report = BootstrapReport()
    p = _Provisioner(server, report)
    try:
        if gateway_user and gateway_password:
            p.user(gateway_user, gateway_password)
        dbs = {name: p.database(name) for name in GATEWAY_DBS}
        p.put_if_different(dbs[AUDIT_DB], dict(AUDIT_VALIDATOR))
        # One server_uuid for every gateway of the district (enrolment answers
        # carry it); created once, never replaced.
        with contextlib.suppress(couch_exc.Conflict):
            dbs[IDENTITIES_DB].save(
                {"_id": "setting:server_uuid", "kind": "setting", "value": uuid.uuid4().hex}
            )
        for name, fields in DISTRICT_INDEXES.items():
            p.index(dbs[DISTRICT_DB], name, fields)
        p.index(dbs[AUDIT_DB], *AUDIT_INDEX)
        station_ids = sorted(set(_station_ids(dbs[IDENTITIES_DB])) | set(stations))
        for station_id in station_ids:
            dbs[station_db_name(station_id)] = p.database(station_db_name(station_id))
        for db in dbs.values():
            p.security(db, _security(user))
        replicator = p.database(REPLICATOR_DB)
        rep_base = couch_credentials(replication_url, environ)[0] if replication_url else base
        for station_id in station_ids:
            p.put_if_different(replicator, fan_in_doc(rep_base, station_id, credentials))
    # requests' errors (pycouchdb's transport) are OSErrors.
    except (couch_exc.Error, OSError) as exc:
        # pycouchdb's messages carry no credentials; the URL is shown redacted.
        raise RuntimeError(f"CouchDB at {redact(couch_url)} refused: {exc}") from None
    return report
