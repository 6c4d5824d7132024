"""What every ``beatsync-server`` command shares: the ``--data`` option, one
admin action against the data folder, unlocking a sealed folder, clear
messages for refusals, tables, and the option callbacks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from schemas.identity import check_slug
from server.config import DEFAULT_DATA_DIR, GatewayConfig
from server.state.data_key import is_sealed, unlock_data_key
from sync.codec import BodyCodec
from sync.errors import CouchError

if TYPE_CHECKING:
    from server.state.interface import GatewayState

__all__ = [
    "COUCHDB_ENV",
    "couchdb_env",
    "data_option",
    "key_file_option",
    "new_password",
    "positive_option",
    "run",
    "slug",
    "status_word",
    "table",
    "unlock",
    "with_state",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
COUCHDB_ENV = "BEATSYNC_COUCHDB"
DATA_PASSPHRASE_ENV = "BEATSYNC_DATA_PASSPHRASE"
data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    envvar="BEATSYNC_DATA",
    show_default=True,
    help="Folder holding the gateway's identities, audit log and station databases.",
)


def couchdb_env() -> str | None:
    # Admin commands act on the central CouchDB when the gateway runs over one.
    return os.environ.get(COUCHDB_ENV) or None


def with_state(
    data_dir: Path,
    action: Callable[[GatewayState], Awaitable[T]],
    *,
    at_rest: BodyCodec | None = None,
) -> T:
    """Run one admin action against the data folder; errors become a clear message.
    ``at_rest`` opens sealed audited bodies (only ``audit verify`` reads them)."""

    # The stores (aiosqlite, the CouchDB client) load when a command uses them:
    # `beatsync-server --help` answers without them (a guard test holds this).
    from server.gateway.app import open_state

    async def act() -> T:
        config = GatewayConfig(data_dir=data_dir, couchdb_url=couchdb_env(), at_rest=at_rest)
        state = await open_state(config)
        try:
            return await action(state)
        finally:
            await state.close()

    return run(act())


def unlock(data_dir: Path, key_file: Path | None, *, seal: bool) -> BodyCodec | None:
    """The data key of a sealed folder (or of a new one when ``seal``); ``None`` for
    a folder in the clear. Asks for the passphrase (hidden) unless ``key_file`` or
    BEATSYNC_DATA_PASSPHRASE gives it; the key stays in this process's memory."""
    sealed = is_sealed(data_dir)
    if not (seal or sealed):
        return None
    try:
        if key_file is not None:
            return unlock_data_key(data_dir, key_file=key_file)
        passphrase = os.environ.get(DATA_PASSPHRASE_ENV) or click.prompt(
            "Passphrase of this data folder" if sealed else "Choose a passphrase for this data",
            hide_input=True,
            confirmation_prompt=not sealed,
            err=True,
        )
        return unlock_data_key(data_dir, passphrase=passphrase)
    except CouchError as exc:
        raise click.ClickException(exc.reason) from None


key_file_option = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="BEATSYNC_KEY_FILE",
    help="Unlock the data with this key file (made on first use; keep it off this disk) "
    "instead of a passphrase (asked for, or BEATSYNC_DATA_PASSPHRASE).",
)


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run one command's work; a refusal (CouchError) becomes a clear message."""
    try:
        return asyncio.run(work)
    except CouchError as exc:
        raise click.ClickException(exc.reason) from None


def slug(what: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback: the value (or each of them) must be a slug (station/beat ids)."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        for one in value if isinstance(value, tuple) else [value]:
            try:
                check_slug(one, what)
            except CouchError as exc:
                raise click.BadParameter(exc.reason) from None
        return value

    return check


def status_word(revoked: bool) -> str:
    return "REVOKED" if revoked else "active"


def table(
    title: str, columns: list[str], rows: list[list[Any]], whole: tuple[str, ...] = ()
) -> None:
    """Print a table; the ``whole`` columns (ids typed at a login) never wrap or get cut.

    Rich shrinks every column to fit the terminal and ends a cut value with an
    ellipsis; an officer id cut that way cannot be copied into ``login``. The
    whole columns get their widest value as a minimum, so the others wrap instead.
    """
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    shown = Table(title=title)
    for index, column in enumerate(columns):
        if column in whole:
            widest = max([len(column), *(len(row[index]) for row in cells)])
            shown.add_column(column, no_wrap=True, min_width=widest)
        else:
            shown.add_column(column)
    for row in cells:
        shown.add_row(*row)
    Console().print(shown)


def new_password(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if value is not None:
        return value
    return str(click.prompt("New password", hide_input=True, confirmation_prompt=True))


def positive_option(flag: str, default: float, help_text: str) -> Callable[[F], F]:
    """A ``serve`` setting that is a positive number (days, seconds, bytes per second)."""
    return click.option(
        flag,
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=True,
        help=help_text,
    )
