"""The one application factory of the sync gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from server.config import GatewayConfig
from server.conflicts.desk import ConflictDesk
from server.conflicts.runner import MergeRunner
from server.conflicts.views import MergeStats
from server.gateway.body import INFLATIONS_AT_ONCE
from server.gateway.connections import handler_args
from server.gateway.fair_share import FairShare
from server.gateway.forwarded import parse_networks
from server.gateway.handlers_beatsync import add_beatsync_routes
from server.gateway.handlers_couch import add_couch_routes
from server.gateway.handlers_hub import add_hub_routes
from server.gateway.handlers_session import add_session_routes
from server.gateway.keys import (
    AUTHENTICATOR,
    CLOCK,
    CONFIG,
    CONFLICTS,
    DISTRICT,
    FAIR_SHARE,
    GZIP_MIN_BYTES,
    INFLATIONS,
    MERGE_LISTENERS,
    MERGER,
    REPORTS,
    SERVER_UUID,
    STATE,
    STORES,
    TRUSTED_PROXIES,
)
from server.gateway.middlewares import (
    access_log,
    authenticate,
    compress,
    errors,
    fair_share,
    forwarded,
)
from server.policy.auth import Authenticator, Clock
from server.policy.district import DistrictSettings
from server.policy.throttle import LoginThrottle
from server.state.interface import GatewayState
from server.state.report_index import REPORTS_FILE, SQLiteReportIndex
from server.state.reports import ReportIndex
from server.state.sqlite import SQLiteGatewayState
from server.state.stations import STATIONS_DIR, SQLiteStationStores, StationDatabases
from sync.files import private_dir

__all__ = ["STATE_FILE", "STATIONS_DIR", "create_app", "open_state"]

log = logging.getLogger("beatsync.reports")

STATE_FILE = "gateway.sqlite"


async def open_state(config: GatewayConfig) -> GatewayState:
    """The gateway's identity/audit store under the data folder (the CLI uses it too),
    or in the central CouchDB when ``config.couchdb_url`` is set."""
    if config.couchdb_url is not None:
        from server.couch.state import CouchGatewayState

        return await CouchGatewayState.open(config)
    private_dir(config.data_dir)
    return await SQLiteGatewayState.open(config.data_dir / STATE_FILE, codec=config.at_rest)


def _station_stores(state: GatewayState, config: GatewayConfig) -> StationDatabases:
    if config.couchdb_url is not None:
        # The station databases share the state's CouchDB connection pool.
        from server.couch.backend import CouchStationStores
        from server.couch.state import CouchGatewayState

        assert isinstance(state, CouchGatewayState)
        return CouchStationStores(state.server)
    return SQLiteStationStores(config.data_dir / STATIONS_DIR, codec=config.at_rest)


async def _report_index(
    state: GatewayState, stores: StationDatabases, config: GatewayConfig
) -> ReportIndex:
    if config.couchdb_url is not None:
        from server.couch.reports import CouchReportIndex
        from server.couch.state import DISTRICT_DB, CouchGatewayState

        assert isinstance(state, CouchGatewayState)
        return CouchReportIndex(state.server, DISTRICT_DB)
    return await SQLiteReportIndex.open(config.data_dir / REPORTS_FILE, state, stores)


async def _warm(reports: ReportIndex) -> None:
    try:
        await reports.warm()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the first report tries again
        log.warning("report index not built at start", extra={"fields": {"error": str(exc)[:200]}})


async def _resources(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    state = await open_state(config)
    stores = _station_stores(state, config)
    server_uuid = await state.get_setting("server_uuid")
    if server_uuid is None:
        server_uuid = uuid.uuid4().hex
        await state.set_setting("server_uuid", server_uuid)
    app[STATE] = state
    app[STORES] = stores
    app[SERVER_UUID] = server_uuid
    app[DISTRICT] = DistrictSettings(state)
    app[AUTHENTICATOR] = Authenticator(
        state,
        LoginThrottle(config.login_limits),
        config.auth_cache_ttl_s,
        token_days=config.token_days,
        clock=app.get(CLOCK),
    )
    stats = MergeStats()  # one set of counters for the runner and the desk
    listeners = app[MERGE_LISTENERS]
    app[MERGER] = MergeRunner(state, stores, stats, listeners)
    app[CONFLICTS] = ConflictDesk(state, stores, stats, listeners)
    app[REPORTS] = await _report_index(state, stores, config)
    stop = asyncio.Event()
    merging = asyncio.create_task(app[MERGER].run(stop)) if config.merge_conflicts else None
    warming = asyncio.create_task(_warm(app[REPORTS]))
    try:
        yield
    finally:
        # Closing the index stops its catch-up at the next page (from where the
        # next start resumes); then the task ends by itself.
        await app[REPORTS].close()
        await warming
        if merging is not None:
            stop.set()
            merging.cancel()  # a pass in flight is safe to cut: it resumes from its checkpoint
            with contextlib.suppress(asyncio.CancelledError):
                await merging
        # Runs after in-flight requests finished (aiohttp's graceful shutdown),
        # so every acknowledged write is committed before the files close.
        await stores.close()
        await state.close()


def create_app(
    config: GatewayConfig | None = None, *, clock: Clock | None = None
) -> web.Application:
    """The gateway; ``clock`` (the current UTC time) is for tests of token expiry."""
    config = config or GatewayConfig()
    # X-Forwarded-For is read only with proxies to trust: otherwise no middleware at all.
    behind = [forwarded] if config.trusted_proxies else []
    app = web.Application(
        middlewares=[*behind, access_log, compress, errors, authenticate, fair_share],
        client_max_size=config.max_body_bytes,
        handler_args=handler_args(config),
    )
    app[CONFIG] = config
    if clock is not None:
        app[CLOCK] = clock
    app[GZIP_MIN_BYTES] = config.gzip_min_bytes
    app[MERGE_LISTENERS] = []
    app[FAIR_SHARE] = FairShare(config.fair)
    app[TRUSTED_PROXIES] = parse_networks(config.trusted_proxies)
    app[INFLATIONS] = asyncio.Semaphore(INFLATIONS_AT_ONCE)
    app.cleanup_ctx.append(_resources)
    add_beatsync_routes(app)
    add_hub_routes(app)
    add_session_routes(app)
    add_couch_routes(app)
    return app
