"""``serve --encrypt-at-rest``: the district's embedded store sealed like a hub's.

The district provisioned as usual (identities only), then started sealed with a
key file kept in another folder: no record text, photo or audited body in the
data folder; restarted with the same key it serves the records; ``audit verify``
opens the sealed audit with the key and refuses a wrong one.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from server.cli import main
from server.config import GatewayConfig
from server.gateway.app import create_app
from server.state.data_key import unlock_data_key
from tests.at_rest import marker_hits, markers
from tests.server.conftest import District, basic, bulk_docs, record

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


def _visit(m: dict[str, str]) -> dict[str, Any]:
    doc = record(3, record_type="visitor_entry")
    doc["purpose"] = f"{m['purpose_en']} {m['purpose_hi']}"
    doc["_attachments"] = {
        "id.jpg": {
            "content_type": "image/jpeg",
            "data": base64.b64encode(f"JFIF {m['photo_en']}".encode()).decode(),
        }
    }
    return doc


async def _write(client: TestClient[Any, Any], m: dict[str, str]) -> str:
    [written] = await bulk_docs(client, [_visit(m)], basic("so-alpha"))
    assert written.get("ok"), written
    return str(written["id"])


async def test_a_sealed_district_keeps_no_record_text_on_disk(
    aiohttp_client: MakeClient, district: District, config: GatewayConfig, tmp_path: Path
) -> None:
    m = markers(purpose_en="QZXDISTRICT", purpose_hi="गुप्तज़िला", photo_en="QZXIDPHOTO")
    key_file = tmp_path / "elsewhere" / "district.key"
    key_file.parent.mkdir()
    sealed = GatewayConfig(
        data_dir=config.data_dir, at_rest=unlock_data_key(config.data_dir, key_file=key_file)
    )
    client = await aiohttp_client(create_app(sealed))
    doc_id = await _write(client, m)
    assert marker_hits(config.data_dir, m) == []  # database, WAL, audit bodies, while open
    await client.close()
    assert marker_hits(config.data_dir, m) == []  # after the WAL is checkpointed

    again = GatewayConfig(
        data_dir=config.data_dir, at_rest=unlock_data_key(config.data_dir, key_file=key_file)
    )
    client = await aiohttp_client(create_app(again))
    answer = await client.get(
        f"/station-alpha/{doc_id}?attachments=true", headers=basic("so-alpha")
    )
    doc = await answer.json()
    assert doc["purpose"] == f"{m['purpose_en']} {m['purpose_hi']}"
    assert m["photo_en"].encode() in base64.b64decode(doc["_attachments"]["id.jpg"]["data"])
    await client.close()

    def verify(*extra: str) -> Any:
        args = ["audit", "verify", "--data", str(config.data_dir), *extra]
        return CliRunner().invoke(main, args, env={"BEATSYNC_COUCHDB": ""})

    checked = await asyncio.to_thread(verify, "--key-file", str(key_file))
    assert checked.exit_code == 0, checked.output
    wrong = tmp_path / "wrong.key"
    wrong.write_text(base64.b64encode(bytes(32)).decode())
    refused = await asyncio.to_thread(verify, "--key-file", str(wrong))
    assert refused.exit_code == 1
    assert "does not open the data" in refused.output


async def test_the_control_an_unsealed_district_has_the_text_on_disk(
    aiohttp_client: MakeClient, district: District, config: GatewayConfig
) -> None:
    m = markers(purpose_en="QZXDISTRICT", purpose_hi="गुप्तज़िला", photo_en="QZXIDPHOTO")
    client = await aiohttp_client(create_app(config))
    await _write(client, m)
    assert {name for _, name in marker_hits(config.data_dir, m)} == set(m)


def test_encrypt_at_rest_is_for_the_embedded_store_only(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["serve", "--data", str(tmp_path), "--couchdb", "http://127.0.0.1:9", "--encrypt-at-rest"],
    )
    assert result.exit_code == 2
    assert "encrypt the CouchDB nodes' disks" in " ".join(result.output.split())
