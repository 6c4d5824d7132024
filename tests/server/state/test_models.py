"""Identifiers: a slug is the whole string, never a prefix of it."""

from __future__ import annotations

import pytest

from schemas.identity import check_officer_id, check_slug
from server.state.models import station_of_db
from sync.errors import BadRequest


@pytest.mark.parametrize("value", ["beat-1\n", "Beat-1", "b", "1beat", "beat 1", "", None, 7])
def test_bad_slugs_are_refused(value: object) -> None:
    with pytest.raises(BadRequest):
        check_slug(value)


@pytest.mark.parametrize("value", ["sho-kotwali\n", "SHO", "-x", "a" * 65])
def test_bad_officer_ids_are_refused(value: str) -> None:
    with pytest.raises(BadRequest):
        check_officer_id(value)


@pytest.mark.parametrize(
    ("db_name", "station"),
    [("station-patna", "patna"), ("station-patna\n", None), ("station-", None),
     ("_users", None), ("station-../x", None)],
)
def test_station_of_db(db_name: str, station: str | None) -> None:
    assert station_of_db(db_name) == station
