"""The district's whole web server: the sync gateway with the people's faces
mounted on it (the citizen portal under ``/portal/``, the central office
under ``/office/``). ``beatsync-server serve`` runs this.

The gateway stays usable alone (the tests of the sync protocol build just
``create_app``); the faces are sub-applications that read the gateway's
state through ``request.config_dict``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from server.config import GatewayConfig
from server.gateway.app import create_app
from server.office.app import create_office
from server.office.metrics import add_metrics
from server.policy.auth import Clock
from server.portal.api import create_portal_api
from server.portal.app import attach_portal, create_portal

__all__ = ["FACES", "OFFICE_PREFIX", "PORTAL_PREFIX", "create_site"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PORTAL_PREFIX = "/portal/"
OFFICE_PREFIX = "/office/"
# (URL prefix, factory) of every face, mounted in this order.
FACES: tuple[tuple[str, Callable[[], web.Application]], ...] = (
    (PORTAL_PREFIX, create_portal),
    ("/_beatsync/portal/", create_portal_api),
    (OFFICE_PREFIX, create_office),
)


def create_site(
    config: GatewayConfig | None = None, *, clock: Clock | None = None
) -> web.Application:
    app = create_app(config, clock=clock)
    app.middlewares.append(browsers_to_portal)
    add_metrics(app)
    for prefix, factory in FACES:
        app.add_subapp(prefix, factory())
    attach_portal(app)
    return app


def wants_page(request: web.Request) -> bool:
    """A browser asks for HTML; CouchDB clients (curl, PouchDB, replicators)
    ask for JSON or anything, and keep getting CouchDB's welcome."""
    accept = request.headers.get(hdrs.ACCEPT, "")
    return "text/html" in accept and "application/json" not in accept


@web.middleware
async def browsers_to_portal(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/" and request.method == "GET" and wants_page(request):
        raise web.HTTPFound(PORTAL_PREFIX)
    return await handler(request)
