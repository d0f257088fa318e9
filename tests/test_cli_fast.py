"""The fast CLI (issue 16, item 7): no model or engine loaded that a command does not need,
no library created by a read, and `tree show`/`export` on the one tree without --name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.embed.sbert import DEFAULT_MODEL
from test_semantic import HashingEmbedder
from test_tree import papers_of, tlib, write_csv  # noqa: F401  (tlib: a fixture)

HEAVY = ("torch", "sentence_transformers", "openvino", "transformers", "sklearn")
#: Runs the CLI in this process, then prints which heavy modules it imported.
PROBE = ("import sys\nfrom paperatlas.cli import main\n"
         "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    code = exc.code\n"
         "import json\nprint(json.dumps([code, sorted(m for m in " + repr(HEAVY)
         + " if m in sys.modules)]), file=sys.stderr)")


def loaded(*args: str) -> tuple[object, list[str], str]:
    """Run ``paperatlas ARGS`` in a fresh process: exit code, heavy modules loaded, stdout."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("PAPERATLAS_DB", None)
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, env=env, timeout=60)
    code, heavy = json.loads(proc.stderr.strip().splitlines()[-1])
    return code, heavy, proc.stdout


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[Path]:
    """A library whose vectors carry the default model's name (made by a stand-in)."""
    lib = Library(tmp_path / "v.db", embedding_model=HashingEmbedder(DEFAULT_MODEL, 64))
    lib.ingest([write_csv(tmp_path / "in.csv", papers_of("graph", 6) + papers_of("ocean", 6))])
    lib.index()
    yield lib.path
    lib.close()


def test_help_and_lexical_search_load_no_model(stored: Path) -> None:
    code, heavy, out = loaded("--help")
    assert code == 0 and "Commands:" in out and heavy == []
    code, heavy, out = loaded("--db", str(stored), "search", "--mode", "lexical", "graph")
    assert code == 0 and "graph study" in out and heavy == []


def test_similar_on_stored_vectors_loads_no_model(stored: Path) -> None:
    key = next(iter(Library(stored, embedding_model=None).papers(limit=1))).key
    code, heavy, out = loaded("--db", str(stored), "similar", key, "--mode", "semantic")
    assert code == 0 and "score" in out and heavy == []


def test_read_command_on_missing_library_creates_nothing(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERATLAS_DB", raising=False)
    for args in (["search", "LoRA"], ["--db", "gone.db", "show", "x"],
                 ["--db", "gone.db", "tree", "show"], ["--db", "gone.db", "stats"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1, args
        assert "no library at" in r.output and "paperatlas ingest" in r.output
    assert list(tmp_path.iterdir()) == []


def test_tree_show_and_export_use_the_one_tree(tlib: Library) -> None:  # noqa: F811
    base = ["--db", str(tlib.path), "--model", "none"]
    run = CliRunner().invoke
    r = run(main, [*base, "tree", "show"])
    assert r.exit_code == 1 and "no tree yet" in r.output
    tlib.trees.build("only", min_size=4)
    r = run(main, [*base, "tree", "show", "--depth", "1"])
    assert r.exit_code == 0 and r.output.startswith("only (120 papers")
    r = run(main, [*base, "tree", "export", "--format", "markdown"])
    assert r.exit_code == 0 and r.output.startswith("# only")
    tlib.trees.build("other", min_size=4)
    r = run(main, [*base, "tree", "show"])
    assert r.exit_code == 1 and "several trees" in r.output and "only, other" in r.output
