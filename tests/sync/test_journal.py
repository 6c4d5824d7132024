"""The offline edit journal: a per-device hash chain the centre can check."""

from __future__ import annotations

from typing import Any

from sync.journal import ChainBreak, entry_id, next_entry, verify_chain


def chain(device_id: str, n: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for i in range(n):
        entries.append(next_entry(
            entries[-1] if entries else None,
            device_id=device_id, record_id=f"rec-{i % 2}", record_type="complaint",
            rev=f"{i + 1}-abc", parent_rev=f"{i}-abc" if i else None,
            action="create" if i == 0 else "update", at=f"2026-11-29T05:0{i}:00+05:30",
            envelope={"station_id": "kotwali", "beat_id": "kotwali-bazaar", "created_by": "bo-1"},
        ))
    return entries


def test_an_intact_chain_in_any_order_verifies() -> None:
    a, b = chain("dev-a", 4), chain("dev-b", 3)
    assert verify_chain([*reversed(a), *b]) == []
    assert [e["seq"] for e in a] == [1, 2, 3, 4]
    assert a[0]["prev_hash"] is None
    assert a[1]["prev_hash"] == a[0]["hash"]
    assert a[2]["_id"] == entry_id("dev-a", 3) == "journal-dev-a-0000000003"


def test_a_missing_entry_is_flagged() -> None:
    a = chain("dev-a", 4)
    assert verify_chain([a[0], a[1], a[3]]) == [ChainBreak("dev-a", 4, "entries 3..3 are missing")]


def test_an_altered_entry_is_flagged_where_it_was_altered() -> None:
    a = chain("dev-a", 3)
    a[1] = {**a[1], "rev": "2-forged"}
    assert verify_chain(a) == [ChainBreak("dev-a", 2, "hash does not match the entry's content")]


def test_a_rewritten_history_breaks_the_link_to_the_next_entry() -> None:
    a = chain("dev-a", 3)
    forged = next_entry(a[0], device_id="dev-a", record_id="rec-9", record_type="complaint",
                        rev="2-zzz", parent_rev="1-abc", action="update", at="x",
                        envelope={"station_id": "kotwali"})
    assert verify_chain([a[0], forged, a[2]]) == [
        ChainBreak("dev-a", 3, "prev_hash does not match the entry before")
    ]


def test_signature_is_not_part_of_the_hash() -> None:
    a = chain("dev-a", 2)
    a[1] = {**a[1], "signature": {"device_id": "dev-a", "alg": "ed25519", "value": "x"}}
    assert verify_chain(a) == []
