"""Guard tests for the layering: who may import whom.

The rules, read from the imports of every module (parsed, not imported, so
a forbidden import inside a function or under TYPE_CHECKING counts too):

* ``sync`` is the core: it imports none of ``schemas``, ``server``,
  ``field_client``.
* ``schemas`` stands on ``sync`` only.
* ``server`` and ``field_client`` never import each other.
* Inside ``server`` the groups import only downward, by the ranks below.
  Groups of the same rank are siblings and do not import each other
  (``policy`` and ``couch`` both build on ``state``; the office and the portal
  will sit beside ``hub``).
* Inside ``sync/sqlite`` the store's parts import downward too: the core
  (connections, write lock, transaction, update_seq) knows none of the parts
  that receive it, and only the facade ``store`` knows them all.
* No import cycles between modules.

Each rule is also tried against a small made-up tree that breaks it, so a
check that cannot fail would fail here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sync", "schemas", "server", "field_client")

# What each top-level package may import of the others.
ALLOWED_PACKAGES: Mapping[str, frozenset[str]] = {
    "sync": frozenset(),
    "schemas": frozenset({"sync"}),
    "server": frozenset({"sync", "schemas"}),
    "field_client": frozenset({"sync", "schemas"}),
}

# server/<group> or server/<module>.py -> rank; a group imports only lower ranks.
SERVER_RANKS: Mapping[str, int] = {
    "config": 0,
    "logs": 0,
    "state": 1,
    "policy": 2,
    "couch": 2,
    # Merging and the office's conflict desk: the gateway runs the one, the
    # office web app calls the other. The faces' page frame (web) is their sibling.
    "conflicts": 3,
    "web": 3,
    "gateway": 4,
    "hub": 5,
    "office": 5,
    "portal": 5,
    "site": 6,
    "cli_support": 7,
    "cli_admin": 8,
    "cli": 9,
    "__main__": 10,
}

# sync/sqlite/<module> -> rank, by the same rule.
SQLITE_RANKS: Mapping[str, int] = {
    "schema": 0,
    "edits": 0,
    "query_args": 0,
    "core": 1,
    "reads": 2,
    "local_docs": 2,
    "writes": 3,
    "feed": 3,
    "store": 4,
}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted module name (a submodule where `from pkg import mod`)
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            modules[module_name(root, path)] = path
    return modules


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(root: Path, modules: Mapping[str, Path]) -> Iterator[Import]:
    """Every import of a project module by a project module."""
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(name, path.name == "__init__.py", node)
                # `from pkg import mod` imports the submodule when there is one.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in PACKAGES:
                    yield Import(name, target, node.lineno)


# Folders whose parts import only downward: dotted prefix -> (ranks, folder shown).
RANKED_FOLDERS: Mapping[str, tuple[Mapping[str, int], str]] = {
    "server": (SERVER_RANKS, "server"),
    "sync.sqlite": (SQLITE_RANKS, "sync/sqlite"),
}


def part_of(module: str, prefix: str) -> str:
    """The part right below ``prefix`` (``server.gateway.app`` -> ``gateway``), or ""."""
    head = prefix + "."
    return module[len(head) :].split(".")[0] if module.startswith(head) else ""


def rank_violations(imp: Import) -> Iterator[str]:
    where = f"{imp.importer}:{imp.line} imports {imp.target}"
    for prefix, (ranks, folder) in RANKED_FOLDERS.items():
        source, target = part_of(imp.importer, prefix), part_of(imp.target, prefix)
        if not source or not target or source == target:
            continue
        if source not in ranks or target not in ranks:
            unranked = source if source not in ranks else target
            yield f"{where}: {folder}/{unranked} has no rank; add it"
        elif ranks[target] >= ranks[source]:
            yield (
                f"{where}: {folder}/{source} (rank {ranks[source]}) may import "
                f"only lower ones, not {folder}/{target} (rank {ranks[target]})"
            )


def layering_violations(root: Path) -> list[str]:
    modules = project_modules(root)
    found: list[str] = []
    for imp in imports_of(root, modules):
        source_package, target_package = imp.importer.split(".")[0], imp.target.split(".")[0]
        if source_package != target_package:
            if target_package not in ALLOWED_PACKAGES[source_package]:
                found.append(
                    f"{imp.importer}:{imp.line} imports {imp.target}:"
                    f" {source_package} may not import {target_package}"
                )
            continue
        found.extend(rank_violations(imp))
    return found


def import_cycles(root: Path) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), each a cycle."""
    modules = project_modules(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for imp in imports_of(root, modules):
        if imp.target in modules and imp.target != imp.importer:
            # A package importing its own submodules (re-exports) is the
            # package's face, not a cycle; a submodule importing its package
            # back would make one, and that edge is kept.
            if imp.target.startswith(imp.importer + "."):
                continue
            graph[imp.importer].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_every_import_follows_the_layering() -> None:
    assert layering_violations(ROOT) == []


def test_there_are_no_import_cycles() -> None:
    assert import_cycles(ROOT) == []


def test_the_checks_read_the_real_tree() -> None:
    # Guard against a checker that passes because it saw nothing.
    modules = project_modules(ROOT)
    imports = list(imports_of(ROOT, modules))
    assert "sync.revtree" in modules
    assert "server.gateway.app" in modules
    assert any(
        i.importer == "server.gateway.app" and i.target.startswith("server.policy") for i in imports
    )


def _tree(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent != tmp_path and not (path.parent / "__init__.py").exists():
            (path.parent / "__init__.py").write_text("")
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"sync/core.py": "from server.config import X\n"}, "sync may not import server"),
        (
            {"sync/core.py": "def f():\n    import field_client\n"},
            "sync may not import field_client",
        ),
        (
            {"server/state/a.py": "from field_client import replica\n"},
            "server may not import field_client",
        ),
        ({"field_client/a.py": "import server.cli\n"}, "field_client may not import server"),
        (
            {
                "server/state/a.py": "from server.gateway.app import make_app\n",
                "server/gateway/app.py": "",
            },
            "server/state (rank 1) may import only lower ones, not server/gateway (rank 4)",
        ),
        (
            {"server/policy/a.py": "from ..couch import backend\n", "server/couch/backend.py": ""},
            "server/policy (rank 2) may import only lower ones, not server/couch (rank 2)",
        ),
        (
            {
                "sync/sqlite/core.py": "from sync.sqlite.reads import Reads\n",
                "sync/sqlite/reads.py": "",
            },
            "sync/sqlite/core (rank 1) may import only lower ones, not sync/sqlite/reads (rank 2)",
        ),
        (
            {"sync/sqlite/feed.py": "from . import store\n", "sync/sqlite/store.py": ""},
            "sync/sqlite/feed (rank 3) may import only lower ones, not sync/sqlite/store (rank 4)",
        ),
        ({"server/lounge/a.py": "from server.state import b\n"}, "server/lounge has no rank"),
    ],
)
def test_a_forbidden_import_is_reported(
    tmp_path: Path, files: Mapping[str, str], expected: str
) -> None:
    violations = layering_violations(_tree(tmp_path, files))
    assert any(expected in line for line in violations), violations


def test_an_import_cycle_is_reported(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "sync/a.py": "from sync import b\n",
            "sync/b.py": "from sync.c import x\n",
            "sync/c.py": "import sync.a\n",
        },
    )
    assert import_cycles(root) == [["sync.a", "sync.b", "sync.c"]]


def test_a_downward_import_is_not_reported(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "server/gateway/app.py": "from server.state import models\n",
            "server/state/models.py": "import sync\n",
        },
    )
    assert layering_violations(root) == []
    assert import_cycles(root) == []
