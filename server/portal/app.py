"""The citizen portal's sub-application, mounted at ``/portal/`` by :mod:`server.site`.

No login: a citizen proves a record is theirs with its tracking number and
PIN. Every form is limited per address and per phone (:class:`Limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from server.gateway.keys import CONFIG, MERGE_LISTENERS, STATE, STORES
from server.portal.handlers_appointment import add_appointment_routes
from server.portal.handlers_certificate import add_certificate_routes
from server.portal.handlers_complaint import add_complaint_routes
from server.portal.handlers_status import add_status_routes
from server.portal.handlers_visitor import add_visitor_routes
from server.portal.notices import booking_notices
from server.portal.outbox import Outbox
from server.portal.reminders import ReminderScheduler
from server.portal.services import OUTBOX, OUTBOX_FILE, PORTAL, REMINDERS, Limits, Portal
from server.web.pages import create_face, render

__all__ = ["MAX_UPLOAD_MB", "attach_portal", "create_portal"]

PORTAL_DIR = Path(__file__).resolve().parent
# One photo (<= 1 MB, see forms.Form.photo_limit_kb) and the form around it.
MAX_UPLOAD_MB = 2


async def home(request: web.Request) -> web.Response:
    return render("home.html", request, {})


def create_portal(limits: Limits | None = None) -> web.Application:
    app = create_face(PORTAL_DIR / "templates", max_upload_mb=MAX_UPLOAD_MB)
    app[PORTAL] = Portal(limits or Limits())
    app.router.add_get("/", home, name="home")
    app.router.add_static(
        "/assets/", PORTAL_DIR / "static", name="portal_static", append_version=True
    )
    add_complaint_routes(app)
    add_status_routes(app)
    add_appointment_routes(app)
    add_certificate_routes(app)
    add_visitor_routes(app)
    return app


def attach_portal(gateway: web.Application) -> None:
    """What the portal needs of the gateway it is mounted on (call once,
    before it starts): the outbox, the merge runner telling it of double
    bookings, and the reminder scheduler running beside the gateway."""
    outbox = Outbox(gateway[CONFIG].data_dir / OUTBOX_FILE)
    gateway[OUTBOX] = outbox
    gateway[MERGE_LISTENERS].append(booking_notices(outbox, lambda: gateway[STATE]))
    gateway.cleanup_ctx.append(_reminders)


async def _reminders(gateway: web.Application) -> AsyncIterator[None]:
    # After the gateway's own resources (its cleanup_ctx comes first), which
    # this one uses; stopped before they close.
    scheduler = ReminderScheduler(gateway[STATE], gateway[STORES], gateway[OUTBOX])
    gateway[REMINDERS] = scheduler
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    try:
        yield
    finally:
        stop.set()
        task.cancel()  # a pass cut short is redone: marks follow the messages
        with contextlib.suppress(asyncio.CancelledError):
            await task
