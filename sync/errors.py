"""One error hierarchy for the whole project, shaped like CouchDB's errors.

Every class carries the HTTP status and the CouchDB ``error`` name it maps to,
so the server turns any of them into ``{"error": ..., "reason": ...}`` in one
middleware, and the HTTP remote turns a CouchDB error response back into the
same class with :func:`error_from_response`. Stores raise these directly.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadGateway",
    "BadRequest",
    "Conflict",
    "CouchError",
    "Forbidden",
    "InvalidRev",
    "MethodNotAllowed",
    "NotFound",
    "PreconditionFailed",
    "RequestTooLarge",
    "RetryLater",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "error_from_response",
]


class CouchError(Exception):
    """Base of every error that has a CouchDB-shaped JSON form."""

    status: ClassVar[int] = 500
    error: ClassVar[str] = "unknown_error"
    default_reason: ClassVar[str] = "Unknown error"

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
    status = 400
    error = "bad_request"
    default_reason = "Bad request"


class InvalidRev(BadRequest):
    default_reason = "Invalid rev format"


class Unauthorized(CouchError):
    status = 401
    error = "unauthorized"
    default_reason = "Name or password is incorrect."


class Forbidden(CouchError):
    status = 403
    error = "forbidden"
    default_reason = "You are not allowed to access this resource."


class NotFound(CouchError):
    status = 404
    error = "not_found"
    default_reason = "missing"


class MethodNotAllowed(CouchError):
    status = 405
    error = "method_not_allowed"
    default_reason = "Method not allowed."


class Conflict(CouchError):
    status = 409
    error = "conflict"
    default_reason = "Document update conflict."


class PreconditionFailed(CouchError):
    status = 412
    error = "file_exists"
    default_reason = "The database could not be created, the file already exists."


class RequestTooLarge(CouchError):
    status = 413
    error = "too_large"
    default_reason = "the request entity is too large"


class UnsupportedMediaType(CouchError):
    status = 415
    error = "bad_content_type"
    default_reason = "Content-Type must be application/json"


class BadGateway(CouchError):
    """A peer answered with something that is not CouchDB's JSON (a captive portal, a proxy)."""

    status = 502
    error = "bad_gateway"
    default_reason = "The server's answer is not valid JSON."


class RetryLater(CouchError):
    """An error whose answer carries a ``Retry-After`` (seconds) for the client."""

    default_retry_after: ClassVar[float] = 5

    def __init__(
        self, reason: str | None = None, *, error: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, error=error)
        self.retry_after = self.default_retry_after if retry_after is None else retry_after


class TooManyRequests(RetryLater):
    status = 429
    error = "too_many_requests"
    default_reason = "Too many requests; try again later."
    default_retry_after = 60


class ServiceUnavailable(RetryLater):
    status = 503
    error = "service_unavailable"
    default_reason = "The service is unavailable; try again later."


_BY_STATUS: dict[int, type[CouchError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        RequestTooLarge,
        UnsupportedMediaType,
        TooManyRequests,
        BadGateway,
        ServiceUnavailable,
    )
}


def error_from_response(status: int, body: Any) -> CouchError:
    """The error a peer's non-2xx answer stands for, keeping its own words."""
    error = reason = None
    if isinstance(body, dict):
        error = body.get("error")
        reason = body.get("reason")
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = type(f"HTTP{status}", (CouchError,), {"status": status})
    return cls(
        str(reason) if reason is not None else f"HTTP {status}",
        error=str(error) if error is not None else None,
    )
