"""``beatsync ui``: serve the officer's app on 127.0.0.1 and open it in a browser."""

from __future__ import annotations

import asyncio
import contextlib
import webbrowser
from pathlib import Path

import click

from field_client.cli_support import _app
from field_client.home import replica_paths
from field_client.ui import DEFAULT_IDLE_MINUTES

__all__ = ["ui"]


async def serve(home: Path, port: int, idle_minutes: float, open_browser: bool) -> None:
    # The app (aiohttp, the replica) is loaded only when it is served.
    from aiohttp import web

    from field_client.ui.app import LOOPBACK, create_ui, new_secret
    from field_client.ui.guard import KEY_PARAM

    secret = new_secret()
    bound: list[str] = []
    app = create_ui(home, secret=secret, origin=lambda: bound[0], idle_minutes=idle_minutes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Loopback only: no other machine, on any network, can reach the app.
    site = web.TCPSite(runner, LOOPBACK, port)
    await site.start()
    bound.append(f"http://{LOOPBACK}:{runner.addresses[0][1]}")
    url = f"{bound[0]}/?{KEY_PARAM}={secret}"
    click.echo(f"BeatSync is open at {url}", err=True)
    click.echo("Keep this address to yourself. Press Ctrl+C to stop (it locks too).", err=True)
    if open_browser:
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(url)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


@click.command()
@click.option("--port", default=0, show_default=True, help="Port on 127.0.0.1 (0: any free one).")
@click.option(
    "--idle-minutes",
    default=DEFAULT_IDLE_MINUTES,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Lock after this many minutes without use.",
)
@click.option("--no-browser", is_flag=True, help="Only print the address; open no browser.")
def ui(port: int, idle_minutes: float, no_browser: bool) -> None:
    """Open BeatSync in a web browser on this device (works with no network).

    The app is served on 127.0.0.1 only, at an address with a secret made for
    this launch: only the browser that opens it can use the app. Unlock it
    with your passphrase; it locks again after --idle-minutes without use,
    when you press Lock, and when you stop it with Ctrl+C.
    """
    home = _app().home
    if not replica_paths(home)[1].exists():
        raise click.ClickException(f"BeatSync is not set up in {home}: run `beatsync init` first.")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(home, port, idle_minutes, not no_browser))
