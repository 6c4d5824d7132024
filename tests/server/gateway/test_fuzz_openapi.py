"""Fuzz every operation of ``server/openapi.yaml``: generated paths, queries and bodies
never get a 5xx, and every error is CouchDB-shaped JSON.

Hypothesis draws the requests (so a failure prints a reproducible example);
they are sent afterwards, in one event loop, to one gateway per test.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.config import GatewayConfig
from server.site import create_site
from tests.server.conftest import basic, record

SPEC = yaml.safe_load(resources.files("server").joinpath("openapi.yaml").read_text())
OPERATIONS = [
    (path, method)
    for path, item in SPEC["paths"].items()
    for method in item
    if method in ("get", "put", "post", "delete")
]
SEEDED = record(5)


@pytest.fixture
def app_factory() -> Callable[[GatewayConfig], Any]:
    """The whole site: the spec lists the portal's JSON API and /metrics too."""
    return create_site


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Values that look like what the API expects, mixed with junk.
path_values = st.sampled_from(
    [
        "station-alpha",
        "station-bravo",
        "station-x",
        SEEDED["_id"],
        "_design",
        "..",
        "%2E%2E",
        "a%2Fb",
        "_all_docs",
        "x" * 300,
        "1-abc",
        "ünïcode",
    ]
) | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"),
    min_size=1,
    max_size=12,
)
query_values = st.sampled_from(
    [
        "true",
        "false",
        "0",
        "-1",
        "10",
        "now",
        "all",
        '["1-abc"]',
        '"abc"',
        "[",
        "1-" + "a" * 32,
        "normal",
        "longpoll",
        "continuous",
        "_doc_ids",
        "_selector",
        "main_only",
        "all_docs",
    ]
) | st.text(max_size=10)
doc_like = st.fixed_dictionaries(
    {},
    optional={
        "_id": path_values,
        "_rev": query_values,
        "_deleted": json_values,
        "_revisions": json_values,
        "type": st.sampled_from(["complaint", "visitor_entry", 5]),
        "station_id": st.sampled_from(["alpha", "bravo", None]),
        "_attachments": json_values,
    },
) | st.just(SEEDED)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "docs": st.lists(doc_like, max_size=3) | json_values,
            "new_edits": json_values,
            "keys": json_values,
            "doc_ids": json_values,
            "selector": json_values,
        },
    ),
    doc_like,
    st.binary(max_size=30),
)


def _query_names(path: str, method: str) -> list[str]:
    item = SPEC["paths"][path]
    params = [*item.get("parameters", []), *item[method].get("parameters", [])]
    names = []
    for param in params:
        if "$ref" in param:
            param = SPEC["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        if param["in"] == "query":
            names.append(param["name"])
    return names


def _requests(path: str, method: str, count: int) -> list[tuple[str, dict[str, str], Any]]:
    drawn: list[tuple[str, dict[str, str], Any]] = []
    names = _query_names(path, method)

    @settings(
        max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        fills=st.fixed_dictionaries({p: path_values for p in ("db", "docid", "local_id")}),
        query=st.dictionaries(st.sampled_from(names), query_values, max_size=4)
        if names
        else st.just({}),
        body=bodies,
    )
    def draw(fills: dict[str, str], query: dict[str, str], body: Any) -> None:
        url = path
        for name, value in fills.items():
            url = url.replace("{" + name + "}", value)
        drawn.append((url, query, body))

    draw()
    return drawn


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
async def test_no_5xx(client, district, path: str, method: str) -> None:
    await client.put(f"/station-alpha/{SEEDED['_id']}", json=SEEDED, headers=basic("so-alpha"))
    for url, query, body in _requests(path, method, 40):
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        answer = await client.request(
            method.upper(),
            url,
            params=query,
            data=data if method in ("put", "post") else None,
            headers={
                **basic("central" if "_beatsync" in url else "so-alpha"),
                "Content-Type": "application/json",
            },
        )
        text = await answer.text()
        assert answer.status < 500, (method, url, query, body, text)
        if answer.status >= 400:
            assert set(orjson.loads(text)) == {"error", "reason"}, text
    assert (await client.get("/_up")).status == 200
