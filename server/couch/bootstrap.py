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
* ``PUT /{db}/_security`` on each: the gateway's CouchDB user is a member
  (reads and writes documents), never an admin: design documents (the audit
  log's validator, the indexes) and ``_security`` are the server admin's, so
  a gateway whose password leaks still cannot remove the validator and edit
  the audit log ("Security Objects");
* a replication user (``beatsync-replicator``), member of the station
  databases and the district database only, that the fan-in replications
  run as: the ``_replicator`` documents carry its password, not the server
  admin's. Its password is derived from the admin's (HMAC), so each run
  finds the same one without storing it, and a rotated admin password
  rotates it at the next run;
* ``POST /beatsync-district/_index``: the Mango indexes of the central
  office's reports (type/status/updated_at, station_id/updated_at), the
  reports' views (``_design/beatsync-reports``, :mod:`server.couch.reports`),
  and one
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
import hashlib
import hmac
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pycouchdb
import requests
from pycouchdb import exceptions as couch_exc
from pycouchdb.client import Database as CouchDatabase
from pycouchdb.client import Server as CouchServer
from yarl import URL

from server.couch.backend import couch_credentials, redact, with_credentials
from server.couch.reports import REPORTS_DESIGN
from server.couch.state import (
    AUDIT_DB,
    AUDIT_INDEX,
    CONFLICTS_DB,
    DEVICE_STATUS_DB,
    DISTRICT_DB,
    IDENTITIES_DB,
)
from server.state.models import station_db_name

__all__ = [
    "AUDIT_VALIDATOR",
    "DISTRICT_DB",
    "DISTRICT_INDEXES",
    "REPLICATION_USER",
    "BootstrapReport",
    "bootstrap",
    "fan_in_doc",
    "replication_doc_id",
    "replication_password",
]

REPLICATOR_DB: Final = "_replicator"
USERS_DB: Final = "_users"
REPLICATION_USER: Final = "beatsync-replicator"
GATEWAY_DBS: Final = (IDENTITIES_DB, AUDIT_DB, DEVICE_STATUS_DB, CONFLICTS_DB, DISTRICT_DB)
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


def _security(*members: str | None) -> dict[str, Any]:
    """Members read and write documents; only server admins are admins."""
    names = sorted({name for name in members if name})
    return {"admins": {"names": [], "roles": []}, "members": {"names": names, "roles": []}}


def replication_password(base: str, admin: tuple[str, str] | None) -> str:
    """The replication user's password: a function of the admin's credentials."""
    key = "\n".join(admin).encode() if admin else b""
    return hmac.new(key, f"{REPLICATION_USER}\n{base}".encode(), hashlib.sha256).hexdigest()


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

    def user(self, name: str, password: str, *, keep_password: bool = True) -> None:
        """A CouchDB account, created once. An existing one keeps its password
        (the gateway's is the operator's to rotate) unless ``keep_password`` is
        False and ``password`` no longer logs in (the replication user's)."""
        users = self.database(USERS_DB)
        doc_id = f"org.couchdb.user:{name}"
        try:
            current = users.get(doc_id)
        except couch_exc.NotFound:
            users.save(
                {"_id": doc_id, "name": name, "password": password, "roles": [], "type": "user"}
            )
            self.report.note(f"user {name}", True)
            return
        if keep_password or self._logs_in(name, password):
            self.report.note(f"user {name}", False)
            return
        users.save({**current, "password": password})
        self.report.note(f"user {name}", None)

    def _logs_in(self, name: str, password: str) -> bool:
        base = self.server.resource.base_url.rstrip("/")
        plain = str(URL(base).with_user(None).with_password(None))
        answer = requests.get(f"{plain}/_session", auth=(name, password), timeout=_TIMEOUT_S)
        if answer.status_code != 200:
            return False
        context = answer.json().get("userCtx", {})
        return isinstance(context, dict) and context.get("name") == name

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
        replicator_credentials = (REPLICATION_USER, replication_password(base, credentials))
        p.user(*replicator_credentials, keep_password=False)
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
        p.put_if_different(dbs[DISTRICT_DB], dict(REPORTS_DESIGN))
        p.index(dbs[AUDIT_DB], *AUDIT_INDEX)
        station_ids = sorted(set(_station_ids(dbs[IDENTITIES_DB])) | set(stations))
        for station_id in station_ids:
            dbs[station_db_name(station_id)] = p.database(station_db_name(station_id))
        for name, db in dbs.items():
            replicated = name == DISTRICT_DB or name.startswith("station-")
            p.security(db, _security(user, REPLICATION_USER if replicated else None))
        replicator = p.database(REPLICATOR_DB)
        rep_base = couch_credentials(replication_url, environ)[0] if replication_url else base
        for station_id in station_ids:
            p.put_if_different(replicator, fan_in_doc(rep_base, station_id, replicator_credentials))
    # requests' errors (pycouchdb's transport) are OSErrors.
    except (couch_exc.Error, OSError) as exc:
        # pycouchdb's messages carry no credentials; the URL is shown redacted.
        raise RuntimeError(f"CouchDB at {redact(couch_url)} refused: {exc}") from None
    return report
