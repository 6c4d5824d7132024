"""The hub's copy of its station's identities, brought up to the centre's snapshot.

The snapshot is what ``GET /_beatsync/hub/identities`` answers
(:mod:`server.gateway.handlers_hub`); officers sign in and devices sync at the
hub against this copy while the station's internet is down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.identity import Role, check_slug
from server.state.interface import IdentityRepo

__all__ = ["apply_snapshot"]


async def apply_snapshot(repo: IdentityRepo, snapshot: Mapping[str, Any]) -> int:
    """Bring the hub's cache up to the centre's ``snapshot``; how many things changed.

    Adds what is new, follows password changes, and applies revocations
    (revocation is one-way everywhere, so a stale snapshot never un-revokes).
    An officer of this station the centre no longer lists (moved away) is
    revoked locally.
    """
    changes = 0
    station = snapshot["station"]
    station_id = check_slug(station["id"], "station id")
    local_station = await repo.get_station(station_id)
    if local_station is None:
        await repo.add_station(station_id, station["name"], beat_scoped=station["beat_scoped"])
        changes += 1
    elif local_station.beat_scoped != station["beat_scoped"]:
        await repo.set_beat_scoped(station_id, station["beat_scoped"])
        changes += 1
    known_beats = {b.id for b in await repo.list_beats(station_id)}
    for beat in snapshot["beats"]:
        if beat["id"] not in known_beats:
            await repo.add_beat(station_id, beat["id"], beat["name"])
            changes += 1
    listed = set()
    for entry in snapshot["officers"]:
        officer_id = entry["officer_id"]
        listed.add(officer_id)
        local = await repo.get_officer(officer_id)
        if local is None:
            await repo.add_officer(
                officer_id,
                entry["name"],
                Role(entry["role"]),
                entry["password_hash"],
                station_id=entry["station_id"],
                beat_id=entry["beat_id"],
            )
            changes += 1
        elif local.password_hash != entry["password_hash"]:
            await repo.set_password_hash(officer_id, entry["password_hash"])
            changes += 1
        if entry["revoked"] and (local is None or not local.revoked):
            await repo.revoke_officer(officer_id)
            changes += 1
    for local_officer in await repo.list_officers(station_id):
        if local_officer.id not in listed and not local_officer.revoked:
            await repo.revoke_officer(local_officer.id)
            changes += 1
    for entry in snapshot["devices"]:
        local_device = await repo.get_device(entry["device_id"])
        if local_device is None:
            if not entry.get("token_hash"):
                continue  # the centre could not say; the device cannot sync here
            await repo.add_device(
                entry["device_id"],
                entry["officer_id"],
                entry["name"],
                entry["public_key"],
                entry["token_hash"],
                # The centre's date: the token expires at the hub when it does there.
                enrolled_at=entry.get("enrolled_at"),
            )
            changes += 1
        if entry["revoked"] and (local_device is None or not local_device.revoked):
            await repo.revoke_device(entry["device_id"])
            changes += 1
    return changes
