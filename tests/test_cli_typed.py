"""A typed CLI (issue 16 item 5): a command's ``state`` is a ``State`` whose ``library()`` is
a ``Library``, so mypy --strict catches a misspelled call on the library."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[1]
#: A command module as the ones in ``src/paperatlas/cli`` are written.
COMMAND = '''"""A command that builds a topic tree."""

from __future__ import annotations

import click

from paperatlas.cli.state import State


def register(main: click.Group, state_type: type[State]) -> None:
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @pass_state
    def load(state: State) -> None:
        state.library().{call}("default")
'''


def test_mypy_catches_a_misspelled_library_call(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wrong_cmd.py").write_text(COMMAND.format(call="trees.buidl"), encoding="utf-8")
    (tmp_path / "right_cmd.py").write_text(COMMAND.format(call="trees.build"), encoding="utf-8")
    monkeypatch.setenv("MYPYPATH", str(ROOT / "src"))  # the sources, as `mypy` checks them
    started = time.monotonic()
    # `make test` runs mypy first: the repository's cache makes this a check of two files.
    out, err, status = mypy_api.run([
        "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(ROOT / ".mypy_cache"),
        "--no-error-summary", str(tmp_path / "wrong_cmd.py"), str(tmp_path / "right_cmd.py")])
    errors = [line for line in out.splitlines() if ": error:" in line and "_cmd.py:" in line]
    assert status == 1, (out, err)
    assert len(errors) == 1, out  # in the misspelled module only
    assert "wrong_cmd.py:16:" in errors[0]
    assert '"Trees" has no attribute "buidl"' in errors[0]
    assert errors[0].endswith("[attr-defined]")
    assert time.monotonic() - started < 120  # seconds with a warm cache, ~1 min cold
