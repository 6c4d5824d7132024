"""Issue 12, friction 2: a too-short passphrase is refused at its first entry."""

from __future__ import annotations

from pathlib import Path

from tests.field_client.support import beatsync


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
