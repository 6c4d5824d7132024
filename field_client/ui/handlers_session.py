"""Unlock, lock, the start page and sync: the app's own state, not records."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from field_client.errors import NoReplica, WrongPassphrase
from field_client.replica import FieldReplica
from field_client.ui.fields import N_
from field_client.ui.keys import SESSION
from field_client.ui.listing import is_today
from field_client.ui.session import Session
from field_client.ui.syncing import SyncJob
from schemas.web.pages import gettext_for, render

__all__ = [
    "home",
    "lock",
    "page",
    "replica_of",
    "sync_page",
    "sync_start",
    "unlock_form",
    "unlock_post",
]

WRONG_PASSPHRASE = N_("The passphrase is wrong. Nothing was opened; try again.")


def page(
    template: str, request: web.Request, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A page of the app: the frame's, plus whether the menu is shown (unlocked)."""
    context["unlocked"] = session_of(request).unlocked
    return render(template, request, context, status=status)


def session_of(request: web.Request) -> Session:
    return request.config_dict[SESSION]


def replica_of(request: web.Request) -> FieldReplica:
    replica = session_of(request).replica
    if replica is None:  # the lock middleware sends a locked app to /unlock first
        raise web.HTTPSeeOther(str(request.app.router["unlock"].url_for()))
    return replica


async def unlock_form(request: web.Request) -> web.Response:
    return page("unlock.html", request, {"title": gettext_for(request)("Unlock"), "error": ""})


async def unlock_post(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    passphrase = str((await request.post()).get("passphrase", ""))
    try:
        await session_of(request).unlock(passphrase)
    except WrongPassphrase:
        return page(
            "unlock.html", request, {"title": _("Unlock"), "error": _(WRONG_PASSPHRASE)}, status=401
        )
    except NoReplica as exc:
        return page("unlock.html", request, {"title": _("Unlock"), "error": exc.reason}, status=404)
    raise web.HTTPSeeOther(str(request.app.router["home"].url_for()))


async def lock(request: web.Request) -> web.Response:
    await session_of(request).lock()
    raise web.HTTPSeeOther(str(request.app.router["unlock"].url_for()))


async def home(request: web.Request) -> web.Response:
    replica = replica_of(request)
    status = await replica.status()
    records = await replica.list_records()
    open_complaints = [
        d for d in records if d["type"] == "complaint" and d.get("status") not in ("closed",)
    ]
    assigned = [
        d for d in records if d["type"] == "verification_visit" and d.get("status") == "assigned"
    ]
    visitors = [d for d in records if d["type"] == "visitor_entry" and is_today(d)]
    context: dict[str, Any] = {
        "title": gettext_for(request)("Today"),
        "status": status,
        "open_complaints": len(open_complaints),
        "assigned_visits": len(assigned),
        "visitors_today": len(visitors),
        "job": session_of(request).sync_job,
    }
    return page("home.html", request, context)


async def sync_start(request: web.Request) -> web.Response:
    session = session_of(request)
    replica = replica_of(request)
    if session.sync_job is None or not session.sync_job.running:
        session.sync_job = SyncJob()
        session.sync_job.start(replica)
    raise web.HTTPSeeOther(str(request.app.router["sync"].url_for()))


async def sync_page(request: web.Request) -> web.Response:
    replica = replica_of(request)
    job = session_of(request).sync_job
    status = await replica.status()
    return page(
        "sync.html",
        request,
        {"title": gettext_for(request)("Sync"), "job": job, "status": status},
    )
