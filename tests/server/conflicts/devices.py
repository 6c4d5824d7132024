"""Officers' encrypted field replicas enrolled at a gateway, editing records offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from field_client import forms
from field_client.records import now_stamp
from field_client.replica import FieldReplica
from tests.field_client.support import PASSPHRASE
from tests.server.conftest import PASSWORD

__all__ = ["device", "edit", "live_leaves"]


async def device(client: Any, home: Path, officer: str) -> FieldReplica:
    # A station officer's device records for a beat chosen when it is set up.
    replica = await FieldReplica.create(
        home, PASSPHRASE, officer_id=officer, station_id="unassigned", beat_id="alpha-one"
    )
    await replica.enrol(
        str(client.make_url("")).rstrip("/"), password=PASSWORD, device_name=home.name
    )
    return replica


async def edit(replica: FieldReplica, doc_id: str, **fields: Any) -> None:
    old = await replica.get_record(doc_id)
    note = fields.pop("note", None)
    new = forms.complaint_update(
        old,
        status=None,
        note=note,
        assign=None,
        fir_number=None,
        officer_id=replica.settings.officer_id,
        at=now_stamp(),
    )
    for path, value in fields.items():
        head, _, tail = path.partition("__")
        if tail:
            new[head] = {**new[head], tail: value}
        else:
            new[head] = value
    await replica.save_record(new)


async def live_leaves(replica: FieldReplica, doc_id: str) -> list[str]:
    rows = await replica.db.open_revs(doc_id, "all")
    return sorted(r["ok"]["_rev"] for r in rows if "ok" in r and not r["ok"].get("_deleted"))
