"""``beatsync``: the officer's command line, a thin click layer over :class:`FieldReplica`.

Every command has ``--help``; a missing value is asked for; ``--json``
prints machine-readable output and ``--from-json FILE`` (``-`` for stdin)
takes a record as JSON. The passphrase is asked for on every command (or read
from ``BEATSYNC_PASSPHRASE`` for scripts): nothing stays unlocked between
commands. Exit codes: 0 done, 1 refused or failed (the message says why),
2 wrong usage, 3 no network (everything kept), 4 device revoked (wiped).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import TYPE_CHECKING, Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from field_client import (
    cli_records,  # noqa: F401  (registers the record commands)
    cli_verify,  # noqa: F401  (registers beatsync verify)
    render,
)
from field_client.cli_support import (
    EXIT_ERROR,
    EXIT_OFFLINE,
    EXIT_REVOKED,
    PASSPHRASE_ENV,
    PASSWORD_ENV,
    _app,
    _ask,
    _checked_passphrase,
    _fail,
    _passphrase,
    _progress_bar,
    _run,
    _with_replica,
    cli,
)
from field_client.errors import AlreadyInitialised, Offline
from field_client.home import change_passphrase, replica_paths, wipe_replica
from field_client.reports import SyncProgress, SyncReport
from field_client.ui.command import ui
from sync.errors import Unauthorized
from sync.signing import public_key_to_b64

# The replica (SQLite, crypto) and the HTTP client (aiohttp) are imported by
# the commands that use them: `beatsync --help` and a mistyped option answer
# without loading either (tests/test_command_start.py holds this).
if TYPE_CHECKING:
    from field_client.remote import Enrolment
    from field_client.replica import FieldReplica

__all__ = ["EXIT_ERROR", "EXIT_OFFLINE", "EXIT_REVOKED", "cli", "main"]


@cli.command()
@click.option("--officer", "officer_id", help="Your officer id (as the district office gave it).")
@click.option(
    "--server", "server_url", help="BeatSync server URL, e.g. https://sync.district.example"
)
@click.option("--station", "station_id", help="Station id (only with --offline).")
@click.option(
    "--beat",
    "beat_id",
    help="Beat id (with --server only for station officers, whose account has no beat).",
)
@click.option(
    "--device-name",
    default=socket.gethostname(),
    show_default=True,
    help="A name for this device that the district office will see.",
)
@click.option("--offline", is_flag=True, help="Set up without a server (no sync until enrolled).")
def init(
    officer_id: str | None,
    server_url: str | None,
    station_id: str | None,
    beat_id: str | None,
    device_name: str,
    offline: bool,
) -> None:
    """Set up BeatSync on this device: enrol with the server, then choose a passphrase.

    With --server, your officer password is asked for once (or read from
    BEATSYNC_PASSWORD) to enrol this device; it is not stored. It is checked
    first, before the passphrase is asked for (a wrong one is asked again,
    three tries). The passphrase protects everything on this device: there is
    no way to recover it. A station officer's account has no beat: the beat
    this device records for is asked for (or give --beat).
    """
    app = _app()
    if any(path.exists() for path in replica_paths(app.home)[1:]):
        _fail(AlreadyInitialised().reason)  # said before anything is asked or enrolled
    officer_id = _ask(officer_id, "Your officer id")
    signing_key, enrolment = None, None
    if not offline:
        server_url = _ask(server_url, "BeatSync server URL")
        signing_key = Ed25519PrivateKey.generate()
        enrolment = _enrol_first(server_url, officer_id, device_name, signing_key)
        if enrolment.beat_id is None:
            beat_id = _ask(beat_id, "Beat id this device records for (your account has none)")
    else:
        station_id = _ask(station_id, "Station id")
        beat_id = _ask(beat_id, "Beat id")
    passphrase = _passphrase(confirm=True, prompt="Choose a passphrase for this device")
    from field_client.replica import UNASSIGNED, FieldReplica

    async def run() -> FieldReplica:
        replica = await FieldReplica.create(
            app.home,
            passphrase,
            officer_id=officer_id,
            station_id=station_id or UNASSIGNED,
            beat_id=beat_id or UNASSIGNED,
            signing_key=signing_key,
        )
        try:
            if server_url is not None and enrolment is not None:
                replica.adopt(server_url, enrolment)
        except BaseException:
            await replica.wipe()  # a half set-up device would only confuse the next init
            raise
        await replica.close()
        return replica

    replica = _run(run())
    s = replica.settings
    if app.as_json:
        render.emit_json(
            app.out,
            {
                "ok": True,
                "device_id": s.device_id,
                "officer_id": s.officer_id,
                "station_id": s.station_id,
                "beat_id": s.beat_id,
                "server_url": s.server_url,
                "home": str(app.home),
            },
        )
    else:
        app.out.print(
            f"Ready. Device {s.device_id} for officer {s.officer_id}, station "
            f"{s.station_id}, beat {s.beat_id}. Data folder: {app.home}"
        )


# Wrong officer passwords forgiven at init's prompt (the server's login throttle counts them too).
PASSWORD_TRIES = 3


def _enrol_first(
    server_url: str, officer_id: str, device_name: str, signing_key: Ed25519PrivateKey
) -> Enrolment:
    """Enrol the device's key before its passphrase is chosen, so a wrong password
    is said at once and asked again, not after the passphrase was typed twice."""
    from field_client import remote

    from_env = os.environ.get(PASSWORD_ENV)

    async def attempt(password: str) -> Enrolment | str:
        try:
            return await remote.enrol(
                server_url,
                officer_id=officer_id,
                password=password,
                device_name=device_name,
                public_key=public_key_to_b64(signing_key),
            )
        except Unauthorized as exc:
            return exc.reason

    for tries_left in range(PASSWORD_TRIES - 1, -1, -1):
        password = from_env or click.prompt(
            "Your officer password (used once, to enrol this device)", hide_input=True, err=True
        )
        answer = _run(attempt(password))
        if not isinstance(answer, str):
            return answer
        if from_env or not tries_left:
            _fail(answer)
        click.echo(f"{answer} Try again ({tries_left} left).", err=True)
    raise AssertionError("unreachable: the last try returned or failed")


@cli.command()
@click.option("--server", "server_url", help="BeatSync server URL (default: the current one).")
@click.option(
    "--device-name",
    default=socket.gethostname(),
    show_default=True,
    help="A name for this device that the district office will see.",
)
def enrol(server_url: str | None, device_name: str) -> None:
    """Enrol this device with the server again (after its token expired, or after
    an offline init): asks for your officer password once."""
    app, passphrase = _app(), _checked_passphrase()
    password = os.environ.get(PASSWORD_ENV) or click.prompt(
        "Your officer password (used once, to enrol this device)", hide_input=True, err=True
    )

    async def work(replica: FieldReplica) -> dict[str, Any]:
        url = server_url or replica.settings.server_url
        if url is None:
            url = _ask(None, "BeatSync server URL")
        await replica.enrol(url, password=password, device_name=device_name)
        s = replica.settings
        return {"ok": True, "device_id": s.device_id, "server_url": s.server_url}

    result = _with_replica(work, passphrase)
    if app.as_json:
        render.emit_json(app.out, result)
    else:
        app.out.print(f"Enrolled as device {result['device_id']} with {result['server_url']}.")


# -- status, sync, lock, wipe ------------------------------------------------------


@cli.command()
def status() -> None:
    """What is waiting to be sent, when the last sync was, and any conflicts."""
    result, app = _with_replica(lambda r: r.status()), _app()
    if app.as_json:
        render.emit_json(app.out, result)
    else:
        app.out.print(render.status_table(result))


@cli.command()
@click.option(
    "--url",
    help="Sync with this CouchDB-compatible database URL instead of the enrolled server"
    " (e.g. the station hub: http://user:password@hub:5984/station-x).",
)
def sync(url: str | None) -> None:
    """Send your records to the server and receive the station's (needs a network).

    The bars and the summary count records, as `beatsync status` counts them
    waiting. A sync cut short (no signal) keeps everything; what it sent is no
    longer waiting, and the next sync goes on from there.
    """
    app = _app()
    passphrase = _checked_passphrase()  # asked before the progress bars take the terminal
    with _progress_bar(app) as bar:
        tasks = {
            "push": bar.add_task("Sending  ", total=None),
            "pull": bar.add_task("Receiving", total=None),
        }

        sent = {"push": 0, "pull": 0}

        def on_progress(progress: SyncProgress) -> None:
            # Records, as `status` counts them waiting: never documents or changes.
            sent[progress.direction] = progress.records
            bar.update(tasks[progress.direction], completed=progress.records, total=progress.total)

        async def work(replica: FieldReplica) -> SyncReport:
            from sync.http import HttpDatabase

            try:
                if url is None:
                    return await replica.sync(on_progress=on_progress)
                async with HttpDatabase(url, compress_requests=True) as remote:
                    return await replica.sync(remote, on_progress=on_progress)
            except Offline as exc:
                # Cut short: say exactly where it stopped, in the count `status` uses.
                waiting = (await replica.status()).pending_records
                raise Offline(
                    f"{exc.reason} Sent before the link dropped: {sent['push']} record(s),"
                    f" received {sent['pull']}; still waiting to be sent: {waiting}."
                ) from None

        report = _with_replica(work, passphrase)
        for direction, done in (("push", report.pushed), ("pull", report.pulled)):
            bar.update(tasks[direction], total=done, completed=done)
    if app.as_json:
        render.emit_json(app.out, report)
    else:
        app.out.print(render.sync_summary(report))
    if report.refused:
        sys.exit(EXIT_ERROR)


@cli.command()
def lock() -> None:
    """Lock BeatSync on this device.

    Nothing stays unlocked between commands: each asks for the passphrase and
    forgets the key when it ends. This command also reminds you to clear a
    passphrase kept in BEATSYNC_PASSPHRASE.
    """
    app = _app()
    message = "Locked: BeatSync keeps no key between commands."
    if PASSPHRASE_ENV in os.environ:
        message += f" Your shell still holds the passphrase: run `unset {PASSPHRASE_ENV}`."
    if app.as_json:
        render.emit_json(app.out, {"ok": True, "passphrase_in_env": PASSPHRASE_ENV in os.environ})
    else:
        app.out.print(message)


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def wipe(yes: bool) -> None:
    """Destroy this device's keys and data for good (when handing the device in).

    Records not yet synced are lost. No passphrase is needed, so a lost or
    revoked device can always be wiped.
    """
    app = _app()
    if not yes:
        click.confirm(
            "Destroy all BeatSync data on this device? Unsynced records are lost",
            abort=True,
            err=True,
        )
    wipe_replica(app.home)
    if app.as_json:
        render.emit_json(app.out, {"ok": True, "wiped": str(app.home)})
    else:
        app.out.print("Wiped: the keys are destroyed; nothing on this device can be opened again.")


@cli.command()
def passphrase() -> None:
    """Change the passphrase (the records are not re-encrypted, only the key)."""
    app = _app()
    old = _passphrase(prompt="Current passphrase")
    new = _passphrase(confirm=True, prompt="New passphrase", env="BEATSYNC_NEW_PASSPHRASE")

    async def run() -> None:
        change_passphrase(app.home, old, new)

    _run(run())
    if app.as_json:
        render.emit_json(app.out, {"ok": True})
    else:
        app.out.print("Passphrase changed.")


cli.add_command(ui)


def main() -> None:
    cli(prog_name="beatsync")
