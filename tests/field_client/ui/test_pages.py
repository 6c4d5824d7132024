"""The app's pages over a real encrypted replica: forms checked by the schema with
the message beside the field, drafts that keep what was typed (sealed), lists
with search and pages, the lock, and a visit's photos read without temp files."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from field_client import render
from field_client.ui import uploads
from field_client.ui.listing import PAGE_SIZE
from schemas.i18n import translations
from tests.at_rest import marker_hits, markers, temp_files_inside
from tests.field_client.support import complaint, visitor
from tests.field_client.ui.support import PASSPHRASE, Ui, csrf_of, make_ui, new_device

hi = translations("hi").gettext
JPEG = b"\xff\xd8\xff\xe0" + b"photo of the door " * 50


def answers(**changes: str) -> dict[str, str]:
    base = {
        "name": "राम कुमार",
        "phone": "9876543210",
        "address": "मकान 14, कंकड़बाग, पटना",
        "category": "theft",
        "description": "बस स्टैंड पर फ़ोन छीना गया।",
        "place": "मीठापुर बस स्टैंड",
        "incident_time": "",
        "gps": "",
        "action": "save",
    }
    return {**base, **changes}


async def unlocked(ui: Ui) -> str:
    await ui.enter()
    answer = await ui.unlock()
    assert answer.status == 200
    return csrf_of(await answer.text())


def field_error(html: str, name: str) -> str:
    match = re.search(rf'id="f-{name}-error">([^<]*)<', html)
    return match.group(1) if match else ""


async def test_a_bad_phone_comes_back_with_its_message_in_hindi_and_nothing_is_stored(
    ui: Ui,
) -> None:
    token = await unlocked(ui)
    answer = await ui.post(
        "/records/complaint/new?lang=hi", {**answers(phone="98765"), "csrf_token": token}
    )
    assert answer.status == 422
    html = await answer.text()
    assert field_error(html, "phone") == hi("Give a 10-digit mobile number, like 9876543210.")
    assert field_error(html, "name") == ""
    assert 'value="98765"' in html  # the answer as typed is kept
    assert "मीठापुर बस स्टैंड" in html
    replica = ui.session.replica
    assert replica is not None
    assert await replica.list_records("complaint") == []


async def test_a_missing_field_and_a_bad_gps_are_named_beside_their_fields(ui: Ui) -> None:
    token = await unlocked(ui)
    answer = await ui.post(
        "/records/complaint/new", {**answers(name="", gps="1,2"), "csrf_token": token}
    )
    html = await answer.text()
    assert field_error(html, "name") == "Please fill this in."
    assert field_error(html, "gps").startswith("Give the place as latitude,longitude")


async def test_the_fixed_form_is_saved_signed_and_the_draft_is_gone(ui: Ui) -> None:
    token = await unlocked(ui)
    await ui.post("/records/complaint/new", {**answers(phone="98765"), "csrf_token": token})
    # The refused answers wait in the draft: the form opens with them.
    again = await (await ui.get("/records/complaint/new")).text()
    assert 'value="98765"' in again
    saved = await ui.post("/records/complaint/new", {**answers(), "csrf_token": token})
    assert saved.status == 200
    assert "/record/" in str(saved.url)
    replica = ui.session.replica
    assert replica is not None
    [doc] = await replica.list_records("complaint")
    assert doc["complainant"]["phone"] == "9876543210"
    assert doc["signature"]
    assert 'value="98765"' not in await (await ui.get("/records/complaint/new")).text()
    page = await (await ui.get(f"/record/{doc['_id']}")).text()
    assert doc["_rev"] in page  # the history
    assert "create" in page  # the journal entry


async def test_a_draft_is_sealed_on_disk_and_in_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp_files_inside(tmp_path, monkeypatch)
    m = markers(draft_en="QZXDRAFT", draft_hi="गुप्तमसौदा", photo="QZXUIPHOTO")
    await new_device(tmp_path / "device")
    async for ui in make_ui(tmp_path / "device"):
        token = await unlocked(ui)
        kept = await ui.post(
            "/records/complaint/new",
            {
                **answers(description=m["draft_hi"], place=m["draft_en"], action="draft"),
                "csrf_token": token,
            },
        )
        assert "Draft kept" in await kept.text()
        visit = await _post_visit(
            ui, token, findings=m["draft_en"], photo=JPEG + m["photo"].encode()
        )
        assert visit.status == 200
        await ui.post("/lock", {"csrf_token": token})
    # The control: the scan finds the markers where they are in the clear.
    (tmp_path / "control.txt").write_text(m["draft_hi"])
    assert marker_hits(tmp_path, m) == [("control.txt", "draft_hi")]


async def test_the_draft_survives_a_lock(ui: Ui) -> None:
    token = await unlocked(ui)
    await ui.post(
        "/records/complaint/new", {**answers(place="अधूरा", action="draft"), "csrf_token": token}
    )
    await ui.post("/lock", {"csrf_token": token})
    assert ui.session.replica is None
    locked = await ui.get("/records/complaint/new")
    assert locked.url.path == "/unlock"
    await ui.unlock()
    assert "अधूरा" in await (await ui.get("/records/complaint/new")).text()


async def test_a_wrong_passphrase_opens_nothing(ui: Ui) -> None:
    await ui.enter()
    answer = await ui.unlock("not the passphrase")
    assert answer.status == 401
    assert "The passphrase is wrong" in await answer.text()
    assert not ui.session.unlocked


async def test_the_app_locks_itself_when_idle(tmp_path: Path) -> None:
    await new_device(tmp_path / "device")
    async for ui in make_ui(tmp_path / "device", idle_minutes=0.01):
        await unlocked(ui)
        assert ui.session.unlocked
        await asyncio.sleep(1.2)
        answer = await ui.get("/")
        assert answer.url.path == "/unlock"
        assert not ui.session.unlocked


async def test_lists_search_filter_and_page(ui: Ui) -> None:
    await unlocked(ui)
    replica = ui.session.replica
    assert replica is not None
    for n in range(PAGE_SIZE + 5):
        await replica.save_record(complaint(f"Case number {n} at the market."))
    await replica.save_record(complaint("A stolen bicycle.", name="Sita Devi"))
    first = await (await ui.get("/records/complaint")).text()
    assert f"Records: {PAGE_SIZE + 6}" in first
    assert first.count('<li><a href="/record/') == PAGE_SIZE
    assert 'rel="next"' in first
    second = await (await ui.get("/records/complaint?page=2")).text()
    assert second.count('<li><a href="/record/') == 6
    found = await (await ui.get("/records/complaint", params={"q": "sita"})).text()
    assert "Records: 1" in found
    assert "Sita Devi" in found
    none = await (await ui.get("/records/complaint", params={"status": "closed"})).text()
    assert "Records: 0" in none


async def _post_visit(ui: Ui, token: str, *, findings: str, photo: bytes, query: str = "") -> Any:
    from aiohttp import FormData

    form = FormData()
    values = {
        "kind": "tenant",
        "name": "Sunil Yadav",
        "address": "House 221, Rajendra Nagar, Patna",
        "findings": findings,
        "recommendation": "clear",
        "neighbour_name_1": "Imran Ansari",
        "neighbour_statement_1": "He has lived here five years.",
        "action": "save",
    }
    for key, value in values.items():
        form.add_field(key, value)
    form.add_field("photos", photo, filename="door.jpg", content_type="image/jpeg")  # b"": none
    sep = "&" if query else "?"
    return await ui.post(f"/records/verification_visit/new{query}{sep}csrf_token={token}", form)


async def test_a_visit_with_a_photo_is_stored_sealed_without_a_temp_file(
    ui: Ui, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await unlocked(ui)

    def no_temp_files(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an upload was spooled to a temporary file")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_temp_files)
    answer = await _post_visit(ui, token, findings="Lives here.", photo=JPEG)
    assert answer.status == 200, await answer.text()
    replica = ui.session.replica
    assert replica is not None
    [visit] = await replica.list_records("verification_visit")
    assert visit["photos"] == ["photo-1.jpg"]
    assert visit["neighbours_statements"] == [
        {"name": "Imran Ansari", "statement": "He has lived here five years."}
    ]
    stored = await replica.db.get(visit["_id"], attachments=True)
    assert stored["_attachments"]["photo-1.jpg"]["content_type"] == "image/jpeg"


async def test_a_file_that_is_no_picture_is_refused_beside_the_photo_field(ui: Ui) -> None:
    token = await unlocked(ui)
    answer = await _post_visit(ui, token, findings="Lives here.", photo=b"MZ an executable")
    assert answer.status == 422
    assert field_error(await answer.text(), "photos") == uploads.NOT_AN_IMAGE
    replica = ui.session.replica
    assert replica is not None
    assert await replica.list_records("verification_visit") == []


async def test_an_assigned_visit_is_listed_with_its_deadline_and_recorded_in_place(ui: Ui) -> None:
    token = await unlocked(ui)
    replica = ui.session.replica
    assert replica is not None
    assigned = assigned_visit()
    await replica.db.put(assigned)
    listed = await (await ui.get("/records/verification_visit?status=assigned")).text()
    assert "7 मिल रोड, सिविल लाइंस" in listed
    assert "due by 2026-12-16" in listed
    form = await (await ui.get(f"/records/verification_visit/new?visit={assigned['_id']}")).text()
    assert "Meena Kumari" in form  # the request's answers, filled in
    answer = await _post_visit(
        ui, token, findings="She lives here.", photo=JPEG, query=f"?visit={assigned['_id']}"
    )
    assert answer.status == 200, await answer.text()
    visit = await replica.get_record(assigned["_id"])
    assert visit["status"] == "visited"
    assert visit["certificate_request_id"] == "c" * 32
    assert visit["photos"] == ["photo-1.jpg"]


def assigned_visit() -> dict[str, Any]:
    """A visit as the portal assigns it from a certificate request (created 1 Dec)."""
    return {
        "_id": "a" * 32,
        "type": "verification_visit",
        "schema_version": 2,
        "station_id": "kotwali",
        "beat_id": "beat-3",
        "created_by": "citizen:portal",
        "created_at": "2026-12-01T10:00:00+05:30",
        "updated_by": "citizen:portal",
        "updated_at": "2026-12-01T10:00:00+05:30",
        "status": "assigned",
        "kind": "tenant",
        "subject": {"name": "Meena Kumari", "phone": "9123456780"},
        "address": "7 मिल रोड, सिविल लाइंस",
        "certificate_request_id": "c" * 32,
    }


async def test_the_passphrase_never_reaches_a_page(ui: Ui) -> None:
    await ui.enter()
    answer = await ui.unlock()
    assert PASSPHRASE not in await answer.text()


async def test_a_record_page_shows_what_the_office_decided_on_its_conflict(ui: Ui) -> None:
    await unlocked(ui)
    replica = ui.session.replica
    assert replica is not None
    reason = "The Aadhaar card reads Sunita Devi."
    decided = complaint()
    decided["action_log"].append(
        {
            "at": "2026-12-04T10:00:00+05:30",
            "by": "so.verma",
            "action": "conflict_resolved",
            "note": reason,
        }
    )
    doc_id, _ = await replica.save_record(decided)
    plain, _ = await replica.save_record(complaint())
    html = await (await ui.get(f"/record/{doc_id}?lang=hi")).text()
    said = hi("The office decided this record's conflict: %(reason)s (%(by)s, %(at)s)") % {
        "reason": reason,
        "by": "so.verma",
        "at": render.local_time("2026-12-04T10:00:00+05:30"),  # the wall clock's time
    }
    assert said in html
    facts = html[html.index('id="facts"') : html.index("</dl>")]
    assert "2026-11-28T18:30:00+05:30" not in facts  # the incident time, as the clock reads it
    assert render.local_time("2026-11-28T18:30:00+05:30") in facts
    assert 'id="decision"' not in await (await ui.get(f"/record/{plain}")).text()


def _rev_of(html: str) -> str:
    match = re.search(r'name="rev" value="([^"]+)"', html)
    assert match, "the page has no edit form"
    return match.group(1)


async def test_a_visitor_is_checked_out_from_the_record_page(ui: Ui) -> None:
    token = await unlocked(ui)
    replica = ui.session.replica
    assert replica is not None
    doc_id, _ = await replica.save_record(visitor())
    html = await (await ui.get(f"/record/{doc_id}?lang=hi")).text()
    assert hi("Mark as gone (time out now)") in html
    answer = await ui.post(
        f"/record/{doc_id}/visitor", {"action": "out", "rev": _rev_of(html), "csrf_token": token}
    )
    assert answer.status == 200  # followed to the record page
    assert "time_out" in await replica.get_record(doc_id)
    assert 'id="check-out"' not in await answer.text()
    # An old page's form (the revision it saw is gone) stores nothing.
    again = await ui.post(
        f"/record/{doc_id}/visitor", {"action": "out", "rev": _rev_of(html), "csrf_token": token}
    )
    assert again.status == 409


async def test_a_complaint_update_is_logged_and_a_refused_one_keeps_what_was_typed(
    ui: Ui,
) -> None:
    token = await unlocked(ui)
    replica = ui.session.replica
    assert replica is not None
    doc_id, _ = await replica.save_record(complaint())
    html = await (await ui.get(f"/record/{doc_id}")).text()
    rev = _rev_of(html)
    # A beat officer may not close a complaint: said beside the status, the note kept.
    refused = await ui.post(
        f"/record/{doc_id}/update?lang=hi",
        {"status": "closed", "note": "समझौता हो गया", "rev": rev, "csrf_token": token},
    )
    assert refused.status == 422
    page = await refused.text()
    assert field_error(page, "status") == hi(
        "Your role may not move the complaint to this status (a station officer decides)."
    )
    assert "समझौता हो गया" in page
    assert (await replica.get_record(doc_id))["_rev"] == rev  # nothing stored
    empty = await ui.post(f"/record/{doc_id}/update?lang=en", {"rev": rev, "csrf_token": token})
    assert empty.status == 422
    assert field_error(await empty.text(), "note") == "Write a note or choose a new status."
    done = await ui.post(
        f"/record/{doc_id}/update",
        {"status": "assigned", "note": "Taken up.", "rev": rev, "csrf_token": token},
    )
    assert done.status == 200
    doc = await replica.get_record(doc_id)
    assert doc["status"] == "assigned"
    assert doc["action_log"][-1]["note"] == "Taken up."


async def test_a_refused_visits_photo_is_kept_sealed_in_its_draft_and_saved_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp_files_inside(tmp_path, monkeypatch)
    m = markers(photo="QZXDRAFTPHOTO")
    await new_device(tmp_path / "device")
    async for ui in make_ui(tmp_path / "device"):
        token = await unlocked(ui)
        photo = JPEG + m["photo"].encode()
        refused = await _post_visit(ui, token, findings="", photo=photo)  # findings missing
        assert refused.status == 422
        assert 'id="kept-photos"' in await refused.text()
        assert (
            hi("Photos kept with this draft: %(num)s. New ones are added to them.") % {"num": 1}
            in await (await ui.get("/records/verification_visit/new?lang=hi")).text()
        )
        await ui.post("/lock", {"csrf_token": token})
        # Locked: the draft's photo is on disk only sealed.
        assert marker_hits(tmp_path, m) == []
        token = await unlocked(ui)
        saved = await _post_visit(ui, token, findings="Lives here.", photo=b"")  # no new photo
        assert saved.status == 200
        replica = ui.session.replica
        assert replica is not None
        [visit] = await replica.list_records("verification_visit")
        assert visit["photos"] == ["photo-1.jpg"]
        stored = await replica.db.get(visit["_id"], attachments=True)
        assert stored["_attachments"]["photo-1.jpg"]["content_type"] == "image/jpeg"
