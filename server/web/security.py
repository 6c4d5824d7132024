"""The server's name for :mod:`schemas.web.security` (one copy, shared with the device)."""

from schemas.web.security import CONTENT_SECURITY_POLICY, check_csrf_token, page_headers

__all__ = ["CONTENT_SECURITY_POLICY", "check_csrf_token", "page_headers"]
