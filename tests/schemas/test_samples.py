"""The sample generator other tests and the benchmarks build on."""

from __future__ import annotations

import json
import re
from collections import Counter

import orjson
import pytest

from schemas import validate
from schemas.samples import MAX_BYTES, MIN_BYTES, sample_records

DEVANAGARI = re.compile("[\u0900-\u097f]")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return sample_records(300, seed=7)


def test_every_sample_is_valid(records: list[dict]) -> None:
    for record in records:
        validate(record)


def test_samples_are_half_a_kilobyte_to_two(records: list[dict]) -> None:
    sizes = [len(orjson.dumps(record)) for record in records]
    assert min(sizes) >= MIN_BYTES
    assert max(sizes) <= MAX_BYTES


def test_samples_mix_three_types_and_both_scripts(records: list[dict]) -> None:
    counts = Counter(record["type"] for record in records)
    assert set(counts) == {"complaint", "visitor_entry", "verification_visit"}
    assert all(count >= 30 for count in counts.values())
    text = json.dumps(records, ensure_ascii=False)
    assert DEVANAGARI.search(text)
    assert re.search("[A-Za-z]{4} [A-Za-z]{4}", text)


def test_same_seed_same_records_other_seed_other_records() -> None:
    assert sample_records(40, seed=3) == sample_records(40, seed=3)
    assert sample_records(40, seed=3) != sample_records(40, seed=4)
    # A longer run starts with the shorter one: benchmarks can grow n and keep ids.
    assert sample_records(60, seed=3)[:40] == sample_records(40, seed=3)


def test_ids_are_random_uuid4_hex_and_unique(records: list[dict]) -> None:
    ids = [record["_id"] for record in records]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch("[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}", i) for i in ids)


def test_station_beats_and_officer_are_honoured() -> None:
    records = sample_records(
        30, seed=1, station_id="gaya-civil-lines", beat_ids=("beat-9",), officer="officer-3"
    )
    for record in records:
        validate(record)
        assert record["station_id"] == "gaya-civil-lines"
        assert record["beat_id"] == "beat-9"
        assert record["created_by"] == record["updated_by"] == "officer-3"
