"""Serve an application until SIGINT/SIGTERM, then shut down gracefully.

aiohttp's ``run_app`` turns SIGTERM into ``GracefulExit`` (a ``SystemExit``
with code 1), so a clean stop would look like a failure to systemd or a
container runtime. This runs the same steps itself: on the signal, stop
accepting connections, let requests in flight finish (up to
``shutdown_timeout``), then run ``cleanup_ctx`` (which closes the stores),
and return normally: exit status 0.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

__all__ = ["serve_until_signalled"]


async def _serve(
    app: web.Application,
    host: str,
    port: int,
    shutdown_timeout: float,
    announce: Callable[[str], None] | None,
) -> None:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=shutdown_timeout)
        await site.start()
        if announce is not None:
            # Said only once the socket listens, so the URL shown is one that answers.
            # The port the socket got: with --port 0 the system picks one.
            bound = runner.addresses[0][1] if runner.addresses else port
            shown = f"[{host}]" if ":" in host else host
            announce(f"http://{shown}:{bound}/")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        # Closes the listening socket, waits for in-flight handlers, then cleanup_ctx.
        await runner.cleanup()


def serve_until_signalled(
    app: web.Application,
    *,
    host: str,
    port: int,
    shutdown_timeout: float = 30,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve until signalled; ``announce`` gets the URL once the socket listens."""
    asyncio.run(_serve(app, host, port, shutdown_timeout, announce))
