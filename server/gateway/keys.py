"""Typed keys of what the application holds (set up in :mod:`server.gateway.app`)."""

from __future__ import annotations

from aiohttp import web

from server.config import GatewayConfig
from server.conflicts.desk import ConflictDesk
from server.conflicts.runner import MergeRunner, QueueListener
from server.policy.auth import Authenticator, Clock
from server.policy.district import DistrictSettings
from server.state.interface import GatewayState
from server.state.models import Principal
from server.state.reports import ReportIndex
from server.state.stations import StationDatabases

__all__ = [
    "AUTHENTICATOR",
    "CLOCK",
    "CONFIG",
    "CONFLICTS",
    "DISTRICT",
    "GZIP_MIN_BYTES",
    "LOGIN_ATTEMPT",
    "MERGER",
    "MERGE_LISTENERS",
    "PRINCIPAL",
    "REPORTS",
    "SERVER_UUID",
    "STATE",
    "STORES",
]

CONFIG = web.AppKey("config", GatewayConfig)
STATE = web.AppKey("state", GatewayState)
STORES = web.AppKey("stores", StationDatabases)
DISTRICT = web.AppKey("district", DistrictSettings)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
SERVER_UUID = web.AppKey("server_uuid", str)
# The office's conflict desk (server.conflicts.desk), and the merge runner
# that fills its queue (running in the background when config.merge_conflicts).
CONFLICTS = web.AppKey("conflicts", ConflictDesk)
MERGER = web.AppKey("merger", MergeRunner)
# Who the merge runner tells of each conflict it queues: filled before the
# gateway starts (the portal adds itself, server.portal.app.attach_portal).
MERGE_LISTENERS: web.AppKey[list[QueueListener]] = web.AppKey("merge_listeners")
# What the office's reports read: the embedded index or the district database's views.
REPORTS = web.AppKey("reports", ReportIndex)
# Set only by tests (token expiry); the Authenticator otherwise reads the real time.
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
GZIP_MIN_BYTES = web.AppKey("gzip_min_bytes", int)
# The authenticated caller of a request, or None.
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal", Principal)
# The officer id a password login (Basic auth, enrolment) named, for the access log.
LOGIN_ATTEMPT = web.RequestKey("login_attempt", str)
