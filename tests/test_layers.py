"""The import layers, read from the sources with ``ast`` (nothing is imported).

- ``records/`` is the bottom: it imports nothing of paperatlas but itself, ``errors`` and
  ``bounds``;
- ``store/`` imports only ``records``, ``errors`` and ``bounds`` besides itself (never a
  feature package such as ``organize`` or ``follow``);
- the core (everything outside ``cli/``, ``web/`` and ``__main__``) never imports ``cli`` or
  ``web``;
- nothing below the facade (the services, ``work.py``'s indexer, the feature packages)
  imports ``library`` or ``facade``: the nouns are built from typed collaborators, so no
  service calls back up into the library (only the runners above it do: the worker, the
  BEIR runner, the package's lazy ``Library``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "paperatlas"
EDGES = {"cli", "web"}
EDGE_MODULES = EDGES | {"__main__"}  # ``python -m paperatlas`` runs the CLI
BOTTOM = {"errors", "bounds"}  # helpers the lowest layers may use


def module_name(path: Path, root: Path = PACKAGE) -> list[str]:
    """``root/store/trees.py`` -> ``["paperatlas", "store", "trees"]`` (a package's
    ``__init__.py`` is the package)."""
    parts = ["paperatlas", *path.relative_to(root).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports(source: str, module: list[str], is_package: bool = False) -> Iterator[str]:
    """Every module ``source`` imports (anywhere: functions and ``TYPE_CHECKING`` blocks
    too), relative imports made absolute; ``from X import name`` yields ``X.name``, which
    may be a module or a name in ``X``."""
    package = module if is_package else module[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def paperatlas_imports(path: Path, root: Path = PACKAGE) -> set[str]:
    """The first-level parts of paperatlas that the module at ``path`` imports."""
    found = imports(path.read_text(encoding="utf-8"), module_name(path, root),
                    path.name == "__init__.py")
    return {name.split(".")[1] for name in found
            if name.startswith("paperatlas.") and name.count(".") >= 1}


def sources(*parts: str) -> list[Path]:
    return sorted(PACKAGE.joinpath(*parts).rglob("*.py"))


def first_level(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def test_the_package_is_found() -> None:
    assert len(sources("store")) > 5 and len(sources("records")) >= 7


@pytest.mark.parametrize("path", sources("records"), ids=lambda p: p.name)
def test_records_import_only_the_bottom(path: Path) -> None:
    assert paperatlas_imports(path) <= {"records"} | BOTTOM


@pytest.mark.parametrize("path", sources("store"), ids=lambda p: p.name)
def test_store_imports_records_not_features(path: Path) -> None:
    assert paperatlas_imports(path) <= {"store", "records"} | BOTTOM


def test_the_core_never_imports_the_edges() -> None:
    wrong = {str(p.relative_to(PACKAGE)): sorted(paperatlas_imports(p) & EDGES)
             for p in sources() if first_level(p) not in EDGE_MODULES}
    assert {path: edges for path, edges in wrong.items() if edges} == {}


ABOVE = {"library", "facade", "worker", "update", "beir", "__init__"} | EDGE_MODULES


def test_services_never_call_back_into_the_facade() -> None:
    wrong = {str(p.relative_to(PACKAGE)): sorted(paperatlas_imports(p) & {"library", "facade"})
             for p in sources() if first_level(p) not in ABOVE}
    assert {path: up for path, up in wrong.items() if up} == {}


def test_relative_imports_resolve(tmp_path: Path) -> None:
    """The checker sees a feature import however it is written (it can fail)."""
    store = tmp_path / "store"
    store.mkdir()
    (store / "__init__.py").write_text("from . import trees\nfrom ..records import papers\n")
    (store / "trees.py").write_text(
        "from typing import TYPE_CHECKING\nfrom .db import x\n"
        "if TYPE_CHECKING:\n    from ..organize.model import Tree\n"
        "def f():\n    import paperatlas.web.app\n    from .. import follow\n")
    assert paperatlas_imports(store / "__init__.py", tmp_path) == {"store", "records"}
    assert paperatlas_imports(store / "trees.py", tmp_path) == {
        "store", "organize", "web", "follow"}
