"""``beatsync-server``: run the sync gateway and administer its district.

A thin click layer over :mod:`server.policy.admin` and :mod:`server.gateway.app`. Every
command takes ``--data DIR`` (default ``./beatsync-data``, or the
``BEATSYNC_DATA`` environment variable): the folder holding the gateway's
identities, audit log and station databases.
"""

from __future__ import annotations

from pathlib import Path

import click

from server.cli_admin import IDENTITY_GROUPS
from server.cli_support import (
    COUCHDB_ENV,
    couchdb_env,
    data_option,
    key_file_option,
    positive_option,
    run,
    slug,
    unlock,
    with_state,
)
from server.config import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_DATA_DIR,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_MIN_BODY_BYTES_PER_S,
    DEFAULT_TOKEN_DAYS,
    GatewayConfig,
)
from server.gateway.forwarded import parse_networks
from server.logs import configure_logging
from server.policy import admin
from server.portal.commands import keys_commands, portal_commands
from sync.errors import CouchError, PeerUnreachable, TooManyRequests

__all__ = ["main"]


def _proxies(values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        parse_networks(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return values


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """BeatSync sync gateway: the server every device syncs with.

    With no command it runs the gateway on ./beatsync-data (same as `serve`).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@data_option
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
@positive_option(
    "--token-days",
    DEFAULT_TOKEN_DAYS,
    "Device tokens expire this many days after enrolment; the device then enrols "
    "again with the officer's password (beatsync enrol).",
)
@positive_option(
    "--header-timeout",
    DEFAULT_HEADER_TIMEOUT_S,
    "Seconds a connection has to send a request's headers (after it opens or "
    "goes idle) before it is closed.",
)
@positive_option(
    "--body-timeout",
    DEFAULT_BODY_TIMEOUT_S,
    "Longest pause in a request body, and the grace before --min-body-rate "
    "applies; slower bodies get 408.",
)
@positive_option(
    "--min-body-rate",
    DEFAULT_MIN_BODY_BYTES_PER_S,
    "Bytes per second a request body must average after --body-timeout.",
)
@click.option(
    "--merge/--no-merge",
    default=True,
    show_default=True,
    help="Merge conflicting edits in the background where the record type allows, and "
    "queue the rest for the central office (a station hub leaves the rest in conflict for "
    "the district to queue: see server/README).",
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
@key_file_option
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="ADDR[/BITS]",
    callback=lambda _ctx, _param, values: _proxies(values),
    help="A proxy or load balancer in front of the gateway: an address or a network, "
    "repeatable. Its X-Forwarded-For names the client for login throttling, fair sharing "
    "and the access log; from anyone else that header is ignored (clients can forge it).",
)
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
    trusted_proxies: tuple[str, ...] = (),
) -> None:
    """Run the gateway. Stop it with Ctrl-C or SIGTERM: requests in flight finish first."""
    # The web stack (aiohttp, the pages) is loaded by serve only, not by --help.
    from server.gateway.run import serve_until_signalled
    from server.portal.demo import provision_demo_portal
    from server.site import create_site

    configure_logging()
    if couchdb_url and (encrypt_at_rest or key_file):
        raise click.UsageError(
            "--encrypt-at-rest seals the embedded store; with --couchdb, encrypt the CouchDB"
            " nodes' disks."
        )
    at_rest = None if couchdb_url else unlock(data_dir, key_file, seal=encrypt_at_rest or hub)
    config = GatewayConfig(
        data_dir=data_dir,
        couchdb_url=couchdb_url or None,
        token_days=token_days,
        at_rest=at_rest,
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        min_body_bytes_per_s=min_body_rate,
        trusted_proxies=trusted_proxies,
        # A hub merges as its own job (HubOptions.merge), without a queue.
        merge_conflicts=merge and not hub,
    )
    if demo and couchdb_url:
        raise click.UsageError(
            "--demo fills the embedded store; with --couchdb, run `couch bootstrap` and "
            "add stations and officers with BEATSYNC_COUCHDB set."
        )
    if hub:
        from server.hub.app import HubOptions, create_hub_app

        if not hub_station or not upstream or couchdb_url:
            raise click.UsageError("--hub needs --station and --upstream, and no --couchdb.")
        try:
            app = create_hub_app(config, hub_station, upstream, options=HubOptions(merge=merge))
        except CouchError as exc:  # no hub.json, or another station's
            raise click.ClickException(exc.reason) from None
    else:
        app = create_site(config)
    if demo:
        district = with_state(data_dir, admin.provision_demo)
        with_state(data_dir, lambda state: provision_demo_portal(state, data_dir))
        click.echo(f"Demo district ready; every password is {district.password}", err=True)
        click.echo(
            f"Office: http://{host}:{port}/office/ (log in as central, or sho-kotwali for "
            f"one station); portal: http://{host}:{port}/portal/",
            err=True,
        )

    # On SIGINT/SIGTERM: stop accepting, let in-flight requests finish, then
    # cleanup_ctx closes the stores; exit status 0 (see server.gateway.run).
    def announce(url: str) -> None:
        # stderr, like the demo line: stdout stays free for scripts.
        store = couchdb_url.split("@")[-1] if couchdb_url else None
        where = f"CouchDB at {store}" if store else f"data folder {data_dir.resolve()}"
        click.echo(f"Listening on {url} ({where}); stop with Ctrl-C.", err=True)

    serve_until_signalled(app, host=host, port=port, shutdown_timeout=30, announce=announce)


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
    callback=slug("station id"),
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
@data_option
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

    credential = run(work())
    click.echo(
        f"Enrolled hub device {credential.device_id} for station {credential.station_id}; "
        f"ask the district to run: beatsync-server hub authorise {credential.device_id}"
    )


@hub.command("authorise")
@data_option
@click.argument("device_id")
def hub_authorise(data_dir: Path, device_id: str) -> None:
    """At the district: let DEVICE_ID fetch its station's identities as the station hub."""
    from server.hub.enrolment import authorise_hub

    station_id = with_state(data_dir, lambda s: authorise_hub(s, s, device_id))
    click.echo(f"Device {device_id} is now the hub of station {station_id}.")


@main.group()
def audit() -> None:
    """The audit log of accepted writes: check that nobody changed it."""


@audit.command("verify")
@data_option
@key_file_option
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

    at_rest = None if couchdb_env() else unlock(data_dir, key_file, seal=False)
    report = with_state(data_dir, lambda s: verify_audit(s, progress), at_rest=at_rest)
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


for group in IDENTITY_GROUPS:
    main.add_command(group)
main.add_command(portal_commands(with_state, data_option))
main.add_command(keys_commands(with_state, data_option))
