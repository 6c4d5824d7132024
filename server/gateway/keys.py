"""Typed keys of what the application holds (set up in :mod:`server.gateway.app`)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.config import GatewayConfig
from server.conflicts.desk import ConflictDesk
from server.conflicts.runner import MergeRunner, QueueListener
from server.gateway.fair_share import FairShare, Slot
from server.gateway.forwarded import Networks
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
    "FAIR_SHARE",
    "GZIP_MIN_BYTES",
    "INFLATIONS",
    "LOGIN_ATTEMPT",
    "MERGER",
    "MERGE_LISTENERS",
    "PRINCIPAL",
    "REPORTS",
    "SERVER_UUID",
    "SLOT",
    "STATE",
    "STORES",
    "TRUSTED_PROXIES",
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
# The proxies whose X-Forwarded-For is believed (config.trusted_proxies, parsed).
TRUSTED_PROXIES = web.AppKey("trusted_proxies", Networks)
# Compressed request bodies inflating now (server.gateway.body caps how many).
INFLATIONS = web.AppKey("inflations", asyncio.Semaphore)
# How requests share the gateway (server.gateway.fair_share), and the slot a
# request holds (absent on the health checks, which take none).
FAIR_SHARE = web.AppKey("fair_share", FairShare)
SLOT = web.RequestKey("slot", Slot)
# The authenticated caller of a request, or None.
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal", Principal)
# The officer id a password login (Basic auth, enrolment) named, for the access log.
LOGIN_ATTEMPT = web.RequestKey("login_attempt", str)
