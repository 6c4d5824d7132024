"""``beatsync verify``: check a certificate's QR payload, offline."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from field_client import render
from field_client.cli_support import EXIT_ERROR, EXIT_OFFLINE, _app, cli
from field_client.home import SETTINGS_FILE
from field_client.settings import load_settings
from sync.errors import PeerUnreachable

__all__ = ["verify"]


@cli.command()
@click.argument("payload")
@click.option(
    "--refresh",
    is_flag=True,
    help="First fetch the district's keys and revoked certificates from the server.",
)
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Use this keys file (the server's /portal/keys.json) instead of the cached one.",
)
def verify(payload: str, refresh: bool, keys_file: Path | None) -> None:
    """Check PAYLOAD (the code under a certificate's QR, or the scanned link):
    signed by the district, not altered, revoked or expired. Works offline
    with the keys fetched at the last --refresh."""
    from field_client.verify import fetch_keys, verify_offline  # aiohttp: only when verifying

    app = _app()
    if "#" in payload:  # the whole scanned link
        payload = payload.rsplit("#", 1)[1]
    if refresh:
        server = load_settings(app.home / SETTINGS_FILE).server_url
        if server is None:
            raise click.ClickException("This device has no server: run beatsync init first.")
        try:
            asyncio.run(fetch_keys(app.home, server))
        except PeerUnreachable:
            app.err.print("No network: could not refresh the district's keys.")
            sys.exit(EXIT_OFFLINE)
    try:
        checked = verify_offline(app.home, payload, keys_file)
    except FileNotFoundError:
        raise click.ClickException(
            "No district keys on this device yet: run beatsync verify --refresh once online."
        ) from None
    if app.as_json:
        render.emit_json(app.out, {"ok": checked.ok, "reason": checked.reason, **checked.fields})
    elif checked.ok:
        fields = checked.fields
        app.out.print(
            f"VALID: {fields['kind']} certificate {fields['id']} of {fields['name']},"
            f" station {fields['station']}, issued {fields['issued']},"
            f" valid until {fields['expires']}."
        )
    else:
        app.out.print(f"NOT VALID: {checked.reason}.")
    if not checked.ok:
        sys.exit(EXIT_ERROR)
