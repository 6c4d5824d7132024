"""The hub's own credential: enrolled at the district gateway, authorised there.

``beatsync-server hub enrol`` runs :func:`enrol_hub` on the station PC (a
station officer's password, once); ``beatsync-server hub authorise DEVICE``
runs :func:`authorise_hub` at the district. The credential is kept in
``hub.json`` in the hub's data folder, readable by its owner only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.identity import Role
from server.gateway.handlers_hub import hub_setting
from server.state.interface import IdentityRepo, Settings
from sync import signing
from sync.errors import BadRequest, Forbidden, NotFound
from sync.files import private_dir, private_file
from sync.http.enrol import enrol

__all__ = ["HUB_FILE", "UPSTREAM_TIMEOUT_S", "HubCredential", "authorise_hub", "enrol_hub"]

HUB_FILE: Final = "hub.json"
# The longest silence tolerated from the upstream gateway on one request.
UPSTREAM_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class HubCredential:
    """The hub's own device credential at the district gateway (``hub.json``)."""

    upstream: str
    station_id: str
    device_id: str
    token: str = field(repr=False)

    def save(self, data_dir: Path) -> Path:
        path = private_file(private_dir(data_dir) / HUB_FILE)
        # Made 0600 before anything is written: the token is a password.
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out)
        return path

    @classmethod
    def load(cls, data_dir: Path) -> HubCredential:
        path = data_dir / HUB_FILE
        try:
            raw = json.loads(path.read_text())
            return cls(raw["upstream"], raw["station_id"], raw["device_id"], raw["token"])
        except (OSError, ValueError, KeyError, TypeError):
            raise NotFound(
                f"No hub credential in {path}: run `beatsync-server hub enrol` first."
            ) from None


async def enrol_hub(
    data_dir: Path, upstream: str, officer_id: str, password: str, *, name: str = "station hub"
) -> HubCredential:
    """Enrol this PC at the district gateway as a station officer's device; save ``hub.json``.

    ``PeerUnreachable`` when the gateway cannot be reached, the gateway's refusal
    (401 for a wrong password) otherwise; nothing is saved then.
    """
    key = Ed25519PrivateKey.generate()  # enrolment needs one; the hub itself signs nothing
    reply = await enrol(
        upstream,
        officer_id=officer_id,
        password=password,
        device_name=name,
        public_key=signing.public_key_to_b64(key.public_key()),
        timeout=UPSTREAM_TIMEOUT_S,
    )
    if reply.get("role") != Role.STATION_OFFICER.value or not reply.get("station_id"):
        raise Forbidden("A station hub is enrolled by one of its station officers.")
    credential = HubCredential(
        upstream.rstrip("/"), str(reply["station_id"]), reply["device_id"], reply["token"]
    )
    credential.save(data_dir)
    return credential


async def authorise_hub(identities: IdentityRepo, settings: Settings, device_id: str) -> str:
    """At the district: let ``device_id`` fetch its station's identities; the station id."""
    device = await identities.get_device(device_id)
    if device is None or device.revoked:
        raise NotFound(f"no active device {device_id}")
    officer = await identities.get_officer(device.officer_id)
    if officer is None or officer.revoked or officer.role is not Role.STATION_OFFICER:
        raise BadRequest("A hub device must belong to an active station officer.")
    assert officer.station_id is not None
    await settings.set_setting(hub_setting(device_id), officer.station_id)
    return officer.station_id
