"""What can go wrong on the officer's device, as :mod:`sync.errors` classes.

Each message is the one sentence the CLI shows, so it says what happened and
what to do next.
"""

from __future__ import annotations

from sync.errors import CouchError, NotFound, PreconditionFailed, ServiceUnavailable, Unauthorized

__all__ = [
    "AlreadyInitialised",
    "DeviceRevoked",
    "NoReplica",
    "NotEnrolled",
    "Offline",
    "SealBroken",
    "WrongPassphrase",
]


class WrongPassphrase(Unauthorized):
    error = "wrong_passphrase"
    default_reason = "The passphrase is wrong; nothing was opened or changed. Try again."


class NoReplica(NotFound):
    error = "no_replica"
    default_reason = (
        "There is no BeatSync data on this device (never set up, or wiped);"
        " run `beatsync init` to set it up."
    )


class AlreadyInitialised(PreconditionFailed):
    error = "already_initialised"
    default_reason = "BeatSync is already set up here; use `beatsync wipe` first to start over."


class SealBroken(CouchError):
    """Stored data failed its AES-GCM check: altered, or moved from another row or device."""

    status = 500
    error = "sealed_data_corrupt"
    default_reason = (
        "Stored data does not open with this device's key: it was altered or copied"
        " from elsewhere. Report this device to the district IT cell."
    )


class Offline(ServiceUnavailable):
    error = "offline"
    default_reason = (
        "No connection to the BeatSync server. Everything you recorded is kept on"
        " this device; run `beatsync sync` again when you have a signal."
    )

    @classmethod
    def server_trouble(cls, status: int, detail: str) -> Offline:
        """The server was reached but answered with trouble of its own (5xx, 429)."""
        return cls(
            f"The BeatSync server is having trouble (HTTP {status}: {detail}). Everything"
            " you recorded is kept on this device; run `beatsync sync` again in a few"
            " minutes, and tell the district IT cell if it keeps happening."
        )


class NotEnrolled(PreconditionFailed):
    error = "not_enrolled"
    default_reason = (
        "This device has no server to sync with; run `beatsync init --server URL`"
        " with your officer id to enrol it."
    )


class DeviceRevoked(Unauthorized):
    error = "device_revoked"
    default_reason = (
        "The district office revoked this device; its keys were destroyed and the"
        " data on it can no longer be opened. Hand the device to the IT cell."
    )
