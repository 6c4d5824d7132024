"""``beatsync``: the officer's command line, a thin click layer over :class:`FieldReplica`.

Every command has ``--help``; a missing value is asked for; ``--json``
prints machine-readable output and ``--from-json FILE`` (``-`` for stdin)
takes a record as JSON. The passphrase is asked for on every command (or read
from ``BEATSYNC_PASSPHRASE`` for scripts): nothing stays unlocked between
commands. Exit codes: 0 done, 1 refused or failed (the message says why),
2 wrong usage, 3 no network (everything kept), 4 device revoked (wiped).
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

import schemas
from field_client import forms, render
from field_client.errors import DeviceRevoked, Offline
from field_client.importing import BadRegister, Imported, import_register
from field_client.records import RECORD_TYPES, Photo, now_stamp
from field_client.replica import (
    UNASSIGNED,
    FieldReplica,
    SyncReport,
    change_passphrase,
    wipe_replica,
)
from sync.errors import CouchError
from sync.http import HttpDatabase
from sync.replication import Progress as ReplicationProgress

__all__ = ["EXIT_ERROR", "EXIT_OFFLINE", "EXIT_REVOKED", "cli", "main"]

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
        app.err.print(f"[red]Error:[/red] {message}", highlight=False)
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
    except CouchError as exc:
        _fail(exc.reason)
    except ValueError as exc:
        _fail(str(exc))


def _passphrase(*, confirm: bool = False, prompt: str = "Passphrase") -> str:
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env is not None:
        return from_env
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True))


def _with_replica(work: Callable[[FieldReplica], Awaitable[T]], passphrase: str | None = None) -> T:
    home = _app().home
    passphrase = _passphrase() if passphrase is None else passphrase

    async def run() -> T:
        async with await FieldReplica.open(home, passphrase) as replica:
            return await work(replica)

    return _run(run())


def _ask(value: Any, text: str, **options: Any) -> Any:
    """The flag's value, or the officer's answer when the flag was not given."""
    if value not in (None, ""):
        return value
    return click.prompt(text, err=True, **options)


def _ask_optional(value: Any, text: str) -> Any:
    """Optional fields are offered to a person at a terminal; scripts just leave them out."""
    if value is not None or not sys.stdin.isatty():
        return value
    answer = click.prompt(f"{text} (Enter to skip)", default="", show_default=False, err=True)
    return answer or None


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


def _show_list(
    record_type: str, keep: Callable[[Mapping[str, Any]], bool] = lambda d: True
) -> None:
    async def work(replica: FieldReplica) -> list[dict[str, Any]]:
        return [d for d in await replica.list_records(record_type) if keep(d)]

    docs, app = _with_replica(work), _app()
    if app.as_json:
        render.emit_json(app.out, docs)
    else:
        app.out.print(render.record_list(record_type, docs))


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


@cli.command()
@click.option("--officer", "officer_id", help="Your officer id (as the district office gave it).")
@click.option(
    "--server", "server_url", help="BeatSync server URL, e.g. https://sync.district.example"
)
@click.option("--station", "station_id", help="Station id (only with --offline).")
@click.option(
    "--beat",
    "beat_id",
    help="Beat id (with --server only for station officers, whose account has no beat).",
)
@click.option(
    "--device-name",
    default=socket.gethostname(),
    show_default=True,
    help="A name for this device that the district office will see.",
)
@click.option("--offline", is_flag=True, help="Set up without a server (no sync until enrolled).")
def init(
    officer_id: str | None,
    server_url: str | None,
    station_id: str | None,
    beat_id: str | None,
    device_name: str,
    offline: bool,
) -> None:
    """Set up BeatSync on this device: choose a passphrase and enrol with the server.

    With --server, your officer password is asked for once (or read from
    BEATSYNC_PASSWORD) to enrol this device; it is not stored. The passphrase
    protects everything on this device: there is no way to recover it.
    """
    app = _app()
    officer_id = _ask(officer_id, "Your officer id")
    if not offline:
        server_url = _ask(server_url, "BeatSync server URL")
    else:
        station_id = _ask(station_id, "Station id")
        beat_id = _ask(beat_id, "Beat id")
    password = None
    if not offline:
        password = os.environ.get(PASSWORD_ENV) or click.prompt(
            "Your officer password (used once, to enrol this device)", hide_input=True, err=True
        )
    passphrase = _passphrase(confirm=True, prompt="Choose a passphrase for this device")

    async def run() -> FieldReplica:
        replica = await FieldReplica.create(
            app.home,
            passphrase,
            officer_id=officer_id,
            station_id=station_id or UNASSIGNED,
            beat_id=beat_id or UNASSIGNED,
        )
        try:
            if server_url is not None and password is not None:
                await replica.enrol(server_url, password=password, device_name=device_name)
        except BaseException:
            await replica.wipe()  # a half set-up device would only confuse the next init
            raise
        await replica.close()
        return replica

    replica = _run(run())
    s = replica.settings
    if app.as_json:
        render.emit_json(
            app.out,
            {
                "ok": True,
                "device_id": s.device_id,
                "officer_id": s.officer_id,
                "station_id": s.station_id,
                "beat_id": s.beat_id,
                "server_url": s.server_url,
                "home": str(app.home),
            },
        )
    else:
        app.out.print(
            f"Ready. Device {s.device_id} for officer {s.officer_id}, station "
            f"{s.station_id}, beat {s.beat_id}. Data folder: {app.home}"
        )


@cli.command()
@click.option("--server", "server_url", help="BeatSync server URL (default: the current one).")
@click.option(
    "--device-name",
    default=socket.gethostname(),
    show_default=True,
    help="A name for this device that the district office will see.",
)
def enrol(server_url: str | None, device_name: str) -> None:
    """Enrol this device with the server again (after its token expired, or after
    an offline init): asks for your officer password once."""
    app, passphrase = _app(), _passphrase()
    password = os.environ.get(PASSWORD_ENV) or click.prompt(
        "Your officer password (used once, to enrol this device)", hide_input=True, err=True
    )

    async def work(replica: FieldReplica) -> dict[str, Any]:
        url = server_url or replica.settings.server_url
        if url is None:
            url = _ask(None, "BeatSync server URL")
        await replica.enrol(url, password=password, device_name=device_name)
        s = replica.settings
        return {"ok": True, "device_id": s.device_id, "server_url": s.server_url}

    result = _with_replica(work, passphrase)
    if app.as_json:
        render.emit_json(app.out, result)
    else:
        app.out.print(f"Enrolled as device {result['device_id']} with {result['server_url']}.")


# -- complaints ------------------------------------------------------------------


@cli.group()
def complaint() -> None:
    """Record, update, show and list complaints."""


@complaint.command("new")
@click.option("--name", help="Complainant's name.")
@click.option("--phone", help="Complainant's mobile number (10 digits).")
@click.option("--address", help="Complainant's address.")
@click.option("--category", type=click.Choice(_CATEGORIES), help="What kind of complaint.")
@click.option("--description", help="What happened, in the complainant's words.")
@click.option("--place", help="Where it happened.")
@click.option(
    "--incident-time", help="When it happened (e.g. 2024-05-01T10:30:00+05:30); default now."
)
@click.option("--gps", help="Where it happened as latitude,longitude.")
@_from_json_option
def complaint_new(from_json: str | None, **fields: Any) -> None:
    """Record a new complaint (asks for anything not given as an option)."""
    if from_json:
        _save({"type": "complaint", **_read_json(from_json)})
        return
    at = now_stamp()
    record = forms.complaint(
        name=_ask(fields["name"], "Complainant's name"),
        phone=_ask_optional(fields["phone"], "Complainant's mobile number"),
        address=_ask(fields["address"], "Complainant's address"),
        category=_ask(fields["category"], "Category", type=click.Choice(_CATEGORIES)),
        description=_ask(fields["description"], "What happened"),
        place=_ask(fields["place"], "Where it happened"),
        incident_time=fields["incident_time"] or at,
        gps=_parse_gps(fields["gps"]),
        officer_id="",  # filled below, once the replica (and so the officer) is known
        at=at,
    )

    async def work(replica: FieldReplica) -> tuple[str, str]:
        record["action_log"][0]["by"] = replica.settings.officer_id
        return await replica.save_record(record)

    _saved("complaint", _with_replica(work))


def _parse_gps(text: str | None) -> dict[str, float] | None:
    try:
        return forms.parse_gps(text)
    except ValueError as exc:
        _fail(str(exc))


@complaint.command("update")
@click.argument("record_id")
@click.option("--status", type=click.Choice(_COMPLAINT_STATUSES), help="New status.")
@click.option("--note", help="A note for the action log.")
@click.option("--assign", help="Officer id to assign the complaint to.")
@click.option("--fir-number", help="FIR number, when converted to an FIR.")
@_from_json_option
def complaint_update(
    record_id: str,
    status: str | None,
    note: str | None,
    assign: str | None,
    fir_number: str | None,
    from_json: str | None,
) -> None:
    """Update complaint RECORD_ID (its first 8 characters are enough).

    Every change is written to the complaint's action log.
    """
    changes = _read_json(from_json) if from_json else None
    if changes is None and not (status or note or assign or fir_number):
        note = _ask(None, "Note to add to the action log")

    async def work(replica: FieldReplica) -> tuple[str, str]:
        old = await _resolve(replica, record_id, "complaint")
        if changes is not None:
            new = {**old, **changes, "_id": old["_id"], "_rev": old["_rev"]}
        else:
            new = forms.complaint_update(
                old,
                status=status,
                note=note,
                assign=assign,
                fir_number=fir_number,
                officer_id=replica.settings.officer_id,
                at=now_stamp(),
            )
        return await replica.save_record(new)

    _saved("complaint", _with_replica(work))


def _show(record_id: str, record_type: str) -> None:
    async def work(replica: FieldReplica) -> dict[str, Any]:
        return await _resolve(replica, record_id, record_type)

    doc, app = _with_replica(work), _app()
    if app.as_json:
        render.emit_json(app.out, doc)
    else:
        app.out.print(render.record_table(doc))


@complaint.command("show")
@click.argument("record_id")
def complaint_show(record_id: str) -> None:
    """Show every field of complaint RECORD_ID, and whether it is in conflict."""
    _show(record_id, "complaint")


@complaint.command("list")
@click.option(
    "--status", type=click.Choice(_COMPLAINT_STATUSES), help="Only this status."
)
def complaint_list(status: str | None) -> None:
    """List the complaints on this device."""
    _show_list("complaint", lambda d: status is None or d.get("status") == status)


# -- visitors --------------------------------------------------------------------


@cli.group()
def visitor() -> None:
    """The station visitor register: who came in, who left."""


@visitor.command("in")
@click.option("--name", help="Visitor's name.")
@click.option("--phone", help="Visitor's mobile number.")
@click.option("--purpose", help="Why they came.")
@click.option("--to-meet", "whom_to_meet", help="Whom they came to meet.")
@click.option(
    "--id-type",
    type=click.Choice(_ID_PROOFS),
    help="Identity document shown.",
)
@click.option("--id-last4", help="Only the LAST 4 characters of the document number.")
@_from_json_option
def visitor_in(from_json: str | None, **fields: Any) -> None:
    """Register a visitor coming in (time in is now)."""
    if from_json:
        _save({"type": "visitor_entry", **_read_json(from_json)})
        return
    _save(
        forms.visitor_in(
            name=_ask(fields["name"], "Visitor's name"),
            phone=_ask_optional(fields["phone"], "Visitor's mobile number"),
            purpose=_ask(fields["purpose"], "Purpose of the visit"),
            whom_to_meet=_ask(fields["whom_to_meet"], "Whom they came to meet"),
            id_type=fields["id_type"],
            id_last4=fields["id_last4"],
            at=now_stamp(),
        )
    )


@visitor.command("out")
@click.argument("record_id")
def visitor_out(record_id: str) -> None:
    """Mark visitor RECORD_ID as gone (time out is now)."""

    async def work(replica: FieldReplica) -> tuple[str, str]:
        old = await _resolve(replica, record_id, "visitor_entry")
        return await replica.save_record(forms.visitor_out(old, at=now_stamp()))

    _saved("visitor_entry", _with_replica(work))


@visitor.command("list")
@click.option("--inside", is_flag=True, help="Only visitors who have not left.")
def visitor_list(inside: bool) -> None:
    """List the visitor register on this device."""
    _show_list("visitor_entry", lambda d: not inside or "time_out" not in d)


# -- verification visits -----------------------------------------------------------


@cli.group()
def visit() -> None:
    """Verification visits (passport, character, tenant, domestic help, employee)."""


@visit.command("record")
@click.option(
    "--kind",
    type=click.Choice(_VISIT_KINDS),
    help="What is being verified.",
)
@click.option("--name", help="The person verified.")
@click.option("--father-name", help="Their father's name.")
@click.option("--phone", help="Their mobile number.")
@click.option("--address", help="The address visited.")
@click.option("--findings", help="What you found.")
@click.option(
    "--recommendation",
    type=click.Choice(_RECOMMENDATIONS),
    help="Your recommendation.",
)
@click.option(
    "--neighbour",
    "neighbours",
    multiple=True,
    metavar="NAME=STATEMENT",
    help="A neighbour's statement (repeatable).",
)
@click.option("--gps", help="Where you are, as latitude,longitude.")
@click.option(
    "--photo",
    "photos",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A photo file to attach, kept encrypted (repeatable).",
)
@_from_json_option
def visit_record(
    from_json: str | None, neighbours: tuple[str, ...], photos: tuple[Path, ...], **fields: Any
) -> None:
    """Record a verification visit made now."""
    attached = {
        path.name: (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            path.read_bytes(),
        )
        for path in photos
    }
    if from_json:
        _save({"type": "verification_visit", **_read_json(from_json)}, attached)
        return
    statements = []
    for item in neighbours:
        name, sep, statement = item.partition("=")
        if not sep:
            _fail("--neighbour takes NAME=STATEMENT")
        statements.append({"name": name.strip(), "statement": statement.strip()})
    _save(
        forms.visit(
            kind=_ask(
                fields["kind"],
                "Kind of verification",
                type=click.Choice(_VISIT_KINDS),
            ),
            name=_ask(fields["name"], "Name of the person verified"),
            father_name=_ask_optional(fields["father_name"], "Father's name"),
            phone=_ask_optional(fields["phone"], "Their mobile number"),
            address=_ask(fields["address"], "Address visited"),
            findings=_ask(fields["findings"], "Findings"),
            recommendation=_ask(
                fields["recommendation"],
                "Recommendation",
                type=click.Choice(_RECOMMENDATIONS),
            ),
            gps=_parse_gps(fields["gps"]),
            neighbours=statements,
            at=now_stamp(),
        )
    )


@visit.command("list")
def visit_list() -> None:
    """List the verification visits on this device."""
    _show_list("verification_visit")


# -- status, sync, lock, wipe ------------------------------------------------------


@cli.command()
def status() -> None:
    """What is waiting to be sent, when the last sync was, and any conflicts."""
    result, app = _with_replica(lambda r: r.status()), _app()
    if app.as_json:
        render.emit_json(app.out, result)
    else:
        app.out.print(render.status_table(result))


@cli.command()
@click.option(
    "--url",
    help="Sync with this CouchDB-compatible database URL instead of the enrolled server"
    " (e.g. the station hub: http://user:password@hub:5984/station-x).",
)
def sync(url: str | None) -> None:
    """Send your records to the server and receive the station's (needs a network)."""
    app = _app()
    passphrase = _passphrase()  # asked before the progress bars take the terminal
    with _progress_bar(app) as bar:
        tasks = {
            "push": bar.add_task("Sending  ", total=None),
            "pull": bar.add_task("Receiving", total=None),
        }

        def on_progress(direction: str, progress: ReplicationProgress) -> None:
            done = progress.docs_written
            total = None if progress.pending is None else done + progress.pending
            bar.update(tasks[direction], completed=done, total=total)

        async def work(replica: FieldReplica) -> SyncReport:
            if url is None:
                return await replica.sync(on_progress=on_progress)
            async with HttpDatabase(url, compress_requests=True) as remote:
                return await replica.sync(remote, on_progress=on_progress)

        report = _with_replica(work, passphrase)
        for direction, done in (("push", report.pushed), ("pull", report.pulled)):
            bar.update(tasks[direction], total=done, completed=done)
    if app.as_json:
        render.emit_json(app.out, report)
    else:
        app.out.print(render.sync_summary(report))
    if report.refused:
        sys.exit(EXIT_ERROR)


# -- import ------------------------------------------------------------------------

# Refusals shown on screen; --errors FILE has them all.
_SHOWN_PROBLEMS = 20


@cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--type",
    "record_type",
    type=click.Choice(RECORD_TYPES),
    help='The type of the records in FILE that do not say their own "type".',
)
@click.option(
    "--errors",
    "errors_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every refusal to this file, one JSON object a line (line, field, reason).",
)
@click.option("--dry-run", is_flag=True, help="Check every record and report; store nothing.")
def import_(file: Any, record_type: str | None, errors_file: Path | None, dry_run: bool) -> None:
    """Move an existing register into this device: the records of FILE are
    checked, signed and stored encrypted, like records typed in one by one.

    FILE holds JSON records, one per line (JSON Lines), or one JSON array of
    them; '-' reads standard input. Give --type when the records have no
    "type" field (complaint, visitor_entry or verification_visit). Station,
    beat, officer and times are filled in as for any record.

    A wrong record does not stop the others: the refused ones are listed at
    the end with their line, field and reason (exit code 1). Fix those lines
    and run the same import again: records already imported are skipped, never
    stored twice. Start with --dry-run to check a file without storing anything.

    \b
    Examples:
      beatsync import --dry-run register.jsonl
      beatsync import --type visitor_entry --errors refused.jsonl visitors.json
    """
    app, name = _app(), Path(getattr(file, "name", "FILE")).name
    passphrase = _passphrase()  # asked before the progress bar takes the terminal
    data = file.read()
    with _progress_bar(app) as bar:
        task = bar.add_task("Checking " if dry_run else "Importing", total=None)

        async def work(replica: FieldReplica) -> Imported:
            try:
                return await import_register(
                    replica,
                    data,
                    record_type=record_type,
                    dry_run=dry_run,
                    on_progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            except BadRegister as exc:
                raise BadRegister(f"{name}: {exc.reason}. Nothing was imported.") from None

        result = _with_replica(work, passphrase)
    if errors_file is not None:
        errors_file.write_bytes(
            b"".join(orjson.dumps(p.as_json()) + b"\n" for p in result.problems)
        )
    _import_summary(name, result, dry_run=dry_run, errors_file=errors_file)
    if result.problems:
        sys.exit(EXIT_ERROR)


def _import_summary(
    name: str, result: Imported, *, dry_run: bool, errors_file: Path | None
) -> None:
    app, problems = _app(), result.problems
    if app.as_json:
        render.emit_json(
            app.out,
            {
                "ok": not problems,
                "dry_run": dry_run,
                "total": result.total,
                "imported": result.imported,
                "already_imported": result.already_imported,
                "refused": result.refused,
                "errors": [p.as_json() for p in problems],
            },
        )
        return
    verb = "would be imported (dry run: nothing was stored)" if dry_run else "imported"
    app.out.print(
        f"{name}: {result.imported} record(s) {verb};"
        f" already imported: {result.already_imported}; refused: {result.refused}.",
        highlight=False,
    )
    if not problems:
        return
    app.out.print(render.problems_table(problems[:_SHOWN_PROBLEMS]))
    if len(problems) > _SHOWN_PROBLEMS:
        where = f"all are in {errors_file}" if errors_file else "--errors FILE lists them all"
        app.out.print(f"... and {len(problems) - _SHOWN_PROBLEMS} more ({where}).")
    app.out.print(
        "Fix those lines and run the same import again: records already imported are skipped."
    )


@cli.command()
def lock() -> None:
    """Lock BeatSync on this device.

    Nothing stays unlocked between commands: each asks for the passphrase and
    forgets the key when it ends. This command also reminds you to clear a
    passphrase kept in BEATSYNC_PASSPHRASE.
    """
    app = _app()
    message = "Locked: BeatSync keeps no key between commands."
    if PASSPHRASE_ENV in os.environ:
        message += f" Your shell still holds the passphrase: run `unset {PASSPHRASE_ENV}`."
    if app.as_json:
        render.emit_json(app.out, {"ok": True, "passphrase_in_env": PASSPHRASE_ENV in os.environ})
    else:
        app.out.print(message)


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def wipe(yes: bool) -> None:
    """Destroy this device's keys and data for good (when handing the device in).

    Records not yet synced are lost. No passphrase is needed, so a lost or
    revoked device can always be wiped.
    """
    app = _app()
    if not yes:
        click.confirm(
            "Destroy all BeatSync data on this device? Unsynced records are lost",
            abort=True,
            err=True,
        )
    wipe_replica(app.home)
    if app.as_json:
        render.emit_json(app.out, {"ok": True, "wiped": str(app.home)})
    else:
        app.out.print("Wiped: the keys are destroyed; nothing on this device can be opened again.")


@cli.command()
def passphrase() -> None:
    """Change the passphrase (the records are not re-encrypted, only the key)."""
    app = _app()
    old = _passphrase(prompt="Current passphrase")
    new = os.environ.get("BEATSYNC_NEW_PASSPHRASE") or click.prompt(
        "New passphrase", hide_input=True, confirmation_prompt=True, err=True
    )

    async def run() -> None:
        change_passphrase(app.home, old, new)

    _run(run())
    if app.as_json:
        render.emit_json(app.out, {"ok": True})
    else:
        app.out.print("Passphrase changed.")


def main() -> None:
    cli(prog_name="beatsync")
