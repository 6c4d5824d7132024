"""What can go wrong on the officer's device, as :mod:`sync.errors` classes.

Each message is the one sentence the CLI shows, so it says what happened and
what to do next. ``SealBroken`` is the shared codec's (:mod:`sync.codec`),
re-exported here; the CLI adds what the officer should do about it
(:data:`SEAL_BROKEN_ADVICE`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync.errors import (
    CouchError,
    Forbidden,
    NotFound,
    PeerUnreachable,
    PreconditionFailed,
    SealBroken,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)

if TYPE_CHECKING:  # the replicator is loaded by a sync, not by every command that can fail
    from sync.replication import ReplicationError, Side

__all__ = [
    "SEAL_BROKEN_ADVICE",
    "AlreadyInitialised",
    "DeviceRevoked",
    "LoginThrottled",
    "NoReplica",
    "NotEnrolled",
    "Offline",
    "SealBroken",
    "SyncStopped",
    "WrongPassphrase",
]


SEAL_BROKEN_ADVICE = "Report this device to the district IT cell."


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


class Offline(ServiceUnavailable):
    error = "offline"
    default_reason = (
        "No connection to the BeatSync server. Everything you recorded is kept on"
        " this device; run `beatsync sync` again when you have a signal."
    )

    @classmethod
    def enrolment(cls, exc: PeerUnreachable) -> Offline:
        """The server could not be reached to enrol this device (nothing was changed)."""
        return cls(
            f"Could not reach the BeatSync server at {exc.url or 'the address given'} to enrol"
            f" this device ({exc.detail}). Check that the server address is right, that"
            " this device has a network connection, and that the central server is"
            " running; then run the same command again."
        )

    @classmethod
    def server_trouble(cls, status: int, detail: str) -> Offline:
        """The server was reached but answered with trouble of its own (5xx, 429)."""
        return cls(
            f"The BeatSync server is having trouble (HTTP {status}: {detail}). Everything"
            " you recorded is kept on this device; run `beatsync sync` again in a few"
            " minutes, and tell the district IT cell if it keeps happening."
        )


class LoginThrottled(TooManyRequests):
    """The server is slowing password logins for this officer or from this network."""

    @classmethod
    def of(cls, exc: TooManyRequests) -> LoginThrottled:
        seconds = max(1, round(exc.retry_after))
        return cls(
            "Too many wrong passwords for this officer or from this network; try again in"
            f" {seconds} seconds. Nothing was changed on this device.",
            retry_after=seconds,
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


class SyncStopped(CouchError):
    """Raised when a sync stopped for good: the server (or this device) refused
    one of its steps. ``__cause__`` is the :class:`~sync.replication.ReplicationError`."""

    error = "sync_stopped"
    default_reason = (
        "The sync stopped. Everything you recorded is kept on this device; tell the"
        " district IT cell if it keeps happening."
    )

    @classmethod
    def of(cls, failure: ReplicationError, *, server: Side) -> SyncStopped:
        """``failure`` in the officer's words; ``server`` is the side the server was on."""
        cause = failure.cause
        if not isinstance(cause, CouchError):
            return cls(f"{failure} {cls.default_reason}")
        where = _where(failure.side, server)
        what = f"{cause.status} {cause.error_name}: {cause.reason}"
        if isinstance(cause, Unauthorized):
            return cls(
                f"{where.capitalize()} refused this device's credentials ({what}). Run"
                " `beatsync enrol` with your officer password to get a new token; if that"
                " is refused too, ask the district IT cell."
            )
        if isinstance(cause, Forbidden):
            return cls(
                f"{where.capitalize()} does not allow this device to sync ({what}). Ask"
                " the district office for access to your station's records."
            )
        if isinstance(cause, NotFound):
            return cls(
                f"The database does not exist on {where} ({what}). Check the server address"
                " (`beatsync status` shows it), or ask the district IT cell."
            )
        return cls(
            f"{where.capitalize()} refused a step of the sync ({what}). Everything you"
            " recorded is kept on this device; tell the district IT cell, with this message."
        )


def _where(side: Side | None, server: Side) -> str:
    from sync.replication import Side

    if side is server:
        return "the server"
    if side is Side.CHECKPOINT:
        return "a sync checkpoint"
    return "a database" if side is None else "this device"
