"""The one error table of the project, shaped like CouchDB's errors.

Every class carries the HTTP status and the CouchDB ``error`` name it maps to,
so the server turns any of them into ``{"error": ..., "reason": ...}`` in one
middleware, and a client turns a CouchDB answer back into the same class:
:func:`error_from_response` for an HTTP error answer, :func:`error_from_result`
for a per-document failure in a ``_bulk_docs`` answer. Both, and anything else
that needs a class for a status or an error name, go through
:func:`error_for_status` and :func:`error_for_name`, which read the one table
:data:`TABLE`. Stores raise these classes directly.

Messages say what went wrong, never what a particular user should do about
it: that wording belongs to the program that user runs (the field client, the
admin CLI).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar, Final

__all__ = [
    "TABLE",
    "BadGateway",
    "BadPeerResponse",
    "BadRequest",
    "Conflict",
    "CouchError",
    "Forbidden",
    "InvalidRev",
    "MethodNotAllowed",
    "NotFound",
    "PeerUnreachable",
    "PreconditionFailed",
    "RequestTimeout",
    "RequestTooLarge",
    "RetryLater",
    "SealBroken",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "error_for_name",
    "error_for_status",
    "error_from_response",
    "error_from_result",
]


class CouchError(Exception):
    """Raised when something failed that has no better class (500 ``unknown_error``).

    The base of every error that has a CouchDB-shaped JSON form; subclasses
    say which CouchDB error it is.
    """

    status: ClassVar[int] = 500
    error: ClassVar[str] = "unknown_error"
    default_reason: ClassVar[str] = "Unknown error"
    # Other CouchDB error names answered with this class's status (couch_httpd's error_info).
    also_named: ClassVar[tuple[str, ...]] = ()

    def __init__(self, reason: str | None = None, *, error: str | None = None) -> None:
        self.reason = reason or self.default_reason
        # A peer may answer with an error name we keep verbatim (e.g. "file_exists").
        self.error_name = error or self.error
        super().__init__(self.reason)

    def to_json(self) -> dict[str, Any]:
        return {"error": self.error_name, "reason": self.reason}

    @property
    def transient(self) -> bool:
        """Worth retrying later (server trouble), as opposed to a client mistake."""
        return self.status >= 500 or self.status in (408, 429)


class BadRequest(CouchError):
    """Raised when a request or a document is malformed: bad JSON, bad
    parameters, an illegal doc id, a failed structure check (400)."""

    status = 400
    error = "bad_request"
    default_reason = "Bad request"


class InvalidRev(BadRequest):
    """Raised when a revision id is not ``N-hex`` (400 ``bad_request``)."""

    default_reason = "Invalid rev format"


class Unauthorized(CouchError):
    """Raised when credentials are missing, wrong, expired or revoked (401)."""

    status = 401
    error = "unauthorized"
    default_reason = "Name or password is incorrect."


class Forbidden(CouchError):
    """Raised when the caller is known but may not do this: read another
    station, write a refused document, a failed ``validate_doc_update`` (403)."""

    status = 403
    error = "forbidden"
    default_reason = "You are not allowed to access this resource."


class NotFound(CouchError):
    """Raised when a database, document, revision or route does not exist (404)."""

    status = 404
    error = "not_found"
    default_reason = "missing"


class MethodNotAllowed(CouchError):
    """Raised when a route exists but not for this HTTP method (405)."""

    status = 405
    error = "method_not_allowed"
    default_reason = "Method not allowed."


class Conflict(CouchError):
    """Raised when a write names a revision that is not the current leaf (409)."""

    status = 409
    error = "conflict"
    default_reason = "Document update conflict."


class PreconditionFailed(CouchError):
    """Raised when a precondition of the request does not hold: the database
    exists already (``file_exists``), a stub names an attachment the parent
    lacks (``missing_stub``) (412)."""

    status = 412
    error = "file_exists"
    also_named = ("missing_stub", "precondition_failed")
    default_reason = "The database could not be created, the file already exists."


class RequestTimeout(CouchError):
    """Raised when a client sends its request body too slowly (408); transient,
    so a device on a bad link retries."""

    status = 408
    error = "request_timeout"
    default_reason = "The request body did not arrive in time."


class RequestTooLarge(CouchError):
    """Raised when a request body (or one document in it) is over the size limit (413)."""

    status = 413
    error = "too_large"
    default_reason = "the request entity is too large"


class UnsupportedMediaType(CouchError):
    """Raised when a body is sent with a Content-Type other than JSON (415)."""

    status = 415
    error = "bad_content_type"
    default_reason = "Content-Type must be application/json"


class BadGateway(CouchError):
    """Raised when a peer answered with something that is not CouchDB's JSON
    (a captive portal, a proxy) (502)."""

    status = 502
    error = "bad_gateway"
    default_reason = "The server's answer is not valid JSON."


class BadPeerResponse(BadGateway):
    """Raised when a 2xx answer is not the JSON CouchDB sends (a captive portal,
    a broken proxy), or is JSON of the wrong shape.

    502 like a gateway would say it, so it counts as transient server trouble.
    """


class RetryLater(CouchError):
    """Raised when the answer carries a ``Retry-After`` (seconds) for the client;
    the base of 429 and 503."""

    default_retry_after: ClassVar[float] = 5

    def __init__(
        self, reason: str | None = None, *, error: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, error=error)
        self.retry_after = self.default_retry_after if retry_after is None else retry_after


class TooManyRequests(RetryLater):
    """Raised when a client is throttled (too many failed logins) (429)."""

    status = 429
    error = "too_many_requests"
    default_reason = "Too many requests; try again later."
    default_retry_after = 60


class ServiceUnavailable(RetryLater):
    """Raised when a server is up but cannot serve now: its database is down,
    a hub was revoked (503)."""

    status = 503
    error = "service_unavailable"
    default_reason = "The service is unavailable; try again later."


class PeerUnreachable(ServiceUnavailable):
    """Raised when a server could not be reached or stopped answering: refused,
    reset, timed out (503 ``peer_unreachable``, never sent by a server).

    Transient: the replicator backs off and retries from its checkpoint.
    ``retry_after`` is 0 because no server asked for a delay. Made by
    :func:`sync.http.transport.unreachable`, the one translation of a broken
    link, so ``url`` names the server that could not be reached and ``detail``
    says how (``"timed out"``, ``"ClientConnectorError: Cannot connect ..."``).
    """

    error = "peer_unreachable"
    default_reason = "The server could not be reached."

    def __init__(
        self,
        reason: str | None = None,
        *,
        url: str | None = None,
        detail: str | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(reason, retry_after=0)
        self.url = url  # the server's URL, without credentials
        self.detail = detail or self.reason  # what went wrong, without the URL
        self.timed_out = timed_out


class SealBroken(CouchError):
    """Raised when sealed data fails its AES-GCM check: altered, or moved from
    another row or machine (500 ``sealed_data_corrupt``; never read from an answer)."""

    error = "sealed_data_corrupt"
    default_reason = (
        "Stored data does not open with this key: it was altered or copied from elsewhere."
    )


# The one table: the class each HTTP status and each CouchDB error name stands
# for. A subclass that shares its parent's status (InvalidRev, BadPeerResponse,
# PeerUnreachable) is not here: an answer is read back as the parent.
TABLE: Final[tuple[type[CouchError], ...]] = (
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    RequestTimeout,
    PreconditionFailed,
    RequestTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    BadGateway,
    ServiceUnavailable,
)
_BY_STATUS: Final[Mapping[int, type[CouchError]]] = {cls.status: cls for cls in TABLE}
_BY_NAME: Final[Mapping[str, type[CouchError]]] = {
    name: cls for cls in TABLE for name in (cls.error, *cls.also_named)
}


@functools.cache
def error_for_status(status: int) -> type[CouchError]:
    """The class an HTTP error status stands for.

    A status outside the table gets a class of its own (named ``HTTP<status>``,
    made once) that keeps the status, so ``transient`` still tells a 504 from
    a 422; its error name is ``bad_request`` below 500, ``unknown_error`` above.
    """
    known = _BY_STATUS.get(status)
    if known is not None:
        return known
    name = "bad_request" if status < 500 else "unknown_error"
    return type(f"HTTP{status}", (CouchError,), {"status": status, "error": name})


def error_for_name(name: str) -> type[CouchError]:
    """The class a CouchDB error name stands for (``"conflict"`` → :class:`Conflict`,
    ``"missing_stub"`` → :class:`PreconditionFailed`); a name outside the table is a
    :class:`BadRequest`, the status CouchDB gives a per-document failure it has no
    other status for (``doc_validation``, ``illegal_docid``)."""
    return _BY_NAME.get(name, BadRequest)


def error_from_response(
    status: int, body: Any, *, retry_after: float | None = None
) -> CouchError:
    """The error a peer's non-2xx answer stands for, keeping its own words.

    ``retry_after`` (seconds, from the answer's ``Retry-After``) goes to a
    :class:`RetryLater`; ``None`` leaves the class's default.
    """
    error = reason = None
    if isinstance(body, dict):
        error = body.get("error")
        reason = body.get("reason")
    cls = error_for_status(status)
    words = str(reason) if reason is not None else f"HTTP {status}"
    name = str(error) if error is not None else None
    if issubclass(cls, RetryLater):
        return cls(words, error=name, retry_after=retry_after)
    return cls(words, error=name)


def error_from_result(result: Mapping[str, Any]) -> CouchError:
    """The error a per-document failure of a ``_bulk_docs`` answer
    (``{"id", "error", "reason"}``) stands for, as CouchDB's ``PUT`` answers it."""
    return error_from_response(error_for_name(str(result.get("error"))).status, result)
