"""A request's identity lookups, each asked of the state store once.

A push of 100 revisions signed by one device looked that device up 100 times
(and its officer as often), each a round trip to the state store: an eighth of
the gateway's CPU per pushed document. One request's revisions are judged
against one reading of the identities, as CouchDB judges a ``_bulk_docs``
against the ``_users`` and design documents it read for that request; a
revocation applies from the next request on.
"""

from __future__ import annotations

from typing import Protocol

from server.state.models import Device, Officer

__all__ = ["Identities", "RequestIdentities"]


class Identities(Protocol):
    """What the write policy reads of the identities."""

    async def get_device(self, device_id: str) -> Device | None: ...

    async def get_officer(self, officer_id: str) -> Officer | None: ...


class RequestIdentities:
    """``identities``, each device and officer read once for the whole request."""

    def __init__(self, identities: Identities) -> None:
        self._identities = identities
        self._devices: dict[str, Device | None] = {}
        self._officers: dict[str, Officer | None] = {}

    async def get_device(self, device_id: str) -> Device | None:
        if device_id not in self._devices:
            self._devices[device_id] = await self._identities.get_device(device_id)
        return self._devices[device_id]

    async def get_officer(self, officer_id: str) -> Officer | None:
        if officer_id not in self._officers:
            self._officers[officer_id] = await self._identities.get_officer(officer_id)
        return self._officers[officer_id]
