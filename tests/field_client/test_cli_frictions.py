"""Issue 12, the field CLI's frictions: each test failed on the CLI before its fix."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from field_client import render
from tests.field_client.support import beatsync, beatsync_json, complaint, init_offline


def test_a_too_short_passphrase_is_refused_before_it_is_asked_again(tmp_path: Path) -> None:
    home = tmp_path / "device"
    good = "a long enough passphrase"
    result = beatsync(
        home,
        *["init", "--offline", "--officer", "bo-1", "--station", "kotwali", "--beat", "bazaar"],
        input=f"short\n{good}\n{good}\n",
        env={},
    )
    assert result.exit_code == 0, result.output
    # Refused once, at the first entry: the repeat is asked only for the good one.
    assert result.output.count("at least 8 characters") == 1, result.output
    assert result.output.count("Repeat for confirmation") == 1, result.output


def test_lists_page_with_limit_and_all(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    for n in range(3):
        record = orjson.dumps(complaint(f"Complaint number {n} about a theft.")).decode()
        beatsync_json(home, "complaint", "new", "--from-json", "-", input=record)
    assert len(beatsync_json(home, "complaint", "list", "--limit", "2")) == 2
    assert len(beatsync_json(home, "complaint", "list", "--all")) == 3
    shown = beatsync(home, "complaint", "list", "--limit", "2")
    assert shown.exit_code == 0, shown.output
    assert "2 of 3" in shown.output, shown.output


def test_list_times_are_in_the_devices_time_zone_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        doc = {**complaint(), "_id": "c" * 32, "created_at": "2026-12-04T00:00:00+00:00"}
        console = Console(width=80, record=True)
        console.print(render.record_list("complaint", [doc]))
        text = console.export_text()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert "2026-12-04 05:30" in text, text
    assert "+00:00" not in text, text
