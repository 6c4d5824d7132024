"""``beatsync-server`` commands that administer the district's identities:
stations, beats, officers, devices and district-wide settings."""

from __future__ import annotations

from pathlib import Path

import click

from schemas.identity import Role
from server.cli_support import (
    data_option,
    new_password,
    slug,
    status_word,
    table,
    with_state,
)
from server.policy import admin
from server.policy.district import DistrictSettings

__all__ = ["IDENTITY_GROUPS"]


@click.group()
def station() -> None:
    """Police stations: each has its own database, station-<id>."""


@station.command("add")
@data_option
@click.argument("station_id", callback=slug("station id"))
@click.option("--name", required=True, help="Full name, e.g. 'Kotwali police station'.")
@click.option(
    "--beat-scoped",
    is_flag=True,
    help="Beat officers of this station sync only their own beat's records.",
)
def station_add(data_dir: Path, station_id: str, name: str, beat_scoped: bool) -> None:
    """Add a station. STATION_ID: lowercase letters, digits and dashes, e.g. kotwali."""
    with_state(data_dir, lambda s: s.add_station(station_id, name, beat_scoped=beat_scoped))
    click.echo(f"Added station {station_id} (database station-{station_id}).")


@station.command("policy")
@data_option
@click.argument("station_id")
@click.option(
    "--beat-scoped/--whole-station",
    required=True,
    help="Whether beat officers sync only their own beat's records.",
)
def station_policy(data_dir: Path, station_id: str, beat_scoped: bool) -> None:
    """Change a station's sync policy."""
    with_state(data_dir, lambda s: s.set_beat_scoped(station_id, beat_scoped))
    click.echo(
        f"Station {station_id}: beat officers sync "
        + ("only their own beat." if beat_scoped else "the whole station.")
    )


@station.command("list")
@data_option
def station_list(data_dir: Path) -> None:
    """List stations."""
    stations = with_state(data_dir, lambda s: s.list_stations())
    table(
        "Stations",
        ["id", "name", "beat-scoped"],
        [[s.id, s.name, "yes" if s.beat_scoped else "no"] for s in stations],
    )


@click.group()
def beat() -> None:
    """Beats: the areas of a station that beat officers patrol."""


@beat.command("add")
@data_option
@click.argument("station_id")
@click.argument("beat_id", callback=slug("beat id"))
@click.option("--name", required=True, help="Full name of the beat.")
def beat_add(data_dir: Path, station_id: str, beat_id: str, name: str) -> None:
    """Add beat BEAT_ID (lowercase letters, digits, dashes) to station STATION_ID."""
    with_state(data_dir, lambda s: s.add_beat(station_id, beat_id, name))
    click.echo(f"Added beat {beat_id} to station {station_id}.")


@beat.command("list")
@data_option
@click.option("--station", "station_id", help="Only this station's beats.")
def beat_list(data_dir: Path, station_id: str | None) -> None:
    """List beats."""
    beats = with_state(data_dir, lambda s: s.list_beats(station_id))
    table("Beats", ["station", "id", "name"], [[b.station_id, b.id, b.name] for b in beats])


@click.group()
def officer() -> None:
    """Officer accounts: who may sign in and sync."""


@officer.command("add")
@data_option
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
    callback=new_password,
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
    with_state(
        data_dir,
        lambda s: admin.add_officer(
            s, officer_id, name, Role(role), password, station_id=station_id, beat_id=beat_id
        ),
    )
    click.echo(f"Added {role} {officer_id}.")


@officer.command("list")
@data_option
@click.option("--station", "station_id", help="Only this station's officers.")
def officer_list(data_dir: Path, station_id: str | None) -> None:
    """List officers."""
    officers = with_state(data_dir, lambda s: s.list_officers(station_id))
    table(
        "Officers",
        ["id", "name", "role", "station", "beat", "status"],
        [
            [
                o.id,
                o.name,
                o.role.value,
                o.station_id,
                o.beat_id,
                status_word(o.revoked),
            ]
            for o in officers
        ],
        whole=("id",),
    )


@officer.command("reset-password")
@data_option
@click.argument("officer_id")
@click.option(
    "--password", callback=new_password, help="New password (asked for, hidden, when not given)."
)
def officer_reset_password(data_dir: Path, officer_id: str, password: str) -> None:
    """Set a new password; the old one stops working at once. Devices keep their tokens."""
    with_state(data_dir, lambda s: admin.reset_password(s, officer_id, password))
    click.echo(f"Password of {officer_id} changed.")


@officer.command("revoke")
@data_option
@click.argument("officer_id")
@click.confirmation_option(prompt="Revoke this officer and all their devices?")
def officer_revoke(data_dir: Path, officer_id: str) -> None:
    """Revoke an officer: their password and every device they enrolled stop working."""
    with_state(data_dir, lambda s: s.revoke_officer(officer_id))
    click.echo(f"Revoked {officer_id}; their devices will wipe their data at next contact.")


@click.group()
def device() -> None:
    """Enrolled devices (laptops, tablets, station PCs)."""


@device.command("list")
@data_option
@click.option("--officer", "officer_id", help="Only this officer's devices.")
def device_list(data_dir: Path, officer_id: str | None) -> None:
    """List devices with their last sync."""
    devices = with_state(data_dir, lambda s: s.list_devices(officer_id))
    table(
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
                status_word(d.revoked),
            ]
            for d in devices
        ],
    )


@device.command("revoke")
@data_option
@click.argument("device_id")
@click.confirmation_option(prompt="Revoke this device? It will wipe its local data.")
def device_revoke(data_dir: Path, device_id: str) -> None:
    """Revoke a lost or stolen device: refused at its next request and told to wipe."""
    with_state(data_dir, lambda s: s.revoke_device(device_id))
    click.echo(f"Revoked {device_id}.")


@click.group()
def district() -> None:
    """District-wide settings."""


@district.command("unsigned-writes")
@data_option
@click.argument("policy", type=click.Choice(["accept", "refuse"]))
def district_unsigned(data_dir: Path, policy: str) -> None:
    """Accept (marked unsigned in the audit log) or refuse writes by stock CouchDB clients."""
    with_state(
        data_dir,
        lambda s: DistrictSettings(s).set_refuse_unsigned(policy == "refuse"),
    )
    click.echo(f"Unsigned writes: {policy}.")


# Mounted on ``beatsync-server`` by :mod:`server.cli`.
IDENTITY_GROUPS = (
    station,
    beat,
    officer,
    device,
    district,
)
