"""``beatsync-server portal ...``: the admin's side of the portal (localities,
station addresses, officers' meeting hours and holidays). A thin click layer
over :mod:`server.portal.directory`; ``server.cli`` mounts it and lends it
its way of opening the gateway's state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from server.portal.directory import (
    Locality,
    Schedule,
    add_locality,
    load_localities,
    load_schedules,
    remove_locality,
    save_schedule,
    set_station_address,
)
from server.portal.district_keys import (
    PublishedKey,
    create_key,
    published_keys,
    revoke_certificate,
)
from server.state.interface import GatewayState

__all__ = ["keys_commands", "portal_commands"]

WithState = Callable[[Path, Callable[[GatewayState], Awaitable[Any]]], Any]
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _hours(spans: tuple[str, ...]) -> dict[str, list[str]]:
    hours: dict[str, list[str]] = {}
    for span in spans:
        day, _, times = span.partition("=")
        hours.setdefault(day.strip().lower(), []).append(times.strip())
    return hours


def portal_commands(with_state: WithState, data_option: Decorator) -> click.Group:
    @click.group()
    def portal() -> None:
        """The citizen portal's localities, addresses and meeting hours."""

    @portal.command("locality-add")
    @data_option
    @click.argument("name")
    @click.option("--station", "station_id", required=True)
    @click.option("--beat", "beat_id", required=True)
    def locality_add(data_dir: Path, name: str, station_id: str, beat_id: str) -> None:
        """Send the complaints and certificate requests of NAME to this beat."""
        with_state(data_dir, lambda s: add_locality(s, Locality(name, station_id, beat_id)))
        click.echo(f"Locality {name!r}: station {station_id}, beat {beat_id}")

    @portal.command("locality-remove")
    @data_option
    @click.argument("name")
    def locality_remove(data_dir: Path, name: str) -> None:
        """Stop offering the locality NAME."""
        with_state(data_dir, lambda s: remove_locality(s, name))
        click.echo(f"Locality {name!r} removed")

    @portal.command("locality-list")
    @data_option
    def locality_list(data_dir: Path) -> None:
        """Every locality with its station and beat."""
        for loc in with_state(data_dir, load_localities):
            click.echo(f"{loc.name}\t{loc.station_id}\t{loc.beat_id}")

    @portal.command("address")
    @data_option
    @click.argument("station_id")
    @click.argument("address")
    def address(data_dir: Path, station_id: str, address: str) -> None:
        """The station's address, shown to citizens who must come to sign."""
        with_state(data_dir, lambda s: set_station_address(s, station_id, address))
        click.echo(f"Address of {station_id} set")

    @portal.command("hours")
    @data_option
    @click.argument("officer_id")
    @click.option("--station", "station_id", required=True, help="Where the officer meets.")
    @click.option(
        "--with", "with_", type=click.Choice(["sp", "sho", "station_officer"]), required=True
    )
    @click.option(
        "--slot", "slot_minutes", default=15, show_default=True, help="Minutes per meeting."
    )
    @click.option("--day", "days", multiple=True, help="e.g. mon=10:00-13:00 (repeat).")
    def hours(
        data_dir: Path,
        officer_id: str,
        station_id: str,
        with_: str,
        slot_minutes: int,
        days: tuple[str, ...],
    ) -> None:
        """Publish OFFICER_ID's weekly meeting hours (replacing earlier ones; holidays kept)."""

        async def act(state: GatewayState) -> None:
            old = (await load_schedules(state)).get(officer_id)
            holidays = old.holidays if old else []
            await save_schedule(
                state, Schedule(officer_id, station_id, with_, slot_minutes, _hours(days), holidays)
            )

        with_state(data_dir, act)
        click.echo(f"Meeting hours of {officer_id} published")

    @portal.command("holiday")
    @data_option
    @click.argument("officer_id")
    @click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
    def holiday(data_dir: Path, officer_id: str, day: Any) -> None:
        """No meetings with OFFICER_ID on DAY (YYYY-MM-DD)."""

        async def act(state: GatewayState) -> None:
            old = (await load_schedules(state)).get(officer_id)
            if old is None:
                raise click.ClickException(f"{officer_id} has no meeting hours")
            days = sorted({*old.holidays, date.isoformat(day.date())})
            await save_schedule(
                state,
                Schedule(
                    old.officer_id, old.station_id, old.with_, old.slot_minutes, old.hours, days
                ),
            )

        with_state(data_dir, act)
        click.echo(f"{officer_id}: no meetings on {day.date()}")

    @portal.command("hours-list")
    @data_option
    def hours_list(data_dir: Path) -> None:
        """Every officer's published meeting hours and holidays."""
        for schedule in with_state(data_dir, load_schedules).values():
            spans = " ".join(f"{d}={'+'.join(s)}" for d, s in schedule.hours.items())
            off = ",".join(schedule.holidays) or "-"
            click.echo(
                f"{schedule.officer_id}\t{schedule.with_}\t{schedule.station_id}\t"
                f"{schedule.slot_minutes} min\t{spans}\tholidays: {off}"
            )

    @portal.command("revoke")
    @data_option
    @click.argument("certificate_id")
    def revoke(data_dir: Path, certificate_id: str) -> None:
        """Revoke an issued certificate: it fails every later verification."""
        with_state(data_dir, lambda s: revoke_certificate(s, certificate_id))
        click.echo(f"Certificate {certificate_id} revoked")

    return portal


def keys_commands(with_state: WithState, data_option: Decorator) -> click.Group:
    @click.group()
    def keys() -> None:
        """The district's certificate signing keys."""

    def _made(key: PublishedKey) -> None:
        click.echo(f"Signing key {key.kid} created; certificates are signed with it from now on")

    @keys.command("create")
    @data_option
    def create(data_dir: Path) -> None:
        """Create the district's first signing key (its private half stays in DATA)."""
        _made(with_state(data_dir, lambda s: create_key(s, data_dir, rotate=False)))

    @keys.command("rotate")
    @data_option
    def rotate(data_dir: Path) -> None:
        """Sign with a new key from now on; the old ones keep verifying what they signed."""
        _made(with_state(data_dir, lambda s: create_key(s, data_dir, rotate=True)))

    @keys.command("list")
    @data_option
    def list_keys(data_dir: Path) -> None:
        """Every published key: when made, and when retired."""
        for key in with_state(data_dir, published_keys):
            click.echo(f"{key.kid}\t{key.created}\t{key.retired or 'signing'}")

    return keys
