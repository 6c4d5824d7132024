"""The client of BeatSync's enrolment: ``POST /_beatsync/enrol`` at a gateway.

Enrolment trades an officer's password, once, for a per-device bearer token
tied to the device's Ed25519 public key (the gateway's contract is in
``server/openapi.yaml``). An officer's device and a station hub both enrol
this way, each through this one function, and each then checks the answer
for what it needs (a station hub must be enrolled by a station officer).

The request goes through :class:`~sync.http.transport.Transport` like every
other call to a server: a broken link is
:class:`~sync.errors.PeerUnreachable` naming the server, a refusal is the
:mod:`sync.errors` class of its status (401 for a wrong password), an answer
that is not JSON is :class:`~sync.errors.BadPeerResponse`.
"""

from __future__ import annotations

from typing import Any, Final

from sync.errors import BadRequest
from sync.http.transport import Transport

__all__ = ["ENROL_PATH", "enrol"]

ENROL_PATH: Final = "_beatsync/enrol"


async def enrol(
    server_url: str,
    *,
    officer_id: str,
    password: str,
    device_name: str,
    public_key: str,
    timeout: float,
) -> dict[str, Any]:
    """Enrol a device (``public_key``: its Ed25519 key, base64) at the gateway
    ``server_url``; the gateway's answer, which holds at least ``device_id`` and
    ``token``.

    ``timeout`` is the longest silence tolerated, in seconds, while connecting
    or waiting for the answer. A ``server_url`` that is no absolute URL is a
    :class:`~sync.errors.BadRequest`, and so is an answer without a device id
    and a token (not a BeatSync gateway).
    """
    try:
        server = Transport(
            server_url, auth=None, session=None, compress_requests=False, request_timeout=timeout
        )
    except ValueError:
        raise BadRequest(
            f"{server_url!r} is not a server address; give one like http://host:5984."
        ) from None
    payload = {
        "officer_id": officer_id,
        "password": password,
        "device_name": device_name,
        "public_key": public_key,
    }
    try:
        # Never sent twice: a second enrolment would make a second device.
        answer = await server.request("POST", ENROL_PATH, body=payload, retry_stale=False)
    finally:
        await server.close()
    if not isinstance(answer, dict) or not all(
        isinstance(answer.get(key), str) and answer[key] for key in ("device_id", "token")
    ):
        raise BadRequest("The server's enrolment answer is incomplete; is this a BeatSync server?")
    return answer
