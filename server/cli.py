"""``beatsync-server``: run the sync gateway and administer its district.

A thin click layer over :mod:`server.policy.admin` and :mod:`server.gateway.app`. Every
command takes ``--data DIR`` (default ``./beatsync-data``, or the
``BEATSYNC_DATA`` environment variable): the folder holding the gateway's
identities, audit log and station databases.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from schemas.identity import Role, check_slug
from server.config import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_DATA_DIR,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_MIN_BODY_BYTES_PER_S,
    DEFAULT_TOKEN_DAYS,
    GatewayConfig,
)
from server.gateway.app import open_state
from server.gateway.run import serve_until_signalled
from server.logs import configure_logging
from server.policy import admin
from server.policy.district import DistrictSettings
from server.portal.commands import keys_commands, portal_commands
from server.portal.demo import provision_demo_portal
from server.site import create_site
from server.state.data_key import is_sealed, unlock_data_key
from server.state.interface import GatewayState
from sync.codec import BodyCodec
from sync.errors import CouchError, PeerUnreachable, TooManyRequests

__all__ = ["main"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
COUCHDB_ENV = "BEATSYNC_COUCHDB"
DATA_PASSPHRASE_ENV = "BEATSYNC_DATA_PASSPHRASE"
_data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    envvar="BEATSYNC_DATA",
    show_default=True,
    help="Folder holding the gateway's identities, audit log and station databases.",
)


def _couchdb_env() -> str | None:
    # Admin commands act on the central CouchDB when the gateway runs over one.
    return os.environ.get(COUCHDB_ENV) or None


def _with_state(
    data_dir: Path,
    action: Callable[[GatewayState], Awaitable[T]],
    *,
    at_rest: BodyCodec | None = None,
) -> T:
    """Run one admin action against the data folder; errors become a clear message.
    ``at_rest`` opens sealed audited bodies (only ``audit verify`` reads them)."""

    async def run() -> T:
        config = GatewayConfig(data_dir=data_dir, couchdb_url=_couchdb_env(), at_rest=at_rest)
        state = await open_state(config)
        try:
            return await action(state)
        finally:
            await state.close()

    return _run(run())


def _unlock(data_dir: Path, key_file: Path | None, *, seal: bool) -> BodyCodec | None:
    """The data key of a sealed folder (or of a new one when ``seal``); ``None`` for
    a folder in the clear. Asks for the passphrase (hidden) unless ``key_file`` or
    BEATSYNC_DATA_PASSPHRASE gives it; the key stays in this process's memory."""
    sealed = is_sealed(data_dir)
    if not (seal or sealed):
        return None
    try:
        if key_file is not None:
            return unlock_data_key(data_dir, key_file=key_file)
        passphrase = os.environ.get(DATA_PASSPHRASE_ENV) or click.prompt(
            "Passphrase of this data folder" if sealed else "Choose a passphrase for this data",
            hide_input=True,
            confirmation_prompt=not sealed,
            err=True,
        )
        return unlock_data_key(data_dir, passphrase=passphrase)
    except CouchError as exc:
        raise click.ClickException(exc.reason) from None


_key_file_option = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="BEATSYNC_KEY_FILE",
    help="Unlock the data with this key file (made on first use; keep it off this disk) "
    "instead of a passphrase (asked for, or BEATSYNC_DATA_PASSPHRASE).",
)


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run one command's work; a refusal (CouchError) becomes a clear message."""
    try:
        return asyncio.run(work)
    except CouchError as exc:
        raise click.ClickException(exc.reason) from None


def _slug(what: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback: the value (or each of them) must be a slug (station/beat ids)."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        for one in value if isinstance(value, tuple) else [value]:
            try:
                check_slug(one, what)
            except CouchError as exc:
                raise click.BadParameter(exc.reason) from None
        return value

    return check


def _status(revoked: bool) -> str:
    return "REVOKED" if revoked else "active"


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


def _new_password(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if value is not None:
        return value
    return str(click.prompt("New password", hide_input=True, confirmation_prompt=True))


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """BeatSync sync gateway: the server every device syncs with.

    With no command it runs the gateway on ./beatsync-data (same as `serve`).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


def _positive_option(flag: str, default: float, help_text: str) -> Callable[[F], F]:
    """A ``serve`` setting that is a positive number (days, seconds, bytes per second)."""
    return click.option(
        flag,
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=True,
        help=help_text,
    )


@main.command()
@_data_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 for the station LAN).",
)
@click.option("--port", default=5984, show_default=True, help="TCP port (CouchDB's is 5984).")
@click.option(
    "--demo",
    is_flag=True,
    help=f"Provision a demo district first: stations kotwali, sadar, rampur with two "
    f"beats each; officers central, admin, sho-<station>, bo-<beat>; every "
    f"password is {admin.DEMO_PASSWORD}.",
)
@click.option(
    "--couchdb",
    "couchdb_url",
    envvar=COUCHDB_ENV,
    help="Keep station databases, identities and audit in this central CouchDB "
    "(credentials in the URL or BEATSYNC_COUCHDB_USER/_PASSWORD; never logged).",
)
@_positive_option(
    "--token-days",
    DEFAULT_TOKEN_DAYS,
    "Device tokens expire this many days after enrolment; the device then enrols "
    "again with the officer's password (beatsync enrol).",
)
@_positive_option(
    "--header-timeout",
    DEFAULT_HEADER_TIMEOUT_S,
    "Seconds a connection has to send a request's headers (after it opens or "
    "goes idle) before it is closed.",
)
@_positive_option(
    "--body-timeout",
    DEFAULT_BODY_TIMEOUT_S,
    "Longest pause in a request body, and the grace before --min-body-rate "
    "applies; slower bodies get 408.",
)
@_positive_option(
    "--min-body-rate",
    DEFAULT_MIN_BODY_BYTES_PER_S,
    "Bytes per second a request body must average after --body-timeout.",
)
@click.option(
    "--merge/--no-merge",
    default=True,
    show_default=True,
    help="Merge conflicting edits in the background where the record type allows, and "
    "queue the rest for the central office (a station hub never merges: see server/README).",
)
@click.option("--hub", is_flag=True, help="Run as a station hub (needs --station, --upstream).")
@click.option("--station", "hub_station", help="The hub's station id.")
@click.option("--upstream", help="The district gateway the hub relays to, e.g. https://host:5984.")
@click.option(
    "--encrypt-at-rest",
    is_flag=True,
    help="Seal the embedded stores' records, photos and audited bodies (AES-256-GCM) in a "
    "new data folder; off by default, for disks already encrypted. A station hub, and a "
    "folder sealed before, always are.",
)
@_key_file_option
def serve(
    data_dir: Path = DEFAULT_DATA_DIR,
    host: str = "127.0.0.1",
    port: int = 5984,
    demo: bool = False,
    couchdb_url: str | None = None,
    token_days: float = DEFAULT_TOKEN_DAYS,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT_S,
    body_timeout: float = DEFAULT_BODY_TIMEOUT_S,
    min_body_rate: float = DEFAULT_MIN_BODY_BYTES_PER_S,
    merge: bool = True,
    hub: bool = False,
    hub_station: str | None = None,
    upstream: str | None = None,
    encrypt_at_rest: bool = False,
    key_file: Path | None = None,
) -> None:
    """Run the gateway. Stop it with Ctrl-C or SIGTERM: requests in flight finish first."""
    configure_logging()
    if couchdb_url and (encrypt_at_rest or key_file):
        raise click.UsageError(
            "--encrypt-at-rest seals the embedded store; with --couchdb, encrypt the CouchDB"
            " nodes' disks."
        )
    at_rest = None if couchdb_url else _unlock(data_dir, key_file, seal=encrypt_at_rest or hub)
    config = GatewayConfig(
        data_dir=data_dir,
        couchdb_url=couchdb_url or None,
        token_days=token_days,
        at_rest=at_rest,
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        min_body_bytes_per_s=min_body_rate,
        # A hub's merges would be refused at the district (unsigned, not by
        # the edits' authors); the district merges what the hub relays.
        merge_conflicts=merge and not hub,
    )
    if demo and couchdb_url:
        raise click.UsageError(
            "--demo fills the embedded store; with --couchdb, run `couch bootstrap` and "
            "add stations and officers with BEATSYNC_COUCHDB set."
        )
    if hub:
        from server.hub.app import create_hub_app

        if not hub_station or not upstream or couchdb_url:
            raise click.UsageError("--hub needs --station and --upstream, and no --couchdb.")
        try:
            app = create_hub_app(config, hub_station, upstream)
        except CouchError as exc:  # no hub.json, or another station's
            raise click.ClickException(exc.reason) from None
    else:
        app = create_site(config)
    if demo:
        district = _with_state(data_dir, admin.provision_demo)
        _with_state(data_dir, lambda state: provision_demo_portal(state, data_dir))
        click.echo(f"Demo district ready; every password is {district.password}", err=True)
    # On SIGINT/SIGTERM: stop accepting, let in-flight requests finish, then
    # cleanup_ctx closes the stores; exit status 0 (see server.gateway.run).
    serve_until_signalled(app, host=host, port=port, shutdown_timeout=30)


@main.group()
def station() -> None:
    """Police stations: each has its own database, station-<id>."""


@station.command("add")
@_data_option
@click.argument("station_id", callback=_slug("station id"))
@click.option("--name", required=True, help="Full name, e.g. 'Kotwali police station'.")
@click.option(
    "--beat-scoped",
    is_flag=True,
    help="Beat officers of this station sync only their own beat's records.",
)
def station_add(data_dir: Path, station_id: str, name: str, beat_scoped: bool) -> None:
    """Add a station. STATION_ID: lowercase letters, digits and dashes, e.g. kotwali."""
    _with_state(data_dir, lambda s: s.add_station(station_id, name, beat_scoped=beat_scoped))
    click.echo(f"Added station {station_id} (database station-{station_id}).")


@station.command("policy")
@_data_option
@click.argument("station_id")
@click.option(
    "--beat-scoped/--whole-station",
    required=True,
    help="Whether beat officers sync only their own beat's records.",
)
def station_policy(data_dir: Path, station_id: str, beat_scoped: bool) -> None:
    """Change a station's sync policy."""
    _with_state(data_dir, lambda s: s.set_beat_scoped(station_id, beat_scoped))
    click.echo(
        f"Station {station_id}: beat officers sync "
        + ("only their own beat." if beat_scoped else "the whole station.")
    )


@station.command("list")
@_data_option
def station_list(data_dir: Path) -> None:
    """List stations."""
    stations = _with_state(data_dir, lambda s: s.list_stations())
    _table(
        "Stations",
        ["id", "name", "beat-scoped"],
        [[s.id, s.name, "yes" if s.beat_scoped else "no"] for s in stations],
    )


@main.group()
def beat() -> None:
    """Beats: the areas of a station that beat officers patrol."""


@beat.command("add")
@_data_option
@click.argument("station_id")
@click.argument("beat_id", callback=_slug("beat id"))
@click.option("--name", required=True, help="Full name of the beat.")
def beat_add(data_dir: Path, station_id: str, beat_id: str, name: str) -> None:
    """Add beat BEAT_ID (lowercase letters, digits, dashes) to station STATION_ID."""
    _with_state(data_dir, lambda s: s.add_beat(station_id, beat_id, name))
    click.echo(f"Added beat {beat_id} to station {station_id}.")


@beat.command("list")
@_data_option
@click.option("--station", "station_id", help="Only this station's beats.")
def beat_list(data_dir: Path, station_id: str | None) -> None:
    """List beats."""
    beats = _with_state(data_dir, lambda s: s.list_beats(station_id))
    _table("Beats", ["station", "id", "name"], [[b.station_id, b.id, b.name] for b in beats])


@main.group()
def officer() -> None:
    """Officer accounts: who may sign in and sync."""


@officer.command("add")
@_data_option
@click.argument("officer_id")
@click.option("--name", required=True, help="The officer's full name.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="beat_officer and station_officer belong to a station; central_office "
    "reads every station; admin manages accounts.",
)
@click.option("--station", "station_id", help="Station of a beat or station officer.")
@click.option("--beat", "beat_id", help="Beat of a beat officer.")
@click.option(
    "--password",
    callback=_new_password,
    help="Initial password (asked for, hidden, when not given).",
)
def officer_add(
    data_dir: Path,
    officer_id: str,
    name: str,
    role: str,
    station_id: str | None,
    beat_id: str | None,
    password: str,
) -> None:
    """Add an officer. OFFICER_ID: lowercase letters, digits, '.', '_' or '-'."""
    _with_state(
        data_dir,
        lambda s: admin.add_officer(
            s, officer_id, name, Role(role), password, station_id=station_id, beat_id=beat_id
        ),
    )
    click.echo(f"Added {role} {officer_id}.")


@officer.command("list")
@_data_option
@click.option("--station", "station_id", help="Only this station's officers.")
def officer_list(data_dir: Path, station_id: str | None) -> None:
    """List officers."""
    officers = _with_state(data_dir, lambda s: s.list_officers(station_id))
    _table(
        "Officers",
        ["id", "name", "role", "station", "beat", "status"],
        [
            [
                o.id,
                o.name,
                o.role.value,
                o.station_id,
                o.beat_id,
                _status(o.revoked),
            ]
            for o in officers
        ],
    )


@officer.command("reset-password")
@_data_option
@click.argument("officer_id")
@click.option(
    "--password", callback=_new_password, help="New password (asked for, hidden, when not given)."
)
def officer_reset_password(data_dir: Path, officer_id: str, password: str) -> None:
    """Set a new password; the old one stops working at once. Devices keep their tokens."""
    _with_state(data_dir, lambda s: admin.reset_password(s, officer_id, password))
    click.echo(f"Password of {officer_id} changed.")


@officer.command("revoke")
@_data_option
@click.argument("officer_id")
@click.confirmation_option(prompt="Revoke this officer and all their devices?")
def officer_revoke(data_dir: Path, officer_id: str) -> None:
    """Revoke an officer: their password and every device they enrolled stop working."""
    _with_state(data_dir, lambda s: s.revoke_officer(officer_id))
    click.echo(f"Revoked {officer_id}; their devices will wipe their data at next contact.")


@main.group()
def device() -> None:
    """Enrolled devices (laptops, tablets, station PCs)."""


@device.command("list")
@_data_option
@click.option("--officer", "officer_id", help="Only this officer's devices.")
def device_list(data_dir: Path, officer_id: str | None) -> None:
    """List devices with their last sync."""
    devices = _with_state(data_dir, lambda s: s.list_devices(officer_id))
    _table(
        "Devices",
        ["id", "officer", "name", "enrolled", "last seen", "pulled up to", "status"],
        [
            [
                d.id,
                d.officer_id,
                d.name,
                d.enrolled_at,
                d.last_seen,
                d.last_seq,
                _status(d.revoked),
            ]
            for d in devices
        ],
    )


@device.command("revoke")
@_data_option
@click.argument("device_id")
@click.confirmation_option(prompt="Revoke this device? It will wipe its local data.")
def device_revoke(data_dir: Path, device_id: str) -> None:
    """Revoke a lost or stolen device: refused at its next request and told to wipe."""
    _with_state(data_dir, lambda s: s.revoke_device(device_id))
    click.echo(f"Revoked {device_id}.")


@main.group()
def district() -> None:
    """District-wide settings."""


@district.command("unsigned-writes")
@_data_option
@click.argument("policy", type=click.Choice(["accept", "refuse"]))
def district_unsigned(data_dir: Path, policy: str) -> None:
    """Accept (marked unsigned in the audit log) or refuse writes by stock CouchDB clients."""
    _with_state(
        data_dir,
        lambda s: DistrictSettings(s).set_refuse_unsigned(policy == "refuse"),
    )
    click.echo(f"Unsigned writes: {policy}.")


@main.group()
def couch() -> None:
    """The central CouchDB behind `serve --couchdb`."""


@couch.command("bootstrap")
@click.option(
    "--couchdb",
    "couchdb_url",
    envvar=COUCHDB_ENV,
    required=True,
    help="CouchDB URL with a server admin's credentials (or BEATSYNC_COUCHDB_USER/_PASSWORD).",
)
@click.option(
    "--gateway-user",
    help="The CouchDB user the gateways log in as (default: the URL's user).",
)
@click.option(
    "--gateway-password",
    envvar="BEATSYNC_COUCHDB_GATEWAY_PASSWORD",
    help="Create the gateway user's CouchDB account with this password when it is "
    "missing (or BEATSYNC_COUCHDB_GATEWAY_PASSWORD).",
)
@click.option(
    "--station",
    "stations",
    multiple=True,
    callback=_slug("station id"),
    help="Also provision this station's database (repeatable); stations already "
    "in beatsync-identities are always provisioned.",
)
@click.option(
    "--replication-url",
    help="CouchDB's URL as CouchDB itself reaches it, for the fan-in replications "
    "(default: --couchdb).",
)
def couch_bootstrap(
    couchdb_url: str,
    gateway_user: str | None,
    gateway_password: str | None,
    stations: tuple[str, ...],
    replication_url: str | None,
) -> None:
    """Create databases, _security, indexes and fan-in replications (idempotent).

    Run it once before the first `serve --couchdb`, and again after adding
    stations. Unlike the other commands it takes no --data folder.
    """
    from server.couch.bootstrap import bootstrap

    try:
        report = bootstrap(
            couchdb_url,
            gateway_user=gateway_user,
            gateway_password=gateway_password,
            stations=stations,
            replication_url=replication_url,
        )
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for what in report.created:
        click.echo(f"created  {what}")
    for what in report.updated:
        click.echo(f"updated  {what}")
    click.echo(f"{len(report.unchanged)} item(s) already as wanted.")


@main.group()
def hub() -> None:
    """Station hubs: a station PC that serves its officers offline and relays to the district."""


@hub.command("enrol")
@_data_option
@click.option("--upstream", required=True, help="The district gateway, e.g. https://host:5984.")
@click.option("--officer", "officer_id", required=True, help="A station officer of this station.")
@click.option("--password", prompt="Officer's password", hide_input=True, help="Asked for, hidden.")
def hub_enrol(data_dir: Path, upstream: str, officer_id: str, password: str) -> None:
    """On the station PC: enrol it at the district; saves DATA/hub.json (owner-only)."""
    from server.hub.enrolment import HubCredential, enrol_hub

    async def work() -> HubCredential:
        try:
            return await enrol_hub(data_dir, upstream, officer_id, password)
        except PeerUnreachable as exc:
            raise click.ClickException(
                f"Could not reach the district gateway at {exc.url or upstream} to enrol this"
                f" hub ({exc.detail}). Check the --upstream address, this PC's network"
                " connection, and that the central server is running; then run"
                " `beatsync-server hub enrol` again. Nothing was saved."
            ) from None
        except TooManyRequests as exc:
            raise click.ClickException(
                "The district gateway is slowing password logins for this officer or from"
                f" this address; try again in {max(1, round(exc.retry_after))} seconds."
                " Nothing was saved."
            ) from None

    credential = _run(work())
    click.echo(
        f"Enrolled hub device {credential.device_id} for station {credential.station_id}; "
        f"ask the district to run: beatsync-server hub authorise {credential.device_id}"
    )


@hub.command("authorise")
@_data_option
@click.argument("device_id")
def hub_authorise(data_dir: Path, device_id: str) -> None:
    """At the district: let DEVICE_ID fetch its station's identities as the station hub."""
    from server.hub.enrolment import authorise_hub

    station_id = _with_state(data_dir, lambda s: authorise_hub(s, s, device_id))
    click.echo(f"Device {device_id} is now the hub of station {station_id}.")


@main.group()
def audit() -> None:
    """The audit log of accepted writes: check that nobody changed it."""


@audit.command("verify")
@_data_option
@_key_file_option
def audit_verify(data_dir: Path, key_file: Path | None) -> None:
    """Walk the audit log's hash chains and report any deleted, edited, forged or
    forked entry. Exit status 1 if anything is wrong.

    Works on the embedded state (--data) and on a central CouchDB
    (BEATSYNC_COUCHDB). Note each chain's length and head: deleting the newest
    entries of a chain leaves no gap, so compare with an earlier run.
    """
    from server.state.audit_verify import verify_audit

    def progress(count: int) -> None:
        click.echo(f"  ... {count} entries read", err=True)

    at_rest = None if _couchdb_env() else _unlock(data_dir, key_file, seal=False)
    report = _with_state(data_dir, lambda s: verify_audit(s, progress), at_rest=at_rest)
    for chain, (length, head) in sorted(report.chains.items()):
        click.echo(f"chain {chain}: {length} entries, head {head}")
    if report.unchained:
        click.echo(f"{report.unchained} entries from before the chain (not verifiable)")
    if report.intact:
        click.echo("The audit log is intact.")
        return
    for problem in report.problems:
        where = f"{problem.where} (chain {problem.chain})" if problem.chain else problem.where
        click.echo(f"PROBLEM {where}: {problem.reason}")
    raise click.ClickException(
        f"{len(report.problems)} problem(s) in the audit log. Keep this output and the"
        " data folder (or the CouchDB audit database) as they are, and report to the"
        " district IT cell: the log may have been tampered with."
    )


main.add_command(portal_commands(_with_state, _data_option))
main.add_command(keys_commands(_with_state, _data_option))
