"""Device sync health, the audit trail and /metrics, on both backends."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp.test_utils import TestClient

from server.gateway.keys import STATE
from tests.server.conflicts.support import queued_complaint
from tests.server.conftest import basic, bearer, bulk_docs, record
from tests.server.office.conftest import log_in


async def test_devices_silent_too_long_are_marked_and_counted(
    office: TestClient[Any, Any], district: Any
) -> None:
    # dev-bo-one syncs now; dev-so-alpha never has: it is stale.
    assert (await office.get("/station-alpha/_changes", headers=bearer(district, "dev-bo-one"))).ok
    assert await log_in(office, "central") == 303
    html = await (await office.get("/office/devices?stale_hours=1")).text()
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    by_device = {row.split('class="code">')[1].split("<")[0]: row for row in rows}
    assert "stale" in by_device["dev-so-alpha"]
    assert "stale" not in by_device["dev-bo-one"]
    assert "revoked" in by_device["dev-revoked"]
    assert "stale" not in by_device["dev-revoked"]
    # Its officer revoked: the device is gone, not silent.
    assert "revoked" in by_device["dev-gone"]
    assert "stale" not in by_device["dev-gone"]
    assert "Devices silent for more than 1 hours: " in html


async def test_devices_show_what_they_said_they_still_had_to_push(
    office: TestClient[Any, Any], district: Any
) -> None:
    headers = {**bearer(district, "dev-bo-one"), "X-BeatSync-Pending": "3"}
    assert (await office.get("/station-alpha/_changes", headers=headers)).ok
    assert await log_in(office, "central") == 303
    devices = (await (await office.get("/_beatsync/devices", headers=basic("central"))).json())[
        "devices"
    ]
    (row,) = [d for d in devices if d["device_id"] == "dev-bo-one"]
    assert row["pending"] == 3
    assert row["pending_at"] is not None

    def cell(html: str) -> str:
        row = html.split('class="code">dev-bo-one')[1]
        return row.split('class="pending">')[1].split("</td>")[0]

    assert "<strong>3</strong>" in cell(await (await office.get("/office/devices")).text())
    # The end of the push (its checkpoint) says nothing is left.
    done = {**bearer(district, "dev-bo-one"), "X-BeatSync-Pending": "0"}
    put = await office.put("/station-alpha/_local/push-checkpoint", json={"n": 1}, headers=done)
    assert put.status == 201, await put.text()
    page = await (await office.get("/office/devices")).text()
    assert cell(page) == "none: everything uploaded"
    assert cell(await (await office.get("/office/devices")).text()) == cell(page)
    for bad in ("-1", "many", "1e3", str(10**10)):
        refused = await office.get(
            "/station-alpha/_changes",
            headers={**bearer(district, "dev-bo-one"), "X-BeatSync-Pending": bad},
        )
        assert refused.status == 400, bad
        assert (await refused.json())["error"] == "bad_request"
    devices = (await (await office.get("/_beatsync/devices", headers=basic("central"))).json())[
        "devices"
    ]
    assert [d["pending"] for d in devices if d["device_id"] == "dev-bo-one"] == [0]


async def test_an_sho_sees_only_their_station_s_devices(office: TestClient[Any, Any]) -> None:
    assert await log_in(office, "so-bravo") == 303
    html = await (await office.get("/office/devices")).text()
    assert "dev-bo-one" not in html


async def test_bad_filters_get_a_clear_400_page(office: TestClient[Any, Any]) -> None:
    assert await log_in(office, "central") == 303
    for path in (
        "/office/devices?stale_hours=0",
        "/office/devices?stale_hours=abc",
        "/office/audit?since=-1",
        "/office/audit?station=nowhere",
        "/office/audit?record=abc",
        "/office/conflicts?after=nonsense",
    ):
        answer = await office.get(path)
        assert answer.status == 400, path
        assert "Go back and choose again." in await answer.text(), path


async def test_the_audit_trail_pages_and_never_answers_everything_at_once(
    office: TestClient[Any, Any],
) -> None:
    docs = [record(seed) for seed in range(60)]
    assert all(a.get("ok") for a in await bulk_docs(office, docs, basic("so-alpha")))
    assert await log_in(office, "central") == 303
    first = await (await office.get("/office/audit?station=alpha")).text()
    assert first.count("<tr><td>") == 50
    next_link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = await (await office.get(next_link.replace("&amp;", "&"))).text()
    assert second.count("<tr><td>") == 10
    assert 'rel="next"' not in second
    seen = {d["_id"] for d in docs}
    assert all(doc_id in first + second for doc_id in seen)


async def test_metrics_speak_prometheus(office: TestClient[Any, Any], district: Any) -> None:
    await queued_complaint(office)
    await office.get("/station-alpha/_changes", headers=bearer(district, "dev-bo-one"))
    answer = await office.get("/metrics")  # the test client is on loopback
    assert answer.status == 200
    text = await answer.text()
    assert "beatsync_conflicts_open 1.0" in text
    assert "beatsync_conflicts_queued_total 1.0" in text
    assert 'beatsync_sync_requests_total{direction="pull"} 1.0' in text
    assert 'beatsync_sync_requests_total{direction="push"}' in text
    assert 'beatsync_request_seconds_count{face="sync"}' in text
    assert "beatsync_devices_stale " in text
    assert await office.server.app[STATE].count_conflicts() == 1


def _csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


async def test_the_queue_devices_and_audit_download_as_csv(
    office: TestClient[Any, Any], district: Any
) -> None:
    queued, _ = await queued_complaint(office)
    docs = [record(seed) for seed in range(100, 130)]
    assert all(a.get("ok") for a in await bulk_docs(office, docs, basic("so-alpha")))
    assert await log_in(office, "central") == 303
    queue = _csv(await (await office.get("/office/conflicts.csv")).read())
    assert queue[0] == ["Station", "Record", "Record id", "Fields to choose", "Queued"]
    assert [row[2] for row in queue[1:]] == [queued]
    devices = _csv(await (await office.get("/office/devices.csv?stale_hours=1")).read())
    by_id = {row[0]: row for row in devices[1:]}
    assert by_id["dev-revoked"][-1] == "revoked"
    assert by_id["dev-so-alpha"][-1] == "silent"
    audit = _csv(await (await office.get("/office/audit.csv?station=alpha")).read())
    assert {d["_id"] for d in docs} <= {row[4] for row in audit[1:]}
    assert [int(row[0]) for row in audit[1:]] == sorted(int(row[0]) for row in audit[1:])
    assert (await office.get("/office/audit.csv?station=nowhere")).status == 400
    office.session.cookie_jar.clear()
    assert await log_in(office, "so-bravo") == 303
    assert (await office.get("/office/audit.csv?station=alpha")).status == 403
    assert _csv(await (await office.get("/office/conflicts.csv")).read())[1:] == []
