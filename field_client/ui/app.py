"""``create_ui``: the officer's app as an aiohttp application, and ``serve_ui`` to run it.

Middlewares, outermost first: the launch-secret guard (:mod:`.guard`), the
frame's error pages, language, CSRF and headers (:mod:`schemas.web.pages`),
then the lock: a locked app shows only its unlock page.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from field_client.ui import handlers_edits as edits
from field_client.ui import handlers_records as records
from field_client.ui import handlers_session as session_pages
from field_client.ui.guard import make_guard
from field_client.ui.keys import SESSION
from field_client.ui.session import Session
from schemas.web.pages import create_face

__all__ = ["LOOPBACK", "create_ui", "new_secret"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOOPBACK = "127.0.0.1"
# How often the idle lock looks at the clock.
_IDLE_CHECK_SECONDS = 5.0
# Photos of a visit arrive in one form: MAX_PHOTOS of MAX_PHOTO_BYTES, and text.
_MAX_UPLOAD_MB = 50
_OPEN_WHEN_LOCKED = frozenset({"unlock", "unlock_post", "web_static"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@web.middleware
async def _lock_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = request.config_dict[SESSION]
    await session.lock_if_idle()
    route = request.match_info.route.name
    if not session.unlocked and route not in _OPEN_WHEN_LOCKED:
        raise web.HTTPSeeOther(str(request.app.router["unlock"].url_for()))
    if session.unlocked:
        session.touch()
    return await handler(request)


async def _idle_locker(app: web.Application) -> AsyncIterator[None]:
    session = app[SESSION]

    async def watch() -> None:
        while True:
            await asyncio.sleep(min(_IDLE_CHECK_SECONDS, session.idle_seconds))
            await session.lock_if_idle()

    task = asyncio.create_task(watch())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await session.lock()


def create_ui(
    home: Path, *, secret: str, origin: Callable[[], str], idle_minutes: float
) -> web.Application:
    """The app for the replica in ``home``; ``origin()`` is its own
    ``http://127.0.0.1:PORT`` (known once it listens)."""
    app = create_face(
        TEMPLATES,
        max_upload_mb=_MAX_UPLOAD_MB,
        middlewares=(_lock_gate,),
        outer_middlewares=(make_guard(secret, origin),),
    )
    app[SESSION] = Session(Path(home), idle_seconds=idle_minutes * 60)
    app.cleanup_ctx.append(_idle_locker)
    add = app.router
    add.add_get("/", session_pages.home, name="home")
    add.add_get("/unlock", session_pages.unlock_form, name="unlock")
    add.add_post("/unlock", session_pages.unlock_post, name="unlock_post")
    add.add_post("/lock", session_pages.lock, name="lock")
    add.add_post("/sync", session_pages.sync_start, name="sync_start")
    add.add_get("/sync", session_pages.sync_page, name="sync")
    add.add_get("/records/{type}", records.record_list, name="list")
    add.add_get("/records/{type}/new", records.form_page, name="new")
    add.add_post("/records/{type}/new", records.form_post)
    add.add_get("/record/{id}", records.record_page, name="record")
    add.add_post("/record/{id}/visitor", edits.visitor_mark, name="visitor_mark")
    add.add_post("/record/{id}/update", edits.complaint_update, name="complaint_update")
    return app
