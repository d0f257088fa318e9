"""``paperatlas sources`` and ``paperatlas sync`` over a real library file and the
stand-in arXiv API (tests/standin.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperatlas.cli import main
from standin import StandIn, standin


@pytest.fixture
def run(tmp_path: Path):
    settings = tmp_path / "settings.toml"
    settings.write_text('[sources]\npace = 0.01\ncontact = "me@example.org"\n')
    db = str(tmp_path / "cli.db")

    def _run(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, ["--db", db, "--settings", str(settings), *args])
        assert result.exit_code == code, result.output
        return result

    return _run


def test_add_list_sync_pause_remove(run, arxiv_server: StandIn) -> None:
    out = run("sources", "add", "testing", "--kind", "arxiv", "--query", "testing",
              "--since", "2026-11-01", "--every", "6h", "--base-url", arxiv_server.base_url).output
    assert "testing  [arxiv]" in out and "every 360 min" in out
    out = run("sync", "testing").output
    assert "testing: 2 pages, 100 records: added 100, merged 0" in out
    assert "me@example.org" in arxiv_server.seen()[0].headers["user-agent"]
    [state] = json.loads(run("sources", "list", "--json").output)
    assert state["added"] == 100 and state["runs"] == 1 and state["last_error"] is None
    assert state["spec"]["every_seconds"] == 21_600
    assert "(paused)" in run("sources", "pause", "testing").output
    assert "(paused)" not in run("sources", "resume", "testing").output
    run("sources", "remove", "testing")
    assert "no sources yet" in run("sources", "list").output
    assert "100" in run("stats").output  # the papers stay


def test_bad_input_is_named(run, arxiv_server: StandIn) -> None:
    out = run("sources", "add", "x", "--kind", "arxiv", code=1).output
    assert "--query" in out
    out = run("sources", "add", "x", "--kind", "nope", code=2).output
    assert "arxiv-oai" in out  # the valid kinds are listed
    out = run("sources", "add", "x", "--kind", "arxiv", "--query", "q", "--every", "5s",
              code=1).output
    assert "every" in out
    out = run("sources", "add", "bad name", "--kind", "arxiv", "--query", "q", code=1).output
    assert "source name" in out
    out = run("sources", "add", "x", "--kind", "arxiv", "--query", "q", "--since", "yesterday",
              code=1).output
    assert "YYYY-MM-DD" in out
    run("sources", "add", "x", "--kind", "arxiv", "--query", "q")
    assert "exists" in run("sources", "add", "x", "--kind", "arxiv", "--query", "q",
                           code=1).output
    assert "no source named 'y'" in run("sync", "y", code=1).output


def test_a_failing_source_exits_1_and_keeps_its_cursor(run, tmp_path: Path) -> None:
    with standin() as down:  # every answer is a 404: not retried, reported
        run("sources", "add", "t", "--kind", "arxiv", "--query", "q", "--base-url",
            down.base_url)
        out = run("sync", "t", code=1).output
        assert "stopped:" in out and "HTTP 404" in out
    [state] = json.loads(run("sources", "list", "--json").output)
    assert state["cursor"] == {} and "HTTP 404" in state["last_error"]
