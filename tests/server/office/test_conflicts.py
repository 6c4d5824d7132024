"""The conflict queue's pages on both backends: who sees what, the side-by-side
view, a resolution written through the desk, and refusals that store nothing."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.gateway.keys import STATE, STORES
from tests.server.conflicts.support import NAMES, queued_complaint
from tests.server.office.conftest import log_in, post

REASON = "Her ration card reads Sunita Kumari."


def _page(doc_id: str) -> str:
    return f"/office/conflicts/alpha/{doc_id}"


async def _leaves(office: TestClient[Any, Any], doc_id: str) -> list[str]:
    store = await office.server.app[STORES].get("alpha")
    rows = await store.open_revs(doc_id, "all")
    return sorted(r["ok"]["_rev"] for r in rows if "ok" in r and not r["ok"].get("_deleted"))


async def test_the_queue_lists_it_and_the_page_shows_the_versions_side_by_side(
    office: TestClient[Any, Any],
) -> None:
    doc_id, revs = await queued_complaint(office)
    assert await log_in(office, "central") == 303
    queue = await (await office.get("/office/conflicts")).text()
    assert doc_id in queue
    assert "complainant.name" in queue
    page = await office.get(_page(doc_id))
    html = await page.text()
    assert page.status == 200
    assert all(name in html for name in NAMES)
    assert all(f'value="{rev}"' in html for rev in revs)
    assert 'class="diff" data-field="complainant.name"' in html  # the one to choose
    assert "so-alpha" in html  # who sent each version


async def test_an_sho_sees_only_their_own_station(office: TestClient[Any, Any]) -> None:
    doc_id, _ = await queued_complaint(office)
    assert await log_in(office, "so-bravo") == 303
    assert doc_id not in await (await office.get("/office/conflicts")).text()
    assert (await office.get("/office/conflicts?station=alpha")).status == 403
    assert (await office.get(_page(doc_id))).status == 403
    office.session.cookie_jar.clear()
    assert await log_in(office, "so-alpha") == 303
    assert doc_id in await (await office.get("/office/conflicts")).text()


async def test_an_admin_manages_devices_and_reads_no_records(office: TestClient[Any, Any]) -> None:
    doc_id, _ = await queued_complaint(office)
    assert await log_in(office, "admin") == 303
    assert (await office.get("/office/devices")).status == 200
    assert (await office.get(_page(doc_id))).status == 403
    assert (await office.get("/office/audit")).status == 403


async def test_resolving_field_by_field_writes_one_audited_revision(
    office: TestClient[Any, Any],
) -> None:
    doc_id, revs = await queued_complaint(office)
    assert await log_in(office, "central") == 303
    store = await office.server.app[STORES].get("alpha")
    names = {(await store.get(doc_id, rev=rev))["complainant"]["name"]: rev for rev in revs}
    kumari = names[NAMES[1]]
    fields = {"reason": REASON, "field:complainant.name": kumari, "leaf": revs}
    status, _ = await post(office, _page(doc_id), fields)
    assert status == 303
    (rev,) = await _leaves(office, doc_id)
    resolved = await store.get(doc_id)
    assert resolved["complainant"]["name"] == NAMES[1]
    assert resolved["action_log"][-1]["note"] == REASON
    assert resolved["action_log"][-1]["by"] == "central"
    audit = await office.server.app[STATE].entries_of("station-alpha", {(doc_id, rev)})
    assert audit[(doc_id, rev)].officer_id == "central"
    assert doc_id not in await (await office.get("/office/conflicts")).text()
    trail = await (await office.get(f"/office/audit?station=alpha&record={doc_id}")).text()
    assert rev[:12] in trail
    assert "central" in trail


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reason": "   "}, "Write the reason for this resolution"),
        ({"reason": REASON}, "Choose a version for every field"),
        ({"reason": REASON, "choose": "9-deadbeef"}, "not one of the versions shown"),
        ({"reason": "x" * 2001, "choose": "LEAF"}, "the reason is too long"),
    ],
)
async def test_a_refused_resolution_says_why_and_stores_nothing(
    office: TestClient[Any, Any], fields: dict[str, str], message: str
) -> None:
    doc_id, revs = await queued_complaint(office)
    assert await log_in(office, "central") == 303
    if fields.get("choose") == "LEAF":
        fields = {**fields, "choose": revs[0]}
    status, html = await post(office, _page(doc_id), {**fields, "leaf": revs})
    assert status == 400
    assert message in html
    assert await _leaves(office, doc_id) == revs
    assert doc_id in await (await office.get("/office/conflicts")).text()


@pytest.mark.parametrize("token", [None, "forged-token-forged-token-forged-token-forg"])
async def test_a_resolution_without_the_right_csrf_token_is_403_and_changes_nothing(
    office: TestClient[Any, Any], token: str | None
) -> None:
    doc_id, revs = await queued_complaint(office)
    assert await log_in(office, "central") == 303
    data = {
        "reason": REASON,
        "choose": revs[0],
        "leaf": revs,
        **({"csrf_token": token} if token else {}),
    }
    answer = await office.post(_page(doc_id), data=data, allow_redirects=False)
    assert answer.status == 403
    assert await _leaves(office, doc_id) == revs
