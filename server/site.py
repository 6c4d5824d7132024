"""The district's whole web server: the sync gateway with the people's faces
mounted on it (the citizen portal under ``/portal/``, the central office
under ``/office/``). ``beatsync-server serve`` runs this.

The gateway stays usable alone (the tests of the sync protocol build just
``create_app``); the faces are sub-applications that read the gateway's
state through ``request.config_dict``.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from server.config import GatewayConfig
from server.gateway.app import create_app
from server.policy.auth import Clock
from server.portal.app import create_portal

__all__ = ["FACES", "create_site"]

# (URL prefix, factory) of every face, mounted in this order.
FACES: tuple[tuple[str, Callable[[], web.Application]], ...] = (
    ("/portal/", create_portal),
)


def create_site(
    config: GatewayConfig | None = None, *, clock: Clock | None = None
) -> web.Application:
    app = create_app(config, clock=clock)
    for prefix, factory in FACES:
        app.add_subapp(prefix, factory())
    return app
