"""The server's name for :mod:`schemas.web.pages` (one copy, shared with the device)."""

from schemas.web.pages import (
    CSRF_FIELD,
    LANGUAGE,
    LANGUAGE_NAMES,
    MAX_UPLOAD_MB,
    STATIC_DIR,
    create_face,
    error_pages,
    gettext_for,
    page_middleware,
    render,
    see_other,
)

__all__ = [
    "CSRF_FIELD",
    "LANGUAGE",
    "LANGUAGE_NAMES",
    "MAX_UPLOAD_MB",
    "STATIC_DIR",
    "create_face",
    "error_pages",
    "gettext_for",
    "page_middleware",
    "render",
    "see_other",
]
