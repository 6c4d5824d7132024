"""Issue 12, friction 7: `serve` says where it listens and what it serves; ids are whole."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from server.cli import main
from tests.peers import free_port
from tests.server.gateway import serve_process


def test_officer_list_never_truncates_ids_on_an_80_column_terminal(tmp_path: Path) -> None:
    data = ["--data", str(tmp_path / "data")]
    runner = CliRunner(env={"COLUMNS": "80"})
    long_id = "si.rajendra.prasad-kotwali-bazaar-2026"
    for args in (
        ["station", "add", "kotwali", "--name", "Kotwali PS"],
        ["beat", "add", "kotwali", "bazaar", "--name", "Bazaar"],
        # A long id and a long name: the name may wrap, the id must not.
        [
            *f"officer add {long_id} --role beat_officer --station kotwali".split(),
            *["--beat", "bazaar", "--password", "a-long-password-1"],
            *["--name", "Rajendra Prasad Srivastava"],
        ],
    ):
        result = runner.invoke(main, [*args, *data])
        assert result.exit_code == 0, result.output
    listing = runner.invoke(main, ["officer", "list", *data]).output
    assert long_id in listing, listing
    assert max(len(line) for line in listing.splitlines()) <= 80, listing


def test_serve_prints_its_url_and_data_folder(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    log = tmp_path / "serve.log"

    async def run() -> str:
        # serve() returns once /_up answers: the socket listens, so the line is written.
        process = await serve_process.serve(data, port, log)
        try:
            return log.read_text()
        finally:
            await serve_process.stop(process)

    text = asyncio.run(run())
    assert f"http://127.0.0.1:{port}/" in text, text
    assert str(data.resolve()) in text, text
