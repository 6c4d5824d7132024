"""The one message catalogue is complete: every string a page, a face's
code or the officer's app marks for translation has its Hindi, each msgid
lives in one file, placeholders survive translation, nothing is stale."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from schemas.i18n import LANGUAGES, catalog, catalog_files, month_name, negotiate, translations

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
# Where translatable strings may be: the faces' templates and modules.
TEMPLATE_GLOBS = (
    "schemas/web/templates/**/*.html",
    "server/**/templates/**/*.html",
    "field_client/**/templates/**/*.html",
)
CODE_DIRS = ("schemas/web", "server/web", "server/portal", "server/office", "field_client/ui")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def marked_strings() -> Iterator[tuple[str, Path, int]]:
    for pattern in TEMPLATE_GLOBS:
        for path in sorted(ROOT.glob(pattern)):
            for line, message, _comments, _context in extract_from_file(
                "jinja2.ext:babel_extract", path, keywords=KEYWORDS
            ):
                for text in message if isinstance(message, tuple) else (message,):
                    yield text, path, line
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, message, _comments, _context in extract_from_file(
                "python", path, keywords=KEYWORDS
            ):
                for text in message if isinstance(message, tuple) else (message,):
                    if text:
                        yield text, path, line


def test_every_marked_string_has_its_hindi() -> None:
    hindi = catalog("hi")
    missing = sorted(
        {
            f"{path.relative_to(ROOT)}:{line}: {text!r}"
            for text, path, line in marked_strings()
            if not (hindi.get(text) and hindi[text].string)
        }
    )
    assert not missing, "untranslated:\n" + "\n".join(missing)


def test_the_catalogue_holds_only_strings_in_use() -> None:
    used = {text for text, _path, _line in marked_strings()}
    stale = sorted(message.id for message in catalog("hi") if message.id and message.id not in used)
    assert not stale, f"in the catalogue but nowhere marked: {stale}"


def test_each_msgid_lives_in_one_file_and_keeps_its_placeholders() -> None:
    seen: dict[str, Path] = {}
    for path in catalog_files("hi"):
        with path.open("rb") as fileobj:
            part = read_po(fileobj, locale="hi")
        for message in part:
            if not message.id:
                continue
            assert message.id not in seen, f"{message.id!r} in {seen.get(message.id)} and {path}"
            seen[message.id] = path
            assert not message.fuzzy, f"fuzzy entry {message.id!r} in {path.name}"
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            wanted = {name for text in ids for name in PLACEHOLDER.findall(text)}
            for text in strings:
                assert set(PLACEHOLDER.findall(text)) == wanted, (path.name, message.id, text)


def test_the_checks_above_can_fail() -> None:
    """An unknown string has no Hindi: the completeness check is not vacuous."""
    assert catalog("hi").get("a string nobody translated") is None
    assert translations("hi").gettext("a string nobody translated") == "a string nobody translated"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("hi-IN,hi;q=0.9,en;q=0.8", "hi"),
        ("en-IN,en;q=0.9,hi;q=0.8", "en"),
        ("en;q=0.5,hi;q=0.9", "hi"),
        ("fr-FR,de", "en"),
        ("hi;q=0", "en"),
        ("hi;q=abc,en", "en"),
        (None, "en"),
    ],
)
def test_the_browser_s_language_is_chosen(header: str | None, expected: str) -> None:
    assert expected in LANGUAGES
    assert negotiate(header) == expected


def test_months_are_named_in_the_readers_language() -> None:
    assert month_name("2026-11", "en") == "Nov"
    assert month_name("2026-11", "hi") == "नव॰"
    assert month_name("2026-01", "en", "MMMM y") == "January 2026"
    assert month_name("2026-11", "hi", "MMMM y") == "नवंबर 2026"
