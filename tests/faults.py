"""Fault injection for paperatlas commands (issue 21): run a command in a child process
and kill it at chosen points, fill its disk, and compare the library a killed run and its
re-run leave with the library of an uninterrupted run.

Kill points are SQL statements: the child (tests/faults_child.py) counts the statements of
every connection it opens and SIGKILLs itself just before the K-th; an uninterrupted run
tells how many there are, and :func:`kill_points` spreads K over them (one at random in
each of N equal stretches, seeded). Work that runs no SQL (clustering, embedding, writing
index files) is reached by timed kills (:func:`run` with ``kill_after``).

What a kill must never change (:func:`library_state`): ``PRAGMA integrity_check``, the
papers (keys and titles), the JSONL export's checksum (times of ingest left out), the
top 10 of a few searches, the stored vectors, every tree (its JSON export, times left
out), the map's points, the outbox and the jobs' ends. Used by tests/test_faults_*.py and
bench/fault_kills.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

from paperatlas import Library

TESTS = Path(__file__).resolve().parent
CHILD = [sys.executable, "-c", "import faults_child; faults_child.main()"]
QUERIES = ("language models", "retrieval augmented generation", "protein structure",
           "image diffusion", "reinforcement learning from human feedback")


@dataclass(frozen=True)
class Ran:
    """How a child run ended."""

    returncode: int
    out: str
    err: str
    statements: int  # SQL statements it ran (-1: unknown, it was killed)
    seconds: float
    marks: tuple[tuple[int, str], ...] = ()  # statements that start with ``mark``

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def child_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": path, **extra}


def run(db: Path, args: Sequence[str], *, kill_at: int = 0, kill_after: float | None = None,
        fsize: int | None = None, model: str = "none", settings: Path | None = None,
        mark: str = "", timeout: float = 300, cwd: Path | None = None,
        now: str | None = None) -> Ran:
    """``paperatlas --db DB --model MODEL [--settings S] ARGS`` in a child process, killed
    just before its ``kill_at``-th SQL statement or ``kill_after`` seconds in, with its
    files limited to ``fsize`` bytes; ``model`` "hash-64" is the tests' hashing embedder;
    ``now``: the time its syncs see as now."""
    count = db.with_name(db.name + ".statements")
    count.unlink(missing_ok=True)
    extra = {"FAULTS_COUNT": str(count), "FAULTS_KILL_AT": str(kill_at), "FAULTS_MARK": mark}
    if fsize is not None:
        extra["FAULTS_FSIZE"] = str(fsize)
    if now is not None:
        extra["FAULTS_NOW"] = now
    head = ["--db", str(db), "--model", model]
    if settings is not None:
        head += ["--settings", str(settings)]
    started = time.monotonic()
    proc = subprocess.Popen([*CHILD, *head, *args], env=child_env(**extra), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    try:
        out, err = proc.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    seconds = time.monotonic() - started
    lines = count.read_text().splitlines() if count.exists() else ["-1"]
    marks = tuple((int(n), text) for n, text in (line.split("\t", 1) for line in lines[1:]))
    return Ran(proc.returncode, out, err, int(lines[0]), seconds, marks)


def kill_points(total: int, n: int, seed: int = 0) -> list[int]:
    """``n`` statement numbers in 1..``total``: one at random in each of ``n`` equal
    stretches, so the kills spread over the whole run."""
    rng = random.Random(seed)
    edges = [1 + (total - 1) * i // n for i in range(n + 1)]
    return [rng.randint(lo, max(lo, hi - 1)) for lo, hi in pairwise(edges)]


def library_files(db: Path) -> list[Path]:
    """The library's file and everything beside it named after it (WAL, index folder)."""
    return [p for p in db.parent.iterdir() if p.name == db.name or
            (p.name.startswith(db.name) and p.name[len(db.name)] in ".-")]


def copy_library(src: Path, dst: Path) -> Path:
    """A copy of the closed library ``src`` (its index and files too) at ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for path in library_files(src):
        target = dst.with_name(dst.name + path.name[len(src.name):])
        if path.is_dir():
            shutil.copytree(path, target, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target)
    return dst


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the library as it is on disk ("ok" when sound)."""
    if not db.exists():
        return "ok"  # killed before it made the file: nothing to break
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return ", ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def _timeless(value: Any) -> Any:
    """``value`` with every ``*_at`` key (a time of day) left out, recursively."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items()
                if not (k.endswith("_at") or k in {"built", "updated", "created"})}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _digest(rows: Any) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def library_state(db: Path, queries: Sequence[str] = QUERIES) -> dict[str, Any]:
    """What a killed run and its re-run must leave exactly as an uninterrupted run does."""
    assert integrity(db) == "ok", f"{db}: integrity_check: {integrity(db)}"
    with Library(db, embedding_model=None) as lib:
        conn = lib.store.conn
        out = io.StringIO()
        lib.papers.export("jsonl", out)
        export = [_timeless(json.loads(line)) for line in out.getvalue().splitlines()]
        trees: dict[str, Any] = {}
        for info in lib.trees.all():
            text = io.StringIO()
            lib.trees.export(info.name, "json", text)
            trees[info.name] = _timeless(json.loads(text.getvalue()))
        return {
            "papers": sorted(tuple(r) for r in conn.execute("SELECT key, title FROM papers")),
            "export": _digest(export),
            "search": {q: [h.key for h in lib.search(q, mode="lexical", limit=10).hits]
                       for q in queries},
            "pending": lib.search("x", mode="lexical").pending,
            "vectors": _digest([(r[0], r[1], r[2].hex(), (r[3] or b"").hex()) for r in conn.execute(
                "SELECT p.key, e.model, e.vector, e.title_vector FROM embeddings e "
                "JOIN papers p ON p.id = e.paper_id ORDER BY p.key")]),
            "sentences": conn.execute("SELECT count(*) FROM paper_sentences").fetchone()[0],
            "trees": _digest(trees),
            "tree_names": sorted(trees),
            "map": _digest([(r[0], round(r[1], 4), round(r[2], 4)) for r in conn.execute(
                "SELECT p.key, m.x, m.y FROM map_points m JOIN papers p ON p.id = m.paper_id "
                "ORDER BY p.key")]),
            "outbox": sorted((m.recipient, m.state, m.subject)
                             for m in lib.follow.outbox(limit=500)),
            "jobs": sorted({(j.kind, j.status) for j in lib.jobs.recent(200)}),
        }


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """The parts of two library states that differ (empty: the same library)."""
    return [k for k in want if got.get(k) != want[k]]


def invoke(db: Path, args: Sequence[str], *, model: str = "none",
           settings: Path | None = None, now: str | None = None) -> str:
    """The same command in this process (a re-run without a child's start-up): its
    output; fails unless it exits 0."""
    from click.testing import CliRunner

    from faults_child import hashing_models, pinned_clock
    from paperatlas.cli import main

    head = ["--db", str(db), "--model", model]
    if settings is not None:
        head += ["--settings", str(settings)]
    with hashing_models(), pinned_clock(now):
        result = CliRunner().invoke(main, [*head, *args], catch_exceptions=False)
    assert result.exit_code == 0, f"{' '.join(args)}: {result.output}"
    return result.output


class Mailbox(Protocol):
    """What an SMTP stand-in received (tests/test_subscriptions.py's ``Sink``)."""

    messages: list[EmailMessage]


def mail_of(box: Mailbox) -> tuple[list[tuple[str, str, tuple[str, ...]]], int]:
    """The messages received, each once (by Message-ID): recipient, subject and the papers
    it links; and how many came twice."""
    seen: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for msg in box.messages:
        body = msg.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        papers = tuple(line.split("/papers/", 1)[1] for line in text.splitlines()
                       if "/papers/" in line)
        seen[str(msg["Message-ID"])] = (str(msg["To"]), str(msg["Subject"]), papers)
    return sorted(seen.values()), len(box.messages) - len(seen)


@dataclass
class Scenario:
    """A command to kill: every run starts from a copy of the closed library ``base``."""

    name: str
    base: Path
    args: list[str]
    model: str = "none"
    settings: Path | None = None
    mailbox: Mailbox | None = None  # the SMTP stand-in its mail goes to, if any
    queries: Sequence[str] = QUERIES
    #: The time its syncs see as now (default: when :func:`kill_and_rerun` starts). One
    #: time for all its runs: a sync asks arXiv for papers up to now, to the minute, and
    #: runs started in different minutes would ask (and record) different windows.
    now: str | None = None


@dataclass
class Kill:
    """One kill and its re-run."""

    at: str  # "statement K of N" or "after S s"
    killed: bool  # False: the run ended before the kill point (a timed one may)
    integrity: str
    job: str | None  # the kind of the job the kill left running
    differences: list[str]  # what the re-run's library has unlike the uninterrupted one's
    mail_twice: int = 0  # messages delivered again by the re-run (same Message-ID)
    rerun_seconds: float = 0.0


@dataclass
class Outcome:
    scenario: str
    reference: Ran
    kills: list[Kill]

    @property
    def survived(self) -> int:
        return sum(k.killed and k.integrity == "ok" and not k.differences for k in self.kills)


def _state(db: Path, scenario: Scenario) -> dict[str, Any]:
    state = library_state(db, scenario.queries)
    if scenario.mailbox is not None:
        state["mail"] = mail_of(scenario.mailbox)[0]
    return state


def _running_job(db: Path) -> str | None:
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT kind FROM jobs WHERE status = 'running'").fetchone()
    except sqlite3.OperationalError:  # killed inside its first migration: no tables yet
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


#: Where a job begins: its claim (tests/faults_child.py's ``FAULTS_MARK``).
CLAIM = "UPDATE jobs SET status = 'running'"


def job_spans(ref: Ran, db: Path) -> list[tuple[str, int, int]]:
    """The statements of each job an uninterrupted run (with ``mark=CLAIM``) ran: its kind
    and its first and last statement numbers."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        kinds = dict(conn.execute("SELECT id, kind FROM jobs").fetchall())
    finally:
        conn.close()
    starts = [(n, kinds[int(text.rsplit("id = ", 1)[1].split()[0])]) for n, text in ref.marks]
    ends = [n - 1 for n, _ in starts[1:]] + [ref.statements]
    return [(kind, n, end) for (n, kind), end in zip(starts, ends, strict=True)]


def kill_and_rerun(scenario: Scenario, folder: Path, *, points: int = 5, timed: int = 0,
                   seed: int = 0, per_job: bool = False, workers: int = 2,
                   in_process: bool = True) -> Outcome:
    """An uninterrupted run, then ``points`` runs killed at SQL statements spread over it
    (``per_job``: over each job it ran) and ``timed`` killed at moments spread over its
    time, each re-run to its end (``in_process``: in this process) and compared with the
    uninterrupted run's library. Killed runs go ``workers`` at a time (one with mail)."""
    s = scenario
    if s.now is None:
        s = replace(s, now=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if s.mailbox is not None:
        s.mailbox.messages.clear()
        workers = 1
    reference = folder / "reference" / s.base.name
    ref = run(copy_library(s.base, reference), s.args, model=s.model, settings=s.settings,
              mark=CLAIM if per_job else "", now=s.now)
    assert ref.returncode == 0, f"{s.name}: {ref.err}"
    want = _state(reference, s)
    spans = [("", 1, ref.statements)]
    if per_job:  # each kind's first job
        spans = list({kind: (kind, lo, hi) for kind, lo, hi in
                      reversed(job_spans(ref, reference))}.values())
    plan: list[tuple[str, int, float | None]] = []
    for n, (kind, lo, hi) in enumerate(spans):
        where = f" ({kind})" if kind else ""
        plan += [(f"statement {lo - 1 + k} of {ref.statements}{where}", lo - 1 + k, None)
                 for k in kill_points(hi - lo + 1, points, seed + n)]
    rng = random.Random(seed)
    plan += [(f"after {t:.2f} s", 0, t) for t in  # within the run's last 3/4
             (ref.seconds * (0.25 + 0.7 * (i + rng.random()) / timed) for i in range(timed))]

    def killed(i: int) -> Ran:
        db = copy_library(s.base, folder / f"kill{i}" / s.base.name)
        _, kill_at, after = plan[i]
        ran = run(db, s.args, kill_at=kill_at, kill_after=after, model=s.model,
                  settings=s.settings, now=s.now)
        assert ran.killed or ran.returncode == 0, f"{s.name} {plan[i][0]}: {ran.err}"
        return ran

    kills: list[Kill] = []
    with ThreadPoolExecutor(workers) as pool:
        runs = pool.map(killed, range(len(plan))) if s.mailbox is None else iter(())
        for i, (at, _, _) in enumerate(plan):
            if s.mailbox is not None:
                s.mailbox.messages.clear()
            ran = next(runs) if s.mailbox is None else killed(i)
            db = folder / f"kill{i}" / s.base.name
            sound, job = integrity(db), _running_job(db)
            started = time.monotonic()
            if in_process:
                invoke(db, s.args, model=s.model, settings=s.settings, now=s.now)
            else:
                again = run(db, s.args, model=s.model, settings=s.settings, now=s.now)
                assert again.returncode == 0, f"{s.name} re-run after {at}: {again.err}"
            seconds = time.monotonic() - started
            twice = mail_of(s.mailbox)[1] if s.mailbox is not None else 0
            kills.append(Kill(at, ran.killed, sound, job, differences(_state(db, s), want),
                              twice, seconds))
    return Outcome(s.name, ref, kills)
