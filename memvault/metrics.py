"""`GET /metrics` in the Prometheus text format: one registry per app (two apps in one process never share a count).

    memvault_http_requests_total{method, route, status}   requests answered, by route template and status
    memvault_http_request_duration_seconds{method, route}  time to answer (histogram)
    memvault_memories_added_total                          memories the engine added (adds and imports)
    memvault_memories_deleted_total                        memories the engine deleted (every delete path)
    memvault_search_duration_seconds                       time of the engine's searches that answered (histogram)
    memvault_vector_index_state{memvault_vector_index_state="ready"|"building"}  1 for the current state
    process_*                                              the server process: CPU, memory, open files

`route` is the template of the route that took the request (`/v1/memories/{memory_id}/`), or "unrouted" when
none did (no route matches, or the door refused the request first): no id nor word a client sent becomes a label.
The memory counts come from the engine (memvault.engine.watch), so a memory added through MCP counts like one
added through a dialect; every count is this process's since it started.
Metrics carry no project: they are the server's, and `/metrics` asks no key. That is why the server offers it
by default only when it listens on loopback (`metrics_enabled`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import StateSetMetricFamily
from prometheus_client.registry import Collector

from .engine import Engine

UNROUTED = "unrouted"
INDEX_STATES = ("ready", "building")


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches: localhost, 127.0.0.0/8, ::1."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def metrics_enabled(host: str, setting: bool | None) -> bool:
    """Whether a server bound to `host` offers /metrics: `setting` (MEMVAULT_METRICS) when given, else only on
    loopback, because /metrics asks no key."""
    return is_loopback(host) if setting is None else setting


class _VectorIndex(Collector):
    """The store's vector index state, read at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[StateSetMetricFamily]:
        state = self.engine.vector_index_state()
        yield StateSetMetricFamily("memvault_vector_index_state", "The vector index: ready, or building after a start.",
                                   {s: s == state for s in dict.fromkeys((*INDEX_STATES, state))})


class Metrics:
    """One app's metrics. It watches the engine (memvault.engine.watch.Watcher) and the requests
    (memvault.access.Observer)."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("memvault_http_requests", "HTTP requests answered, by route template and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("memvault_http_request_duration_seconds", "Time to answer an HTTP request.",
                                 ["method", "route"], registry=self.registry)
        self.added = Counter("memvault_memories_added", "Memories added (adds and imports).", registry=self.registry)
        self.deleted = Counter("memvault_memories_deleted", "Memories deleted, by any delete.", registry=self.registry)
        self.search = Histogram("memvault_search_duration_seconds", "Time of a search that answered.",
                                registry=self.registry)
        self.deliveries = Counter("memvault_webhook_deliveries", "Webhook delivery attempts, by outcome (delivered: "
                                  "a 2xx answer; failed: retried later).", ["outcome"], registry=self.registry)
        self.registry.register(_VectorIndex(engine))
        ProcessCollector(registry=self.registry)

    # memvault.access.Observer
    def request_done(self, method: str, route: str | None, status: int, seconds: float) -> None:
        self.requests.labels(method, route or UNROUTED, str(status)).inc()
        self.latency.labels(method, route or UNROUTED).observe(seconds)

    # memvault.engine.watch.Watcher
    def memories_added(self, count: int) -> None:
        self.added.inc(count)

    def memories_deleted(self, count: int) -> None:
        self.deleted.inc(count)

    def searched(self, seconds: float) -> None:
        self.search.observe(seconds)

    def webhook_delivery(self, delivered: bool) -> None:
        self.deliveries.labels("delivered" if delivered else "failed").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def router(self) -> APIRouter:
        router = APIRouter(tags=["operations"])

        @router.get("/metrics", response_class=Response, summary="Server metrics (Prometheus)",
                    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "The metrics, as text."}})
        def metrics() -> Response:
            """The server's metrics in the Prometheus text format: requests by route template and status, their
            latency, memories added and deleted, search latency, webhook deliveries by outcome, the vector index state,
            the process. No key is
            asked: the server offers this path on loopback binds, or when `MEMVAULT_METRICS=true`."""
            return Response(self.render(), media_type=CONTENT_TYPE_LATEST)

        return router
