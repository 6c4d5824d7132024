"""``GET /_beatsync/audit?db=`` pages the device journals too, on both backends."""

from __future__ import annotations

from tests.server.conftest import (
    backend,
    basic,
    bearer,
    field_edits,
    record,
)
from tests.server.conftest import client_on_both as client
from tests.server.conftest import district_on_both as district

__all__ = ["backend", "client", "district"]

DB = "/station-alpha"


async def test_field_edits_page_by_journal_id_and_chains_hold_across_pages(
    client, district
) -> None:
    headers = bearer(district, "dev-so-alpha")
    pushed = field_edits(district, "dev-so-alpha", [record(s) for s in (210, 211, 212, 213)])
    del pushed[5]  # the device lost entry 3 of its journal
    answer = await client.post(
        f"{DB}/_bulk_docs", json={"docs": pushed, "new_edits": False}, headers=headers
    )
    assert await answer.json() == []
    pages, after = [], None
    for _ in range(5):
        query = "db=station-alpha&limit=1" + (f"&journal_after={after}" if after else "")
        page = await (
            await client.get(f"/_beatsync/audit?{query}", headers=basic("central"))
        ).json()
        assert len(page["field_edits"]) <= 1
        pages.append(page)
        after = page["next_journal_after"]
        if after is None:
            break
    assert [p["field_edits"][0]["seq"] for p in pages] == [1, 2, 4]
    assert all(p["field_edits"][0]["reached_gateway"] for p in pages)
    # Each page alone: the chain holds from the entry before it, and the loss shows once.
    assert [p["chain_breaks"] for p in pages] == [
        [],
        [],
        [{"device_id": "dev-so-alpha", "seq": 4, "reason": "entries 3..3 are missing"}],
    ]
    bad = await client.get(
        "/_beatsync/audit?db=station-alpha&journal_after=records", headers=basic("central")
    )
    assert bad.status == 400
