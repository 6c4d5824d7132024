"""The station hub: ``beatsync-server serve --hub --station ID --upstream URL``.

A station PC runs the ordinary gateway with its embedded store for ONE
station, and two background jobs:

* **identity cache**: every ``refresh_s`` (and at start), fetch the station's
  officers and devices from the district gateway
  (``GET /_beatsync/hub/identities``, :mod:`server.gateway.handlers_hub`) and
  apply them to the hub's own SQLite state: new officers and devices,
  changed passwords, and every revocation seen so far. Officers of the
  station sign in and devices sync against this cache, so they keep working
  for days while the station's internet is down. Devices enrol at the
  district (the hub refuses enrolment: a key the centre never saw would make
  every record from it unverifiable there).
* **merge**: the gateway's own merge runner (:mod:`server.conflicts.runner`,
  with ``relayed``) on the station database as its changes come, so devices
  syncing at the station see merged records while the link is down. It
  writes the same deterministic revisions the district would, merges only
  records the district already holds, and leaves what it cannot merge in
  conflict for the district's office queue. On with ``HubOptions(merge=True)``,
  as ``serve --hub`` does unless ``--no-merge``.
* **relay**: the station database kept in step with the upstream gateway
  (:func:`sync.session_relay.keep_in_step`: one sync session a round when
  the district offers it, else the standard continuous replication), resuming
  from its checkpoints and backing off with jitter while the link is down.

The hub's credential is a device enrolled by one of the station's station
officers (``beatsync-server hub enrol``, saved as ``hub.json`` in the data
folder, readable by its owner only) and authorised by the district
(``beatsync-server hub authorise DEVICE``). Writes at the hub must be signed
by an enrolled device (the hub sets ``refuse_unsigned``): the centre accepts
relayed revisions only with their author device's signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from schemas.identity import check_slug
from server.config import GatewayConfig
from server.conflicts.runner import MergeRunner
from server.gateway.app import create_app
from server.gateway.handlers_hub import HUB_IDENTITIES_PATH
from server.gateway.keys import DISTRICT, MERGER, STATE, STORES
from server.hub.enrolment import HUB_FILE, UPSTREAM_TIMEOUT_S, HubCredential
from server.hub.identity_cache import apply_snapshot
from server.state.models import station_db_name
from sync.errors import BadRequest, CouchError, Forbidden, ServiceUnavailable, Unauthorized
from sync.http import HttpDatabase
from sync.http.transport import Transport
from sync.replication import ReplicationError, RetryPolicy
from sync.session_relay import keep_in_step

__all__ = ["HubOptions", "create_hub_app"]

# How often the identity cache is refreshed while the centre is reachable: a
# revocation reaches the station's devices within this time of the link being up.
DEFAULT_REFRESH_S: Final = 60.0
_HUB_REVOKED: Final = "hub_revoked"

log = logging.getLogger("beatsync.hub")


@dataclass(frozen=True)
class HubOptions:
    refresh_s: float = DEFAULT_REFRESH_S
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    upstream_timeout_s: float = UPSTREAM_TIMEOUT_S
    # Merge the station's conflicts here too (see the module docstring). Off
    # unless asked (`serve --hub` asks, unless --no-merge), like the gateway's
    # merge_conflicts: the district refuses a hub's merge revisions and must
    # merge the same ones itself, so a hub merging beside a district that does
    # not would keep revisions the district never takes.
    merge: bool = False


class _Hub:
    """The two background jobs of one hub application."""

    def __init__(self, app: web.Application, credential: HubCredential, options: HubOptions):
        self.app = app
        self.credential = credential
        self.options = options
        self.stop = asyncio.Event()
        self.refreshed = asyncio.Event()  # set after every successful refresh
        self.last_error: str | None = None
        # Set when the district refuses the hub's own credential (revoked, e.g.
        # a stolen station PC): the hub then serves nobody from its cache.
        self.revoked = False

    async def _set_revoked(self, revoked: bool) -> None:
        # Kept on disk: a revoked hub restarted offline must stay shut.
        if revoked != self.revoked:
            await self.app[STATE].set_setting(_HUB_REVOKED, "true" if revoked else "false")
        self.revoked = revoked

    async def refresh_once(self, upstream: Transport) -> int:
        body = await upstream.request("GET", HUB_IDENTITIES_PATH.lstrip("/"))
        changes = await apply_snapshot(self.app[STATE], body)
        self.refreshed.set()
        return changes

    async def refresh_loop(self) -> None:
        upstream = Transport(
            self.credential.upstream,
            auth=self.credential.token,
            session=None,
            compress_requests=False,
            request_timeout=self.options.upstream_timeout_s,
        )
        try:
            attempt = 0
            while not self.stop.is_set():
                try:
                    changes = await self.refresh_once(upstream)
                except Unauthorized as exc:
                    # An expired token is no revocation: keep serving from the cache
                    # until the hub is enrolled again (`beatsync-server hub enrol`).
                    if exc.error_name != "token_expired":
                        await self._set_revoked(True)
                    self.last_error = exc.reason
                    log.error(
                        "the district refuses this hub", extra={"fields": {"error": exc.reason}}
                    )
                    delay = self.options.retry.max_delay
                except (CouchError, ValueError, KeyError, TypeError) as exc:
                    # Offline (PeerUnreachable) is the normal state of a station: keep
                    # serving from the cache and try again, backing off like the replicator.
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    delay = self.options.retry.delay(attempt, exc)
                    attempt += 1
                    log.info(
                        "identity refresh failed", extra={"fields": {"error": self.last_error}}
                    )
                else:
                    attempt = 0
                    self.last_error = None
                    await self._set_revoked(False)
                    delay = self.options.refresh_s
                    if changes:
                        log.info("identities refreshed", extra={"fields": {"changes": changes}})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
        finally:
            await upstream.close()

    def _upstream_db(self) -> HttpDatabase:
        return HttpDatabase(
            f"{self.credential.upstream}/{station_db_name(self.credential.station_id)}",
            auth=self.credential.token,
            compress_requests=True,
            request_timeout=self.options.upstream_timeout_s,
        )

    async def merge(self) -> None:
        upstream = self._upstream_db()

        async def relayed(leaves: Mapping[str, Sequence[str]]) -> set[str]:
            try:
                missing = await upstream.revs_diff(leaves)
            except (CouchError, OSError, ValueError):
                return set()  # offline: merge later, once the district has them
            return {doc_id for doc_id in leaves if doc_id not in missing}

        app = self.app
        # The gateway's runner and counters, asking the district before each merge.
        runner = MergeRunner(app[STATE], app[STORES], app[MERGER].stats, relayed=relayed)
        try:
            await runner.follow(self.credential.station_id, self.stop)
        finally:
            await upstream.close()

    def _relay_retry(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.info("relay retrying", extra={"fields": {"error": self.last_error}})

    async def relay(self) -> None:
        local = await self.app[STORES].get(self.credential.station_id)
        upstream = self._upstream_db()
        try:
            attempt = 0
            while not self.stop.is_set():
                try:
                    # Continuous: transient failures back off and resume from the
                    # checkpoints inside; only a permanent refusal comes out here.
                    await keep_in_step(
                        local,
                        upstream,
                        stop=self.stop,
                        retry=self.options.retry,
                        on_retry=self._relay_retry,
                    )
                except ReplicationError as exc:
                    self.last_error = str(exc)
                    log.error("relay stopped", extra={"fields": {"error": str(exc)}})
                    delay = self.options.retry.delay(attempt)
                    attempt += 1
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), max(delay, 1.0))
        finally:
            await upstream.close()

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        # At the hub every write must carry its author device's signature:
        # unsigned ones could never be relayed to the centre.
        await app[DISTRICT].set_refuse_unsigned(True)
        self.revoked = await app[STATE].get_setting(_HUB_REVOKED) == "true"
        jobs = [self.refresh_loop(), self.relay(), *([self.merge()] if self.options.merge else [])]
        tasks = [asyncio.create_task(job) for job in jobs]
        try:
            yield
        finally:
            self.stop.set()
            for task in tasks:
                try:
                    await asyncio.wait_for(task, 15)
                except (TimeoutError, asyncio.CancelledError):
                    pass
                except Exception:  # a crashed job must not block the shutdown
                    log.exception("hub job failed")


HUB = web.AppKey("hub", _Hub)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _hub_rules(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/_beatsync/enrol":
        raise Forbidden("Enrol devices with the district gateway; a station hub only relays.")
    if request.app[HUB].revoked:
        # 503, not 401: the devices did nothing wrong and must keep (not wipe)
        # their data; they sync with the district gateway instead.
        raise ServiceUnavailable(
            "This station hub was revoked by the district office; sync with the district gateway.",
            retry_after=3600,
        )
    return await handler(request)


def create_hub_app(
    config: GatewayConfig,
    station_id: str,
    upstream: str | None = None,
    *,
    options: HubOptions | None = None,
) -> web.Application:
    """The gateway app of a station hub (see the module docstring)."""
    check_slug(station_id, "station id")
    if config.at_rest is None:
        # DESIGN: stations keep encrypted replicas, like the officers' devices.
        raise BadRequest(
            "A station hub seals its data: unlock it with the station officer's passphrase"
            " or a key file (server.state.data_key)."
        )
    credential = HubCredential.load(config.data_dir)
    if credential.station_id != station_id:
        raise BadRequest(
            f"{HUB_FILE} holds the credential of station {credential.station_id}, not {station_id}"
        )
    if upstream is not None:
        credential = HubCredential(
            upstream.rstrip("/"), credential.station_id, credential.device_id, credential.token
        )
    # The gateway's background merge would queue conflicts in the hub's own
    # state, where no office sees them: the hub merges as the `merge` job.
    app = create_app(dataclasses.replace(config, merge_conflicts=False))
    # Inside `errors` and `authenticate`, so the refusal is CouchDB-shaped JSON.
    app.middlewares.append(_hub_rules)
    hub = _Hub(app, credential, options or HubOptions())
    app[HUB] = hub
    app.cleanup_ctx.append(hub.run)
    return app
