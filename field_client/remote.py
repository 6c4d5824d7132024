"""The device's side of the gateway: enrolment, and the station database as a store.

Enrolment (``POST /_beatsync/enrol`` by :func:`sync.http.enrol.enrol`, the
client station hubs use too) trades the officer's password, once, for a
per-device bearer token tied to the device's Ed25519 public key; every later
request carries only the token, which the district office can revoke without
touching the officer's password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from field_client.errors import LoginThrottled, Offline
from sync.errors import BadRequest, CouchError, PeerUnreachable, TooManyRequests
from sync.http import HttpDatabase
from sync.http import enrol as http_enrol
from sync.replication import ReplicationError

__all__ = ["Enrolment", "connect", "enrol", "is_revocation"]

# Enrolment happens at the station or wherever the officer sets up the device;
# a minute covers a slow link without leaving the officer staring at nothing.
ENROL_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Enrolment:
    device_id: str
    token: str
    officer_id: str
    station_id: str
    beat_id: str | None  # station officers have no beat of their own
    role: str
    db: str
    server_uuid: str
    public_key: str = ""  # the device key enrolled (the request's; the answer does not echo it)

    @classmethod
    def of(cls, answer: Any) -> Enrolment:
        if not isinstance(answer, dict) or not all(answer.get(k) for k in _REQUIRED):
            raise BadRequest(
                "The server's enrolment answer is incomplete; is this a BeatSync server?"
            )
        if not answer.get("station_id") or not answer.get("db"):
            raise BadRequest(
                "This officer account belongs to no station; the field client is for"
                " station and beat officers."
            )
        beat = answer.get("beat_id")
        return cls(
            **{name: str(answer[name]) for name in (*_REQUIRED, "station_id", "db")},
            beat_id=None if beat is None else str(beat),
        )


_REQUIRED = ("device_id", "token", "officer_id", "role", "server_uuid")


def _base(server_url: str) -> str:
    return server_url.rstrip("/")


async def enrol(
    server_url: str, *, officer_id: str, password: str, device_name: str, public_key: str
) -> Enrolment:
    """Enrol this device; ``Offline`` when the server cannot be reached,
    ``LoginThrottled`` (how long to wait) after too many wrong passwords."""
    try:
        answer = await http_enrol.enrol(
            server_url,
            officer_id=officer_id,
            password=password,
            device_name=device_name,
            public_key=public_key,
            timeout=ENROL_TIMEOUT,
        )
    except PeerUnreachable as exc:
        raise Offline.enrolment(exc) from None
    except TooManyRequests as exc:
        raise LoginThrottled.of(exc) from None
    return replace(Enrolment.of(answer), public_key=public_key)


# The gateway's name for a device's report of the records it still has to
# push (server.gateway.request.PENDING_HEADER; the office's device health).
PENDING_HEADER = "X-BeatSync-Pending"


def connect(
    server_url: str, db_name: str, token: str, *, report: Mapping[str, str] | None = None
) -> HttpDatabase:
    """The station database on the gateway, authenticated as this device, gzip
    uploads; ``report`` (see :func:`pending_report`) goes with every request."""
    url = f"{_base(server_url)}/{db_name}"
    return HttpDatabase(url, auth=token, compress_requests=True, headers=report)


def pending_report(pending: int) -> dict[str, str]:
    """The headers that tell the gateway ``pending`` records wait to be pushed;
    change the count in place as the push goes (the next request says it)."""
    return {PENDING_HEADER: str(pending)}


def is_revocation(exc: BaseException | None) -> bool:
    """Whether ``exc`` is the gateway's 401 ``device_revoked``, or a replication it stopped."""
    if isinstance(exc, ReplicationError):
        exc = exc.cause
    return isinstance(exc, CouchError) and exc.error_name == "device_revoked"
