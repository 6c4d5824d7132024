"""The one error table (``sync.errors``): its lookups, and that no module keeps another;
the one translation of a broken link (``sync.http.transport.unreachable``).

The guard reads every module's source (parsed, not imported) for a dict
literal mapping HTTP error statuses to anything, or CouchDB error names to
statuses: such a table outside ``sync/errors.py`` is a second error table.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import aiohttp
import pytest

from sync import errors
from sync.errors import (
    TABLE,
    BadRequest,
    Conflict,
    CouchError,
    NotFound,
    PeerUnreachable,
    PreconditionFailed,
    RequestTooLarge,
    RetryLater,
    ServiceUnavailable,
    error_for_name,
    error_for_status,
    error_from_response,
    error_from_result,
)
from sync.http import HttpDatabase
from sync.http.enrol import enrol
from sync.http.transport import connection_errors, unreachable
from tests import peers

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sync", "schemas", "server", "field_client")
ONE_TABLE = ROOT / "sync" / "errors.py"


def _error_classes() -> list[type[CouchError]]:
    return [
        value for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, CouchError)
        and value.__module__ == errors.__name__
    ]


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_class_says_when_it_is_raised(cls: type[CouchError]) -> None:
    assert (cls.__doc__ or "").startswith("Raised when "), cls.__name__


@pytest.mark.parametrize("cls", TABLE, ids=lambda cls: cls.__name__)
def test_each_status_and_each_name_finds_its_class(cls: type[CouchError]) -> None:
    assert error_for_status(cls.status) is cls
    assert error_for_name(cls.error) is cls


def test_a_status_outside_the_table_keeps_its_number() -> None:
    gone, unprocessable = error_for_status(504), error_for_status(422)
    assert (gone.status, gone.error, gone("x").transient) == (504, "unknown_error", True)
    assert (unprocessable.status, unprocessable.error) == (422, "bad_request")
    assert not unprocessable("x").transient
    assert error_for_status(504) is gone  # made once, not per answer
    assert not issubclass(unprocessable, BadRequest)  # a 422 is no "no _bulk_get here"


def test_a_name_outside_the_table_is_a_bad_request() -> None:
    assert error_for_name("doc_validation") is BadRequest


def test_couchdbs_other_names_for_a_status_find_its_class() -> None:
    assert error_for_name("missing_stub") is PreconditionFailed
    assert error_for_name("precondition_failed") is PreconditionFailed
    stub = error_from_result({"id": "a", "error": "missing_stub", "reason": "no att"})
    assert (type(stub), stub.status, stub.error_name) == (PreconditionFailed, 412, "missing_stub")


def test_an_answer_keeps_its_own_words() -> None:
    exc = error_from_response(404, {"error": "not_found", "reason": "Database does not exist."})
    assert isinstance(exc, NotFound)
    assert (exc.error_name, exc.reason) == ("not_found", "Database does not exist.")
    assert error_from_response(500, None).reason == "HTTP 500"


def test_retry_after_reaches_only_the_classes_that_carry_it() -> None:
    busy = error_from_response(503, {}, retry_after=7)
    assert isinstance(busy, ServiceUnavailable)
    assert busy.retry_after == 7
    assert error_from_response(503, {}).retry_after == ServiceUnavailable.default_retry_after
    assert not isinstance(error_from_response(409, {}, retry_after=7), RetryLater)


@pytest.mark.parametrize(
    ("result", "cls"),
    [
        ({"id": "a", "error": "conflict", "reason": "Document update conflict."}, Conflict),
        ({"id": "a", "error": "not_found", "reason": "missing"}, NotFound),
        ({"id": "a", "error": "too_large", "reason": "too big"}, RequestTooLarge),
        ({"id": "a", "error": "doc_validation", "reason": "bad"}, BadRequest),
    ],
)
def test_a_per_document_failure_is_the_error_a_put_answers(
    result: dict[str, str], cls: type[CouchError]
) -> None:
    exc = error_from_result(result)
    assert type(exc) is cls
    assert (exc.error_name, exc.reason) == (result["error"], result["reason"])


def _is_error_status(node: ast.expr | None) -> bool:
    return (
        isinstance(node, ast.Constant) and type(node.value) is int and 400 <= node.value < 600
    )


_CLASS_NAMES = frozenset(cls.__name__ for cls in _error_classes())


def _is_error_class(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Name | ast.Attribute) and (
        (node.id if isinstance(node, ast.Name) else node.attr) in _CLASS_NAMES
    )


def status_tables(path: Path) -> list[int]:
    """Lines of dict literals mapping error statuses to something, or error names to
    statuses or to error classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        by_status = sum(_is_error_status(key) for key in node.keys)
        by_name = sum(
            isinstance(key, ast.Constant) and isinstance(key.value, str)
            and (_is_error_status(value) or _is_error_class(value))
            for key, value in zip(node.keys, node.values, strict=True)
        )
        if by_status >= 2 or by_name >= 2:
            found.append(node.lineno)
    return found


def _second_tables() -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ONE_TABLE
        for line in status_tables(path)
    ]


def test_there_is_no_second_status_table() -> None:
    assert _second_tables() == [], (
        "map statuses and error names with sync.errors, not a table of your own"
    )


def test_the_guard_finds_the_tables_it_is_there_for(tmp_path: Path) -> None:
    module = tmp_path / "second.py"
    module.write_text(
        'NAMES = {400: "bad_request", 404: "not_found"}\n'
        'STATUS = {"conflict": 409, "forbidden": 403}.get(name, 400)\n'
        'CLASSES = {"conflict": Conflict, "not_found": errors.NotFound}\n'
        'FINE = {"limit": 100, "skip": 0, "x": Conflict}\n'
    )
    assert sorted(status_tables(module)) == [1, 2, 3]


def test_a_broken_link_is_peer_unreachable_naming_the_url() -> None:
    exc = unreachable("http://bo-1:secret@127.0.0.1:9/station-x", ConnectionRefusedError(111, "no"))
    assert isinstance(exc, PeerUnreachable)
    assert exc.url == "http://127.0.0.1:9/station-x"
    assert str(exc) == "http://127.0.0.1:9/station-x: ConnectionRefusedError: [Errno 111] no"
    assert "secret" not in str(exc)
    assert exc.transient
    assert not exc.timed_out
    late = unreachable("http://h:5984", TimeoutError(), method="GET")
    assert (str(late), late.timed_out) == ("GET http://h:5984: timed out", True)


@pytest.mark.parametrize(
    "raised", [aiohttp.ClientConnectionError("reset"), OSError("down"), TimeoutError()]
)
def test_connection_errors_translates_every_kind_of_broken_link(raised: Exception) -> None:
    with pytest.raises(PeerUnreachable) as caught, connection_errors("http://h:1", method="POST"):
        raise raised
    assert caught.value.url == "http://h:1"
    assert str(caught.value).startswith("POST http://h:1: ")


def test_connection_errors_lets_other_errors_through() -> None:
    with pytest.raises(ValueError, match="not a link"), connection_errors("http://h:1"):
        raise ValueError("not a link")


async def test_an_http_database_that_cannot_connect_names_its_url() -> None:
    port = peers.free_port()
    async with HttpDatabase(f"http://u:pw@127.0.0.1:{port}/station-x") as db:
        with pytest.raises(PeerUnreachable) as caught:
            await db.info()
    assert caught.value.url == f"http://127.0.0.1:{port}/station-x"
    assert str(caught.value).startswith(f"GET http://127.0.0.1:{port}/station-x: ")


def aiohttp_catches(path: Path) -> list[int]:
    """Lines of ``except`` clauses that name an aiohttp error."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler) and node.type is not None
        and any(
            isinstance(part, ast.Attribute) and isinstance(part.value, ast.Name)
            and part.value.id == "aiohttp"
            for part in ast.walk(node.type)
        )
    ]


def test_only_the_transport_catches_aiohttp_errors() -> None:
    transport = ROOT / "sync" / "http" / "transport.py"
    elsewhere = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != transport
        for line in aiohttp_catches(path)
    ]
    assert elsewhere == [], "use sync.http.transport.connection_errors (or Transport)"
    assert aiohttp_catches(transport)  # the guard can see one


async def test_enrolment_at_an_unreachable_server_names_it() -> None:
    port = peers.free_port()
    with pytest.raises(PeerUnreachable) as caught:
        await enrol(
            f"http://127.0.0.1:{port}/", officer_id="bo-1", password="pw",
            device_name="tablet", public_key="key", timeout=5,
        )
    assert caught.value.url == f"http://127.0.0.1:{port}"


async def test_enrolment_refuses_an_address_that_is_no_url() -> None:
    with pytest.raises(BadRequest, match="not a server address"):
        await enrol(
            "kotwali-pc", officer_id="bo-1", password="pw", device_name="tablet",
            public_key="key", timeout=5,
        )
