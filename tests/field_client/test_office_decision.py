"""Issue 12: the office's decision on a conflict, shown on the device after sync.

Two real devices edit the complainant's name of one complaint offline, both
sync through the real gateway, the station officer decides the queued
conflict at the office's desk (``ConflictDesk.resolve``, what the office app
calls), and the first device's next ``beatsync sync``, ``complaint show``
and ``complaint list`` (the real CLI on its replica files) say what the
office decided and why.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from click.testing import CliRunner, Result

from field_client.cli import cli
from field_client.replica import FieldReplica
from server.gateway.keys import CONFLICTS, MERGER, STATE
from server.state.models import Principal
from tests.field_client.support import ENV, PASSPHRASE, complaint
from tests.field_client.test_gateway import PASSWORD, _url, gateway

__all__ = ["gateway"]

REASON = "The complainant's Aadhaar card reads Sunita Devi."


async def _device(gateway: TestServer, home: Path, officer_id: str) -> FieldReplica:
    replica = await FieldReplica.create(
        home, PASSPHRASE, officer_id=officer_id, station_id="unassigned", beat_id="beat-3"
    )
    await replica.enrol(_url(gateway), password=PASSWORD, device_name=officer_id)
    return replica


async def _cli(home: Path, *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, ["--home", str(home), *args], env=ENV)


async def test_the_offices_decision_reaches_the_device_with_its_reason(
    gateway: TestServer, tmp_path: Path
) -> None:
    beat, desk = tmp_path / "beat", tmp_path / "desk"
    officer = await _device(gateway, beat, "si.sharma")
    station = await _device(gateway, desk, "so.verma")
    try:
        doc_id, _ = await officer.save_record(complaint())
        await officer.sync()
        await station.sync()
        for replica, name in ((officer, "Sunita Devi"), (station, "Sunita Kumari")):
            doc = await replica.get_record(doc_id)
            await replica.save_record({**doc, "complainant": {**doc["complainant"], "name": name}})
            await replica.sync()
        await officer.sync()  # both versions now on the officer's device too
        assert (await officer.get_record(doc_id)).get("_conflicts")
    finally:
        await officer.close()
        await station.close()
    listed = await _cli(beat, "complaint", "list")
    assert "open" in listed.output, listed.output

    report = await gateway.app[MERGER].merge_station("kotwali")
    assert doc_id in report.queued
    sho = await gateway.app[STATE].get_officer("so.verma")
    assert sho is not None
    leaves: Any = await gateway.app[CONFLICTS].get(Principal(sho), "kotwali", doc_id)
    chosen = next(
        leaf.rev for leaf in leaves.leaves if leaf.body["complainant"]["name"] == "Sunita Devi"
    )
    await gateway.app[CONFLICTS].resolve(
        Principal(sho), "kotwali", doc_id, reason=REASON, choose=chosen
    )

    synced = await _cli(beat, "sync")
    assert synced.exit_code == 0, synced.output
    said = " ".join(synced.output.split())
    assert f"The office decided the conflict on complaint {doc_id[:8]}: {REASON}" in said, said
    shown = await _cli(beat, "complaint", "show", doc_id[:8])
    assert "Office's decision" in shown.output, shown.output
    assert "Sunita Devi" in shown.output
    assert "CONFLICT" not in shown.output
    assert REASON in " ".join(shown.output.split())
    listed = await _cli(beat, "complaint", "list")
    assert "decided" in listed.output, listed.output
