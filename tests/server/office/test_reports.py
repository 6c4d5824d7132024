"""The office's reports on both backends: counts by station, status,
category and month from the index (the embedded one, or the district
database's views after the fan-in replication), the overdue lists, CSV."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from schemas.i18n import month_name
from server.gateway.keys import REPORTS
from server.office.csv_export import safe_cell
from server.state.reports import OverdueQuery, canonical_time, month_of
from tests.server.conftest import basic, bulk_docs, record
from tests.server.office.conftest import log_in

NOW = datetime.now(UTC)
MONTH = month_of(NOW - timedelta(hours=1))
OLD = NOW - timedelta(days=40)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def complaint(
    seed: int, *, station: str, category: str, at: datetime, status: str = "registered"
) -> dict[str, Any]:
    beat = {"alpha": "alpha-one", "bravo": "bravo-one"}[station]
    officer = {"alpha": "so-alpha", "bravo": "so-bravo"}[station]
    doc = record(seed, station=station, beat=beat, officer=officer, record_type="complaint")
    doc.update(category=category, status=status, created_at=_stamp(at), updated_at=_stamp(at))
    doc.pop("assigned_officer", None)
    doc.pop("fir_number", None)
    doc["action_log"] = [{"at": _stamp(at), "by": officer, "action": "registered"}]
    if status == "closed":
        doc["action_log"].append({"at": _stamp(at), "by": officer, "action": "closed"})
    return doc


def visit(seed: int, *, at: datetime, status: str = "assigned") -> dict[str, Any]:
    doc = record(seed, record_type="verification_visit")
    doc.update(created_at=_stamp(at), updated_at=_stamp(at), status=status)
    doc["certificate_request_id"] = f"{seed:032x}"
    return doc


async def _write(client: TestClient[Any, Any], docs: list[dict[str, Any]], station: str) -> None:
    officer = {"alpha": "so-alpha", "bravo": "so-bravo"}[station]
    answers = await bulk_docs(client, docs, basic(officer), station=station)
    assert all(a.get("ok") for a in answers), answers


async def seeded(client: TestClient[Any, Any]) -> dict[str, str]:
    """Four complaints this month (3 at alpha, 1 at bravo), an old open one,
    an old closed one, a visit overdue and one not; the ids by name."""
    now = NOW - timedelta(hours=1)
    docs = {
        "theft-1": complaint(1, station="alpha", category="theft", at=now),
        "theft-2": complaint(2, station="alpha", category="theft", at=now),
        "assault": complaint(3, station="alpha", category="assault", at=now),
        "old-open": complaint(4, station="alpha", category="other", at=OLD),
        "old-closed": complaint(5, station="alpha", category="other", at=OLD, status="closed"),
        "late-visit": visit(6, at=OLD),
        "new-visit": visit(7, at=now),
        "visitor": record(8),
    }
    await _write(client, list(docs.values()), "alpha")
    bravo = complaint(9, station="bravo", category="theft", at=now)
    await _write(client, [bravo], "bravo")
    ids = {name: doc["_id"] for name, doc in docs.items()}
    ids["bravo"] = bravo["_id"]
    # On CouchDB the reports read the district database: wait for the fan-in.
    index = client.server.app[REPORTS]
    deadline = time.monotonic() + 30
    while (await index.counts(None, MONTH)).total < 4:
        assert time.monotonic() < deadline, "the district database never got the records"
        await asyncio.sleep(0.3)
    return ids


def _table(html: str, table_id: str) -> dict[str, str]:
    body = html.split(f'id="{table_id}"')[1].split("</tbody>")[0].split("<tbody>")[1]
    rows = [r.split("</tr>")[0] for r in body.split("<tr>")[1:]]
    cells = [[c.split("</td>")[0] for c in r.split("<td>")[1:]] for r in rows]
    return {c[0]: c[1] for c in cells}


async def test_the_month_is_counted_by_station_status_and_category(
    office: TestClient[Any, Any],
) -> None:
    await seeded(office)
    assert await log_in(office, "central") == 303
    answer = await office.get(f"/office/reports?month={MONTH}")
    assert answer.status == 200
    html = await answer.text()
    assert f"Complaints made in {month_name(MONTH, 'en', 'MMMM y')}: 4" in html
    assert _table(html, "by-station") == {"alpha": "3", "bravo": "1"}
    assert _table(html, "by-status") == {"Registered": "4"}
    assert _table(html, "by-category") == {"Theft": "3", "Assault": "1"}
    # The chart: twelve bars, this month's the last, with its number.
    assert html.count("<rect ") == 12
    assert f"<title>{month_name(MONTH, 'en')}: 4</title>" in html
    assert "<script" not in html
    hindi = await (await office.get(f"/office/reports?month={MONTH}&lang=hi")).text()
    assert f"{month_name(MONTH, 'hi', 'MMMM y')} में दर्ज शिकायतें: 4" in hindi
    assert f"<title>{month_name(MONTH, 'hi')}: 4</title>" in hindi
    assert "चोरी" in hindi  # the category, from the shared labels


async def test_an_sho_reports_on_their_station_only(office: TestClient[Any, Any]) -> None:
    await seeded(office)
    assert await log_in(office, "so-bravo") == 303
    html = await (await office.get(f"/office/reports?month={MONTH}")).text()
    assert f"Complaints made in {month_name(MONTH, 'en', 'MMMM y')}: 1" in html
    assert _table(html, "by-station") == {"bravo": "1"}
    assert (await office.get(f"/office/reports?month={MONTH}&station=alpha")).status == 403
    overdue = await (await office.get("/office/overdue/complaint?days=1")).text()
    assert "alpha" not in overdue.split('id="overdue"')[-1]
    assert (await office.get("/office/overdue/complaint.csv?station=alpha")).status == 403


async def test_overdue_lists_what_waits_too_long_and_nothing_else(
    office: TestClient[Any, Any],
) -> None:
    ids = await seeded(office)
    assert await log_in(office, "central") == 303
    visits = await (await office.get("/office/overdue/verification_visit")).text()
    assert ids["late-visit"] in visits
    assert ids["new-visit"] not in visits
    complaints = await (await office.get("/office/overdue/complaint")).text()
    assert ids["old-open"] in complaints
    assert ids["old-closed"] not in complaints  # closed: nothing to do
    assert ids["theft-1"] not in complaints  # acted on an hour ago
    # Asked about one hour instead of a week, the new complaints are late too.
    recent = await (await office.get("/office/overdue/complaint?days=1&station=alpha")).text()
    assert ids["theft-1"] not in recent
    assert ids["old-open"] in recent


async def test_overdue_pages_in_order_longest_waiting_first(office: TestClient[Any, Any]) -> None:
    ids = await seeded(office)
    index = office.server.app[REPORTS]
    before = canonical_time(NOW + timedelta(days=1))
    seen: list[str] = []
    query: OverdueQuery | None = OverdueQuery("complaint", None, before, limit=2)
    for _ in range(10):
        assert query is not None
        page = await index.overdue(query)
        seen += [item.doc_id for item in page.items]
        query = query.next(page)
        if query is None:
            break
    assert query is None
    assert seen[0] == ids["old-open"]
    assert sorted(seen) == sorted(
        ids[n] for n in ("old-open", "theft-1", "theft-2", "assault", "bravo")
    )
    one = await index.overdue(OverdueQuery("complaint", "bravo", before))
    assert [item.doc_id for item in one.items] == [ids["bravo"]]


async def test_every_list_downloads_as_csv(office: TestClient[Any, Any]) -> None:
    ids = await seeded(office)
    assert await log_in(office, "central") == 303
    answer = await office.get(f"/office/reports/category.csv?month={MONTH}")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await answer.read()).decode("utf-8-sig"))))
    assert rows == [["Category", "Complaints"], ["Theft", "3"], ["Assault", "1"]]
    months = list(
        csv.reader(
            io.StringIO(
                (
                    await (await office.get(f"/office/reports/month.csv?month={MONTH}")).read()
                ).decode("utf-8-sig")
            )
        )
    )
    assert len(months) == 13
    assert months[-1] == [MONTH, "4"]
    late = await office.get("/office/overdue/verification_visit.csv")
    rows = list(csv.reader(io.StringIO((await late.read()).decode("utf-8-sig"))))
    assert rows[0] == ["Station", "Beat", "Record", "Status", "Waiting since"]
    assert [r[2] for r in rows[1:]] == [ids["late-visit"]]


def test_a_cell_a_spreadsheet_would_run_is_written_as_text() -> None:
    for formula in ('=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(formula) == "'" + formula
    assert safe_cell("Theft") == "Theft"
    assert safe_cell(None) == ""
    assert safe_cell(4) == "4"


async def test_bad_report_filters_get_a_400_page_and_strangers_nothing(
    office: TestClient[Any, Any],
) -> None:
    assert (await office.get("/office/reports", allow_redirects=False)).status == 303
    assert await log_in(office, "central") == 303
    for path in (
        "/office/reports?month=2026-13",
        "/office/reports?month=march",
        "/office/reports?station=nowhere",
        "/office/reports/status.csv?month=x",
        "/office/overdue/complaint?days=0",
        "/office/overdue/complaint?days=abc",
        "/office/overdue/complaint?after=nonsense",
        "/office/overdue/complaint?after=%5B1%2C2%5D",
    ):
        answer = await office.get(path)
        assert answer.status == 400, path
        assert "Go back and choose again." in await answer.text(), path
    assert (await office.get("/office/overdue/appointment")).status == 404
    assert (await office.get("/office/reports/names.csv")).status == 404
    await office.post("/office/logout", data={})
    for officer in ("admin",):
        office.session.cookie_jar.clear()
        assert await log_in(office, officer) == 303
        assert (await office.get("/office/reports")).status == 403


async def test_the_report_pages_stay_light(office: TestClient[Any, Any]) -> None:
    await seeded(office)
    assert await log_in(office, "central") == 303
    for path in (f"/office/reports?month={MONTH}", "/office/overdue/complaint?days=1"):
        html = await (await office.get(path)).read()
        css_path = html.decode().split('rel="stylesheet" href="')[1].split('"')[0]
        css = await (await office.get(css_path)).read()
        assert len(gzip.compress(html)) + len(gzip.compress(css)) <= 30 * 1024, path


async def test_a_changed_or_deleted_record_moves_out_of_its_count(
    office: TestClient[Any, Any],
) -> None:
    ids = await seeded(office)
    headers = basic("so-alpha")
    closed = await (await office.get(f"/station-alpha/{ids['theft-1']}", headers=headers)).json()
    closed["status"] = "closed"
    closed["action_log"].append({"at": _stamp(NOW), "by": "so-alpha", "action": "closed"})
    gone = await (await office.get(f"/station-alpha/{ids['assault']}", headers=headers)).json()
    await _write(
        office, [closed, {"_id": gone["_id"], "_rev": gone["_rev"], "_deleted": True}], "alpha"
    )
    index = office.server.app[REPORTS]
    deadline = time.monotonic() + 30
    while True:
        counts = await index.counts(None, MONTH)
        if counts.total == 3 and counts.by_status.get("closed") == 1:
            break
        assert time.monotonic() < deadline, counts
        await asyncio.sleep(0.5)
    assert counts.by_status == {"registered": 2, "closed": 1}
    assert counts.by_category == {"theft": 3}
    assert counts.by_station == {"alpha": 2, "bravo": 1}
    assert (await index.months("alpha", MONTH, MONTH)) == {MONTH: 2}
