"""``GET /metrics``: the district's figures in Prometheus' text format.

* ``beatsync_sync_requests_total{direction}``: device sync requests, ``push``
  (``_bulk_docs``, ``_revs_diff``) and ``pull`` (``_changes``, ``_bulk_get``);
* ``beatsync_conflicts_open`` (queued and unresolved, from storage: every
  gateway's), ``beatsync_conflicts_merged_total``, ``..._queued_total``,
  ``..._resolved_total`` (this process's);
* ``beatsync_devices_stale``: devices not revoked and silent for
  ``STALE_HOURS``;
* ``beatsync_request_seconds{face}``: request latency, by face (``sync``,
  ``office``, ``portal``, ``beatsync``): never by path, whose ids would make
  a series per record.

Who may read it: a scraper on the gateway's own machine (loopback), or the
central office or an admin with Basic auth, as Prometheus' ``basic_auth`` sends.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas.identity import Role
from server.conflicts.views import MergeStats
from server.gateway.keys import CONFLICTS, PRINCIPAL, STATE, STORES
from server.office.oversight import stale_count
from server.policy.access import require_role

__all__ = ["METRICS", "STALE_HOURS", "Metrics", "add_metrics", "face_of"]

STALE_HOURS: Final = 24
_PUSH: Final = ("/_bulk_docs", "/_revs_diff")
_PULL: Final = ("/_changes", "/_bulk_get")
# Pages answer in tens of ms, a long-polled _changes in up to a minute.
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _MergeCounters(Collector):
    """The desk's live totals as counters, read at each scrape."""

    def __init__(self) -> None:
        self.stats: MergeStats | None = None

    def collect(self) -> Iterator[Metric]:
        stats = self.stats or MergeStats()
        for name, value, text in (
            ("merged", stats.merged, "Conflicted records merged automatically"),
            ("queued", stats.queued, "Conflicted records queued for the office"),
            ("resolved", stats.resolved, "Queued conflicts resolved by the office"),
        ):
            yield CounterMetricFamily(f"beatsync_conflicts_{name}", text, value=value)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.syncs = Counter(
            "beatsync_sync_requests",
            "Device sync requests",
            ["direction"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "beatsync_request_seconds",
            "Request latency",
            ["face"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.open = Gauge(
            "beatsync_conflicts_open", "Queued conflicts not yet resolved", registry=self.registry
        )
        self.stale = Gauge(
            "beatsync_devices_stale",
            f"Devices not revoked that have not synced for {STALE_HOURS} hours",
            registry=self.registry,
        )
        self.merges = _MergeCounters()
        self.registry.register(self.merges)


METRICS = web.AppKey("metrics", Metrics)


def face_of(path: str) -> str:
    for prefix, face in (
        ("/office/", "office"),
        ("/portal/", "portal"),
        ("/_beatsync/", "beatsync"),
    ):
        if path.startswith(prefix):
            return face
    return "sync"


@web.middleware
async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    try:
        return await handler(request)
    finally:
        path = request.path
        metrics.latency.labels(face_of(path)).observe(time.perf_counter() - started)
        if path.endswith(_PUSH):
            metrics.syncs.labels("push").inc()
        elif path.endswith(_PULL):
            metrics.syncs.labels("pull").inc()


def _from_loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


async def metrics_page(request: web.Request) -> web.Response:
    if not _from_loopback(request):
        require_role(request.get(PRINCIPAL), Role.CENTRAL_OFFICE, Role.ADMIN)
    metrics, app = request.app[METRICS], request.app
    desk = app[CONFLICTS]
    metrics.merges.stats = desk.stats
    metrics.open.set((await desk.counts()).open)
    metrics.stale.set(
        await stale_count(app[STATE], app[STORES], now=datetime.now(UTC), stale_hours=STALE_HOURS)
    )
    return web.Response(
        body=generate_latest(metrics.registry),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


def add_metrics(app: web.Application) -> None:
    """``/metrics`` on the site, and the latency middleware first of all, so
    the figure is what a client waits (the access log and errors included)."""
    app[METRICS] = Metrics()
    app.middlewares.insert(0, measure)
    app.router.add_get("/metrics", metrics_page, name="metrics")
