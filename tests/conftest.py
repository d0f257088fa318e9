"""Shared fixtures: real SQLite libraries in temp dirs, the shared data folder and the
stand-in server of remote APIs."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_standin import ChatStandIn, chat_standin
from paperatlas import Library
from paperatlas.sources import arxiv_api
from served import served
from standin import ARXIV_RECORDED, StandIn, serve_feed, split_feed, standin

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    return Path(os.environ.get("PAPERATLAS_SHARED", REPO.parent / "shared"))


@pytest.fixture
def shared() -> Path:
    path = shared_dir()
    if not (path / "seeds").is_dir():
        pytest.skip(f"shared data not found at {path} (set PAPERATLAS_SHARED)")
    return path


@pytest.fixture
def seeds(shared: Path) -> Path:
    return shared / "seeds"


@pytest.fixture(scope="session")
def seed_file() -> Path:
    """The first seed page (73 papers), for module-scoped libraries."""
    seeds = sorted((shared_dir() / "seeds").glob("*.txt"))
    if not seeds:
        pytest.skip("shared seeds not found")
    return seeds[0]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Library]]:
    """The seed library (ingested, indexed with the default model, a tree, a map and a user
    ``alice``) served on loopback for the e2e modules: ``(base url, library)``. Built once
    per run, however many modules use it."""
    seeds = shared_dir() / "seeds"
    if not seeds.is_dir():
        pytest.skip(f"shared data not found at {seeds.parent} (set PAPERATLAS_SHARED)")
    lib = Library(tmp_path_factory.mktemp("e2e") / "seeds.db")
    lib.ingest([seeds])
    lib.index()
    lib.trees.build("seeds")
    lib.map.build()
    lib.people.add("alice", "correct horse battery")
    try:
        with served(lib) as base:
            yield base, lib
    finally:
        lib.close()


@pytest.fixture
def server() -> Iterator[StandIn]:
    """A stand-in server with no routes yet (tests/standin.py)."""
    with standin() as s:
        yield s


@pytest.fixture
def chat() -> Iterator[ChatStandIn]:
    """A stand-in OpenAI-compatible chat endpoint on loopback (``tests/llm_standin.py``)."""
    with chat_standin() as server:
        yield server


@pytest.fixture
def arxiv_server(shared: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """The stand-in arXiv API answering from the recorded answer, 50 entries a page."""
    monkeypatch.setattr(arxiv_api, "PAGE", 50)
    with standin() as s:
        serve_feed(s, split_feed(shared / "data" / ARXIV_RECORDED))
        yield s


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[Library]:
    library = Library(tmp_path / "lib.db", embedding_model=None)  # lexical only: fast
    yield library
    library.close()


@pytest.fixture
def write(tmp_path: Path):
    """Write a file under the temp dir: ``write("a.csv", "text")`` or bytes."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write


def schema_at(path: Path, version: int) -> sqlite3.Connection:
    """A new library file at schema ``version`` (migrations 1..version, as that version of
    paperatlas left it), open in autocommit mode for the caller to fill with old rows."""
    from paperatlas.store.migrations import MIGRATIONS

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    for number, fn in enumerate(MIGRATIONS[:version], start=1):
        conn.execute("BEGIN")
        fn(conn)
        conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    return conn


def dump(library: Library) -> list[str]:
    """Every row of every table, to compare a database before and after."""
    conn = library.store.conn
    out: list[str] = []
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    for table in tables:
        out += [f"{table}: {tuple(r)}" for r in conn.execute(f"SELECT * FROM {table}")]
    return out


def daily_page(entries: list[tuple[str, str]], date: str | None = "Jul 3") -> str:
    """The text of a Daily Papers listing page with the given (title, abstract) pairs."""
    lines = ["new", "", "Get trending papers in your email inbox!", "", "Subscribe", "",
             "byAK and the research community", ""]
    if date:
        lines += [date, ""]
    for title, abstract in entries:
        lines += [title, "", abstract, ""]
    return "\n".join(lines)


ABSTRACT_A = (
    "We study how large language models organize scientific studies into hierarchies. "
    "Our pipeline groups papers into topics and assigns each study to a category, and "
    "experts then correct the generated trees to measure the quality of the result."
)
ABSTRACT_B = (
    "Protein folding is predicted from sequence with a deep network trained on structures "
    "from the protein data bank; the model reaches atomic accuracy on most targets and "
    "generalizes to proteins with no homologous templates in the training set."
)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended: it waits only for a reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def survivors_of_a_kill(parent: int, children: list[int], wait: float = 5.0) -> list[int]:
    """SIGKILL ``parent`` and give its ``children`` ``wait`` seconds to end: those still
    running (the caller kills them whatever the outcome)."""
    os.kill(parent, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while any(process_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in children if process_alive(pid)]
