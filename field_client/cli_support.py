"""What every ``beatsync`` command shares: the group and its options, exit codes,
the passphrase prompt, asking for missing values, output, progress bars."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

import schemas
from field_client import keys, render
from field_client.errors import (
    SEAL_BROKEN_ADVICE,
    DeviceRevoked,
    Offline,
    SealBroken,
    WrongPassphrase,
)
from field_client.home import replica_paths
from field_client.keys import MIN_PASSPHRASE_LENGTH
from sync.errors import CouchError

if TYPE_CHECKING:  # the replica loads SQLite, crypto and aiohttp: only a command that opens it
    from field_client.records import Photo
    from field_client.replica import FieldReplica

EXIT_ERROR = 1
EXIT_OFFLINE = 3
EXIT_REVOKED = 4
PASSPHRASE_ENV = "BEATSYNC_PASSPHRASE"
PASSWORD_ENV = "BEATSYNC_PASSWORD"
T = TypeVar("T")

_CATEGORIES = schemas.choices("complaint", "category")
_ID_PROOFS = schemas.choices("visitor_entry", "id_proof.type")
_VISIT_KINDS = schemas.choices("verification_visit", "kind")
_RECOMMENDATIONS = schemas.choices("verification_visit", "recommendation")
_COMPLAINT_STATUSES = schemas.choices("complaint", "status")


@dataclass(frozen=True)
class _App:
    home: Path
    as_json: bool
    out: Console
    err: Console


def _app() -> _App:
    return click.get_current_context().find_object(_App)  # type: ignore[return-value]


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    app = _app()
    if app.as_json:
        app.out.file.write(orjson.dumps({"error": message, "exit_code": code}).decode() + "\n")
    else:
        # Messages carry servers' words, e.g. '{"ids": [string, ...]}': escaped,
        # or rich reads "[string, ...]" as markup and drops it (issue 14).
        app.err.print(f"[red]Error:[/red] {escape(message)}", highlight=False)
    sys.exit(code)


def _run(coro: Awaitable[T]) -> T:
    """Run one command's work, turning every expected failure into a sentence and an exit code."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except schemas.RecordInvalid as exc:
        lines = "\n".join(f"  - {e.message}" for e in exc.errors)
        _fail(f"Not saved. Fix these and try again:\n{lines}")
    except Offline as exc:
        _fail(exc.reason, EXIT_OFFLINE)
    except DeviceRevoked as exc:
        _fail(exc.reason, EXIT_REVOKED)
    except SealBroken as exc:
        _fail(f"{exc.reason} {SEAL_BROKEN_ADVICE}")
    except CouchError as exc:
        _fail(exc.reason)
    except ValueError as exc:
        _fail(str(exc))


def _passphrase(
    *, confirm: bool = False, prompt: str = "Passphrase", env: str = PASSPHRASE_ENV
) -> str:
    from_env = os.environ.get(env)
    if from_env is not None:
        return from_env
    return str(
        click.prompt(
            prompt,
            hide_input=True,
            confirmation_prompt=confirm,
            err=True,
            # A new passphrase is checked before the repeat is asked for, so a
            # too-short one costs one entry, not two.
            value_proc=_long_enough if confirm else None,
        )
    )


def _long_enough(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise click.BadParameter(
            f"The passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters;"
            " choose a longer one."
        )
    return passphrase


# Wrong passphrases forgiven at the prompt before a command gives up.
PASSPHRASE_TRIES = 3


def _checked_passphrase() -> str:
    """The passphrase, checked as soon as it is typed and asked again after a typo
    (three tries), so the answers given before it are not lost.

    One scrypt more than opening the replica (about 0.1 s), paid only at the
    prompt: a passphrase from BEATSYNC_PASSPHRASE is checked by the open itself.
    """
    if PASSPHRASE_ENV in os.environ:
        return _passphrase()
    key_path = replica_paths(_app().home)[1]
    for tries_left in range(PASSPHRASE_TRIES - 1, -1, -1):
        passphrase = _passphrase()
        try:
            keys.unlock(key_path, passphrase)
        except WrongPassphrase as exc:
            if not tries_left:
                _fail(exc.reason)
            click.echo(f"Wrong passphrase; try again ({tries_left} left).", err=True)
        except CouchError as exc:  # no replica here, a damaged key file
            _fail(exc.reason)
        else:
            return passphrase
    raise AssertionError("unreachable: the last try returned or failed")


def _with_replica(work: Callable[[FieldReplica], Awaitable[T]], passphrase: str | None = None) -> T:
    home = _app().home
    passphrase = _checked_passphrase() if passphrase is None else passphrase

    from field_client.replica import FieldReplica

    async def run() -> T:
        async with await FieldReplica.open(home, passphrase) as replica:
            return await work(replica)

    return _run(run())


def _ask(value: Any, text: str, **options: Any) -> Any:
    """The flag's value, or the officer's answer when the flag was not given."""
    if value not in (None, ""):
        return value
    return click.prompt(text, err=True, **options)


def _read_json(source: str) -> dict[str, Any]:
    raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        _fail(f"--from-json: not valid JSON ({exc})")
    if not isinstance(value, dict):
        _fail("--from-json: the record must be a JSON object")
    return value


async def _resolve(replica: FieldReplica, prefix: str, record_type: str) -> dict[str, Any]:
    """The record whose id starts with ``prefix`` (the lists show 8 characters)."""
    matches = [d for d in await replica.list_records(record_type) if d["_id"].startswith(prefix)]
    if not matches:
        raise CouchError(f"No {record_type.replace('_', ' ')} with id {prefix!r} on this device.")
    if len(matches) > 1:
        raise CouchError(f"Several records start with {prefix!r}; type more of the id.")
    return await replica.get_record(matches[0]["_id"])


def _saved(record_type: str, result: tuple[str, str]) -> None:
    app, (doc_id, rev) = _app(), result
    if app.as_json:
        render.emit_json(app.out, {"ok": True, "id": doc_id, "rev": rev, "type": record_type})
    else:
        app.out.print(
            f"Saved {record_type.replace('_', ' ')} [cyan]{doc_id[: render.SHORT_ID]}[/cyan]"
            f" (full id {doc_id}). It will be sent at the next `beatsync sync`."
        )


def _save(record: Mapping[str, Any], photos: Mapping[str, Photo] | None = None) -> None:
    record_type = str(record.get("type"))
    _saved(record_type, _with_replica(lambda r: r.save_record(record, photos=photos)))


DEFAULT_LIST_LIMIT = 50


def _paging(func: Callable[..., Any]) -> Callable[..., Any]:
    """--limit and --all for a list command: 10,000 rows scrolled past help no one."""
    func = click.option("--all", "show_all", is_flag=True, help="Show every record, however many.")(
        func
    )
    return click.option(
        "--limit",
        type=click.IntRange(min=1),
        default=DEFAULT_LIST_LIMIT,
        show_default=True,
        help="Show at most this many records.",
    )(func)


def _show_list(
    record_type: str,
    keep: Callable[[Mapping[str, Any]], bool] = lambda d: True,
    limit: int | None = DEFAULT_LIST_LIMIT,
) -> None:
    """The records kept by ``keep``; at most ``limit`` of them (None: all)."""

    async def work(replica: FieldReplica) -> tuple[list[dict[str, Any]], set[str]]:
        docs = [d for d in await replica.list_records(record_type) if keep(d)]
        return docs, {c.record_id for c in await replica.conflicts()}

    (docs, conflicted), app = _with_replica(work), _app()
    shown = docs if limit is None else docs[:limit]
    if app.as_json:
        render.emit_json(app.out, shown)
        return
    app.out.print(render.record_list(record_type, shown, conflicted))
    if len(shown) < len(docs):
        # On stderr: a script reading the table gets only rows.
        click.echo(
            f"Showing {len(shown)} of {len(docs)}; use --limit N for more, or --all.", err=True
        )


def _from_json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--from-json",
        "from_json",
        metavar="FILE",
        help="Take the record from a JSON file ('-' for stdin) instead of questions.",
    )(func)


class _RateColumn(ProgressColumn):
    """Records (or changes) per second, once rich has measured a rate."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:,.0f}/s")


def _progress_bar(app: _App) -> Progress:
    """The bars of the long commands (sync, import): done / total and the rate, on stderr."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        console=app.err,
        disable=app.as_json,
        transient=True,  # gone when done, so the summary or the error is the last word
    )


# -- the group -----------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    envvar="BEATSYNC_HOME",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path.home() / ".beatsync",
    show_default=True,
    help="Folder of this device's BeatSync data (env BEATSYNC_HOME).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables (for scripts).")
@click.option(
    "--verbose", "-v", is_flag=True, help="Also show technical details (retries, errors)."
)
@click.pass_context
def cli(ctx: click.Context, home: Path, as_json: bool, verbose: bool) -> None:
    """BeatSync for beat officers: record complaints, visitors and verification
    visits offline, encrypted on this device, and sync them when you have a signal.

    Start with `beatsync init`. Every command asks for your passphrase
    (scripts may set BEATSYNC_PASSPHRASE).
    """
    ctx.obj = _App(home=home, as_json=as_json, out=Console(), err=Console(stderr=True))
    # The replicator logs each retry; an officer needs only the one-sentence outcome.
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="%(message)s")
