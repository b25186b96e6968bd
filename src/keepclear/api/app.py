"""``create_app(settings)``: builds the service; nothing is built at import time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from keepclear import __version__
from keepclear.api.connection_guard import ConnectionGuard
from keepclear.api.connection_limits import BodyBytesPerKey, PerKeyLimit, RequestsInFlight
from keepclear.api.docs_pages import add_docs_pages
from keepclear.api.export_streams import ExportStreams
from keepclear.api.feed_sources import FeedSources
from keepclear.api.head_requests import HeadAsGet
from keepclear.api.hotline_frames import LiveConfig
from keepclear.api.input_gate import InputGate
from keepclear.api.large_bodies import LargeBodies
from keepclear.api.models import PROBLEM_RESPONSES, TrackBatchIn
from keepclear.api.paging import PageLimits
from keepclear.api.party_rate import (
    ACTIVITY_VERTICES,
    ACTIVITY_WRITES,
    HOTLINE_POSTS,
    INCIDENT_REPORTS,
    REQUEST_BODY_BYTES,
    PartyRate,
)
from keepclear.api.problems import DomainErrors, install_problem_handlers
from keepclear.api.query_params import QueryParams
from keepclear.api.request_keys import RequestKeys
from keepclear.api.revocation_watch import RevocationWatch
from keepclear.api.routes import (
    activities,
    feeds,
    hotline,
    keys,
    record,
    registry,
    stream,
    tactical,
    tracks,
    zone_proposals,
    zones,
)
from keepclear.api.security_headers import SecurityHeaders
from keepclear.api.streams import StreamHub
from keepclear.console import console_router
from keepclear.domain.activities import MAX_VERTICES
from keepclear.domain.events import Clock
from keepclear.services.runtime.config import RuntimeConfig
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.priority import ProbePriority
from keepclear.services.runtime.runtime import Runtime
from keepclear.settings import Settings

#: The routes that take many objects in one body, and the setting bounding it; every other route's
#: body is one object, bounded by ``max_body_bytes`` (``InputGate``).
LARGE_BODIES = {
    "/v1/tracks": "max_batch_body_bytes",
    "/v1/activities/batch": "max_batch_body_bytes",
    "/v1/zones": "max_zone_file_bytes",
    "/v1/zone-proposals": "max_zone_file_bytes",
}


class IngestYield:
    """Track batches arriving while the probe computes wait a moment before being read: the probe
    has priority over ingest (``services.priority``); everything else goes straight through."""

    def __init__(self, app: ASGIApp, priority: ProbePriority, path: str = "/v1/tracks") -> None:
        self.app = app
        self.priority = priority
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path") == self.path:
            await self.priority.wait_clear_async()
        await self.app(scope, receive, send)


def _register_schema(app: FastAPI, model: type[BaseModel]) -> None:
    """Add ``model`` to the OpenAPI components for endpoints that parse their body by hand."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            definitions = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in definitions.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components[model.__name__] = definitions
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    deployment: Deployment | None = None,
    runtime_config: RuntimeConfig | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The keepclear service for ``settings`` (or an already opened ``deployment`` of the same
    settings); ``runtime_config`` overrides what the settings give (a replay's rules of notice, say);
    ``monotonic`` is the clock of the rates the API bounds (seconds; tests pass their own)."""
    if deployment is not None and deployment.settings != settings:
        raise ValueError("create_app: the deployment was opened with other settings than those given")
    dep = deployment or Deployment.open(settings, clock=clock)
    runtime = Runtime(dep, runtime_config or RuntimeConfig.from_settings(settings))
    hub = StreamHub(
        backlog_events=settings.stream_client_backlog_events,
        send_timeout_s=settings.stream_send_timeout_s,
        across_processes=settings.bus_url is not None,  # a client may resume on another API process
    )
    dep.bus.subscribe_batches(hub.on_events, live=True, remote=True)
    runtime.tactical.on_tick(lambda _now_s: hub.offer_picture())
    # Long-lived connections per key, each kind on its own count (in this process).
    stream_limit = PerKeyLimit("stream", settings.max_streams_per_key)
    hotline_limit = PerKeyLimit("hotline", settings.max_streams_per_key)
    # Requests in flight per party: no party holds every worker thread.
    in_flight = RequestsInFlight(settings.max_requests_in_flight_per_party)
    bodies = BodyBytesPerKey(settings.max_body_bytes_in_flight_per_key)  # bytes of bodies per key
    # Bytes of bodies per party a second: no party's bodies take the time that delivers alerts.
    body_rate = PartyRate(settings.body_bytes_per_party_per_s, settings.body_byte_burst, REQUEST_BODY_BYTES, monotonic)
    # Hotline messages per party (HTTP and socket together): no party posts without end.
    posts = PartyRate(
        settings.hotline_messages_per_party_per_s, settings.hotline_message_burst, HOTLINE_POSTS, monotonic
    )
    # Incident reports per party: no party opens incidents naming others without end.
    reports = PartyRate(
        settings.incident_reports_per_party_per_s, settings.incident_report_burst, INCIDENT_REPORTS, monotonic
    )
    # Activity writes per party (notify, batch, amend, cancel): no party notifies and cancels without end.
    writes = PartyRate(
        settings.activity_writes_per_party_per_s, settings.activity_write_burst, ACTIVITY_WRITES, monotonic
    )
    if runtime.config.activities.max_batch > writes.burst:  # a full batch takes one token an activity
        raise ValueError(
            f"create_app: batches of {runtime.config.activities.max_batch} activities could never pass a burst of"
            f" {writes.burst} (activity_write_burst)"
        )
    # Geometry vertices of those writes per party (notify, batch, amend): no party's large polygons take
    # the time that checks, signs and streams every other party's alerts.
    vertices = PartyRate(
        settings.activity_vertices_per_party_per_s, settings.activity_vertex_burst, ACTIVITY_VERTICES, monotonic
    )
    if vertices.burst < MAX_VERTICES:  # the largest activity takes one token a vertex
        raise ValueError(
            f"create_app: activities of {MAX_VERTICES} polygon positions could never pass a burst of"
            f" {vertices.burst} (activity_vertex_burst)"
        )
    # A key revoked where no bus tells this process (the CLI beside ``serve``) ends what it holds open.
    runtime.add_task("revoked-keys", RevocationWatch(dep.keys, dep.bus, (stream_limit, hotline_limit)), chore=True)
    # TCP connections of the process, and how long a request's headers may take (server.uvicorn_config).
    guard = ConnectionGuard(settings.max_connections, settings.header_timeout_s)
    for gauges in (
        hub.gauges(),
        stream_limit.gauges(),
        hotline_limit.gauges(),
        in_flight.gauges(),
        bodies.gauges(),
        posts.gauges(),
        reports.gauges(),
        writes.gauges(),
        vertices.gauges(),
        body_rate.gauges(),
        guard.gauges(),
    ):
        for name, read in gauges.items():
            runtime.add_gauge(name, read)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()
            if deployment is None:
                dep.close()

    app = FastAPI(
        title="keepclear",
        version=__version__,
        description="Deconfliction between parties whose forces share the same space.",
        lifespan=lifespan,
        docs_url=None,  # added with their Content-Security-Policy (add_docs_pages)
        redoc_url=None,
        # "/v1/me/" is a 404, never a redirect: Starlette's built its Location from the client's Host.
        redirect_slashes=False,
    )
    add_docs_pages(app)
    app.state.runtime = runtime
    app.state.hub = hub
    app.state.stream_limit = stream_limit
    app.state.connection_guard = guard
    app.state.settings = settings
    app.state.incident_reports = reports
    exports = app.state.record_exports = ExportStreams()
    runtime.add_gauge("record_exports_streaming", lambda: exports.streaming)
    runtime.add_gauge("record_exports_refused_busy_total", lambda: exports.refused_busy)
    app.state.activity_writes = writes
    app.state.activity_vertices = vertices
    app.state.page_limits = PageLimits(settings.list_page_items, settings.list_page_max_items)
    # Other processes' messages wake the sockets of their threads' parties (HotlineHub.catch_up): with a
    # bus from its events, without one from the runtime's look in the store each tick (StoreWatch).
    live = LiveConfig(
        send_timeout_s=dep.settings.stream_send_timeout_s,
        max_pending_post_bytes=dep.settings.hotline_max_pending_post_bytes,
    )
    app.state.hotline = hotline.Hotline(runtime.hotline, runtime.hotline_hub, hotline_limit, posts, live, body_rate)
    app.state.feed_sources = feed_sources = FeedSources()
    runtime.add_gauge("feed_sources_units", lambda: len(feed_sources))
    install_problem_handlers(app)
    _register_schema(app, TrackBatchIn)
    for module in (registry, zones, zone_proposals, keys, tracks, feeds, tactical, activities, record, stream, hotline):
        app.include_router(module.router, responses=PROBLEM_RESPONSES)
    app.include_router(console_router())
    # Idempotency keys (inside the gate: only judged bodies are remembered).
    app.add_middleware(RequestKeys, db=dep.db, keys=dep.keys, clock=dep.clock)
    # The gate judges the caller's key, then reads and judges every body before a route sees it; track
    # batches wait for the probe (IngestYield, outside it) before their bytes are read.
    large = LargeBodies(runtime.priority)
    runtime.add_gauge("large_bodies_waiting", lambda: large.waiting)
    runtime.add_gauge("large_bodies_refused_busy_total", lambda: large.refused_busy)
    runtime.add_gauge("large_bodies_waiting_per_party_max", large.waiting_of.most)
    runtime.add_gauge("large_body_judge_ns_per_byte", lambda: large.s_per_byte * 1e9)
    app.add_middleware(
        InputGate,
        limits=settings.input_limits(),
        typed_paths={"/v1/tracks"},
        authenticate=dep.keys.authenticate,
        large_bodies=LARGE_BODIES,
        queue=large,
        requests=in_flight,
        long_lived={"/v1/stream"},
        bodies=bodies,
        body_rate=body_rate,
    )
    app.add_middleware(IngestYield, priority=runtime.priority)
    # A query parameter the endpoint does not declare, or a single one given twice: refused before
    # anything else runs (no key look-up, no body read, no wait for the probe).
    app.add_middleware(QueryParams, routes=app.routes)
    app.add_middleware(DomainErrors)  # outside them all: their domain errors answered as the routes' are
    app.add_middleware(SecurityHeaders)  # on every answer, DomainErrors' too
    app.add_middleware(HeadAsGet, paths={"/v1/health"})  # load balancers' health checks use HEAD
    return app
