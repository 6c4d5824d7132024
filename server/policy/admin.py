"""Identity administration as plain async functions (the CLI is a thin layer over these)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.identity import Role, check_officer_id, check_slug
from server.policy.passwords import MIN_PASSWORD_LENGTH, hash_password_async
from server.state.interface import IdentityRepo
from server.state.models import Officer
from sync.errors import BadRequest

__all__ = [
    "DEMO_PASSWORD",
    "DemoDistrict",
    "add_officer",
    "demo_district",
    "provision_demo",
    "reset_password",
]

DEMO_PASSWORD = "demo-pass-123"


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")


async def add_officer(
    repo: IdentityRepo,
    officer_id: str,
    name: str,
    role: Role,
    password: str,
    *,
    station_id: str | None = None,
    beat_id: str | None = None,
) -> Officer:
    check_officer_id(officer_id)
    _check_password(password)
    if role in (Role.BEAT_OFFICER, Role.STATION_OFFICER) and station_id is None:
        raise BadRequest(f"A {role.value} belongs to a station: give --station.")
    if role is Role.BEAT_OFFICER and beat_id is None:
        raise BadRequest("A beat officer belongs to a beat: give --beat.")
    if role in (Role.CENTRAL_OFFICE, Role.ADMIN) and (station_id or beat_id):
        raise BadRequest(f"A {role.value} account belongs to no station or beat.")
    if beat_id is not None and role is not Role.BEAT_OFFICER:
        raise BadRequest("Only beat officers have a beat.")
    return await repo.add_officer(
        officer_id,
        name,
        role,
        await hash_password_async(password),
        station_id=station_id,
        beat_id=beat_id,
    )


async def reset_password(repo: IdentityRepo, officer_id: str, password: str) -> None:
    _check_password(password)
    await repo.set_password_hash(officer_id, await hash_password_async(password))


@dataclass(frozen=True, slots=True)
class DemoDistrict:
    stations: dict[str, list[str]]  # station id -> beat ids
    officers: list[tuple[str, Role, str | None, str | None]]
    password: str = DEMO_PASSWORD


def demo_district() -> DemoDistrict:
    stations = {
        "kotwali": ["kotwali-bazaar", "kotwali-ghat"],
        "sadar": ["sadar-north", "sadar-south"],
        "rampur": ["rampur-east", "rampur-west"],
    }
    officers: list[tuple[str, Role, str | None, str | None]] = [
        ("central", Role.CENTRAL_OFFICE, None, None),
        ("admin", Role.ADMIN, None, None),
    ]
    for station_id, beats in stations.items():
        officers.append((f"sho-{station_id}", Role.STATION_OFFICER, station_id, None))
        officers.extend((f"bo-{beat}", Role.BEAT_OFFICER, station_id, beat) for beat in beats)
    return DemoDistrict(stations, officers)


async def provision_demo(repo: IdentityRepo) -> DemoDistrict:
    """Create the demo district unless it exists (idempotent, so `serve --demo` restarts)."""
    district = demo_district()
    for station_id, beats in district.stations.items():
        check_slug(station_id)
        if await repo.get_station(station_id) is None:
            await repo.add_station(station_id, station_id.title() + " police station")
            for beat_id in beats:
                await repo.add_beat(station_id, beat_id, beat_id.replace("-", " ").title())
    for officer_id, role, home, beat in district.officers:
        if await repo.get_officer(officer_id) is None:
            await add_officer(
                repo,
                officer_id,
                officer_id,
                role,
                district.password,
                station_id=home,
                beat_id=beat,
            )
    return district
