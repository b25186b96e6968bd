"""``keepclear serve``: the HTTP service on the embedded default or PostgreSQL."""

from __future__ import annotations

import gc
import threading

import click

from keepclear.cli.context import CliContext, pass_context


@click.command()
@click.option("--host", default=None, help="Address to listen on (default from settings: 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default from settings: 8080).")
@click.option(
    "--reuse-port/--no-reuse-port",
    default=None,
    help="Share the host and port with other `keepclear serve` processes (SO_REUSEPORT; setting reuse_port).",
)
@pass_context
def serve(ctx: CliContext, host: str | None, port: int | None, reuse_port: bool | None) -> None:
    """Run the service until interrupted (Ctrl-C stops it cleanly)."""
    from keepclear.api.app import create_app
    from keepclear.api.server import SLOW_START_NOTICE, ForegroundServer, bind_listener, uvicorn_config, watch_start
    from keepclear.errors import KeepclearError

    settings = ctx.settings
    host = host or settings.host
    port = settings.port if port is None else port
    # The port first: a taken port is told at once, before the database opens or kernels compile.
    listener = bind_listener(host, port, reuse_port=settings.reuse_port if reuse_port is None else reuse_port)
    adapters = None
    if settings.interop_file is not None:
        from keepclear.interop.hosting import HostedAdapters, load_adapters

        # Read and checked before the service starts; they post and read over its own loopback address.
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        bound_port = listener.getsockname()[1]
        adapters = HostedAdapters(load_adapters(settings.interop_file), f"http://{local}:{bound_port}")
    app = create_app(settings)
    if adapters is not None:
        for name, read in adapters.gauges().items():
            app.state.runtime.add_gauge(name, read)
    click.echo(f"keepclear serving {settings.resolved_database_url()} on http://{host}:{port}", err=True)
    if settings.bus_url and not settings.detect_in_workers:
        # Each process probes only the reports it accepted: with several API processes, a pair whose
        # units report through different ones would never be compared.
        click.echo(
            "warning: bus_url without detect_in_workers: this process probes only the reports it accepts;"
            " with several API processes run detector workers (docs/deploy.md)",
            err=True,
        )
    # Everything built so far (libraries, the app, the deployment) lives as long as the process:
    # out of the collector's sight, a full collection walks only what serving creates, instead of
    # pausing every request for a few hundred milliseconds now and then.
    gc.collect()
    gc.freeze()
    # Young collections every 20,000 allocations instead of 700: a probe tick that raises thousands
    # of alerts, or a second of track ingest, allocates hundreds of thousands of short-lived objects,
    # and at the default rate the collector spent as long as the tick itself (1.3 s -> 0.64 s for a
    # tick raising 31,000 alerts). Cycles are still collected, a little later.
    gc.set_threshold(20_000, 10, 10)
    server = ForegroundServer(uvicorn_config(app, host, port, access_log=True))

    def tell_when_ready() -> None:
        try:
            watch_start(
                server,
                is_running=lambda: not server.should_exit,
                timeout_s=float("inf"),
                on_slow=lambda: click.echo(SLOW_START_NOTICE, err=True),
            )
        except KeepclearError:
            return
        if adapters is not None:
            adapters.start()
            click.echo(f"interop: {len(adapters.stats)} adapters running inside the service", err=True)
        click.echo(f"ready: http://{host}:{port}/", err=True)

    threading.Thread(target=tell_when_ready, name="keepclear-start-watch", daemon=True).start()
    try:
        server.run(sockets=[listener])
    finally:
        if adapters is not None:
            adapters.stop()
