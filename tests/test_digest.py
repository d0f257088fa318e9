"""Digests: personal ranking, no paper twice, the outbox's exactly-once delivery across a
killed run, retries with backoff into a visible failed state, and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("aiosmtpd")

from click.testing import CliRunner

import test_subscriptions
from paperatlas import Library
from paperatlas.cli import main
from paperatlas.follow.outbox import send_lock
from paperatlas.follow.ranking import Candidates, Ranker, RankSettings
from paperatlas.follow.settings import MailSettings
from paperatlas.follow.subscriptions import items_from
from test_subscriptions import Sink, add_new, make_library, settings

from conftest import dump

sink = test_subscriptions.sink  # the SMTP server fixture

SINCE = "2000-01-01"


def test_ranker_scores_reasons_caps_and_windows() -> None:
    vectors = np.eye(4, dtype=np.float32)
    cands = Candidates(ids=np.array([10, 11, 12, 13]), created=np.array(
        ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z",
         "2024-01-04T00:00:00Z"]), texts=["protein folding", "protein", "galaxy", "star"],
        vectors=vectors)
    ranker = Ranker(cands, RankSettings(max_papers=2, min_score=0.3))
    ranker.add_searches([("s", "protein folding", "lexical", "search")], str.split, None)
    ranker.add_similar([("seed", vectors[2], "like seed")])
    ranker.add_member("m", {13, 99}, "author")
    row, _ = ranker.rows["s"]
    assert row[0] == pytest.approx(1.0) and 0 < row[1] < 1 and row[2] == 0
    everything = np.ones(4, dtype=bool)
    picks = ranker.pick(["s", "seed", "m"], everything)
    assert [(i, r) for i, _, r in picks] == [(3, "author"), (2, "like seed")]  # newest first
    picks = ranker.pick(["s", "seed", "m"], everything, np.array([2, 3]))
    assert [i for i, _, _ in picks] == [0, 1]
    window = np.array([False, True, True, True])
    assert [i for i, _, _ in ranker.pick(["s"], window)] == [1]
    assert ranker.pick(["missing"], everything) == []


def test_no_paper_twice_and_windows(tmp_path: Path, sink: tuple[Sink, MailSettings]) -> None:
    server, mail = sink
    lib = make_library(tmp_path)
    st = settings(max_papers=3, min_score=0.3)
    sub = lib.follow.subscribe("p@example.org", items_from(searches=["protein residue enzyme"]), st,
                        mail, confirmed=True)
    report = lib.follow.digest_run(st, mail)
    assert (report.due, report.queued, report.empty) == (1, 0, 1)  # the old papers are older
    add_new(lib, tmp_path, "new", 100, 6)
    assert lib.follow.digest_run(st, mail).due == 0  # a daily digest is not due again yet
    later = datetime.now(UTC) + timedelta(hours=21)
    lib.follow.set_clock(lambda: later)
    first = lib.follow.digest_run(st, mail)
    assert (first.queued, first.papers, first.sent) == (1, 3, 1)
    # the same window again (--since): the next best papers, never the ones already sent
    again = lib.follow.digest_run(st, mail, since=SINCE)
    assert again.due == 0
    lib.follow.set_clock(lambda: later + timedelta(hours=21))
    second = lib.follow.digest_run(st, mail, since=SINCE)
    assert second.queued == 1
    sent = [m for m in server.messages]
    keys = [set(_paper_links(m)) for m in sent]
    assert len(keys) == 2 and not keys[0] & keys[1]
    assert all("protein" in k for k in keys[0] | keys[1])
    # dry run: shows, writes nothing
    lib.follow.set_clock(lambda: later + timedelta(days=3))
    before, last = lib.follow.outbox(), lib.follow.subscription(sub.id).last_digest_at
    dry = lib.follow.digest_run(st, mail, since=SINCE, dry_run=True)
    assert dry.queued == 1 and dry.digests[0].picks and lib.follow.outbox() == before
    assert lib.follow.subscription(sub.id).last_digest_at == last
    lib.close()


def _paper_links(msg: object) -> list[str]:
    from test_subscriptions import parts

    text, _ = parts(msg)  # type: ignore[arg-type]
    return [line.split("/papers/", 1)[1] for line in text.splitlines() if "/papers/" in line]


def test_votes_seeds_topics_and_classifier(tmp_path: Path) -> None:
    pytest.importorskip("argon2")
    lib = make_library(tmp_path)
    lib.people.add("bob", "correct horse battery")
    proteins = [p.key for p in lib.papers(collection="old") if "protein" in p.title.lower()]
    for key in proteins:
        lib.follow.vote(key, "bob")
    st = settings(min_votes=5, min_score=0.5)
    mine = lib.follow.subscribe(None, items_from(authors=["Nobody Here"]), st, MailSettings(),
                         user="bob")
    seeded = lib.follow.subscribe("s@example.org", items_from(seeds=[proteins[0]]), st, MailSettings(),
                           confirmed=True)
    add_new(lib, tmp_path, "new", 200, 5)
    [digest] = lib.follow.digest_preview(st, subscription=mine.id)
    reasons = {p.reason for p in digest.picks}
    assert digest.picks and reasons <= {"like papers you upvoted", "learned from your votes"}
    assert all("protein" in p.title.lower() for p in digest.picks)
    [digest] = lib.follow.digest_preview(st, email="s@example.org")
    assert digest.subscription.id == seeded.id and digest.picks
    assert {p.reason for p in digest.picks} == {f"like {proteins[0]}"}
    assert proteins[0] not in {p.key for p in digest.picks}
    # a topic node follows its papers and the topics under it
    lib.trees.build("t", min_size=3)
    tree = lib.trees.get("t")
    node = next(n for n in tree.nodes.values() if n.kind == "topic" and n.parent == tree.root
                and any("galaxy" in lib.store.papers.texts([p])[p][1].lower() for p in n.papers))
    topic = lib.follow.subscribe("t@example.org", items_from(nodes=[f"t:{node.id}"]), st,
                          MailSettings(), confirmed=True)
    add_new(lib, tmp_path, "newer", 300, 4)
    lib.collections.add("old", [p.key for p in lib.papers(collection="newer")])
    lib.trees.update("t")
    [digest] = lib.follow.digest_preview(st, subscription=topic.id)
    assert digest.picks and all(p.reason.startswith("topic") for p in digest.picks)
    assert all("galaxy" in p.title.lower() for p in digest.picks)
    lib.close()


def test_retries_with_backoff_then_fails(tmp_path: Path, sink: tuple[Sink, MailSettings]) -> None:
    server, mail = sink
    server.reject = True
    lib = make_library(tmp_path, model=False)
    lib.follow.subscribe("r@example.org", items_from(collections=["old"]), settings(), mail,
                  confirmed=True)
    now = datetime.now(UTC)
    clock = [now]
    lib.follow.set_clock(lambda: clock[0])
    st = settings()  # backoff 60 s, 3 attempts
    first = lib.follow.digest_run(st, mail, since=SINCE)
    assert (first.queued, first.sent, first.retrying) == (1, 0, 1)
    [msg] = lib.follow.outbox()
    assert msg.state == "pending" and msg.attempts == 1 and "550" in (msg.last_error or "")
    assert msg.next_attempt_at == (now + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert lib.follow.digest_send(st, mail).retrying == 0  # not due yet
    clock[0] = now + timedelta(seconds=61)
    assert lib.follow.digest_send(st, mail).retrying == 1
    assert lib.follow.outbox()[0].next_attempt_at == (clock[0] + timedelta(seconds=120)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    clock[0] += timedelta(seconds=121)
    assert lib.follow.digest_send(st, mail).failed == 1
    [failed] = lib.follow.outbox("failed")
    assert failed.attempts == 3 and failed.state == "failed"
    clock[0] += timedelta(days=1)
    server.reject = False
    assert lib.follow.digest_send(st, mail).sent == 0 and server.messages == []  # failed stays failed
    lib.close()
    r = CliRunner().invoke(main, ["--db", str(tmp_path / "s.db"), "--model", "none",
                                  "digest", "outbox", "--state", "failed"])
    assert r.exit_code == 0 and "failed" in r.output and "550" in r.output


def test_unreachable_server_keeps_messages(tmp_path: Path) -> None:
    from test_subscriptions import free_port

    lib = make_library(tmp_path, model=False)
    for n in range(3):
        lib.follow.subscribe(f"u{n}@example.org", items_from(collections=["old"]), settings(),
                      MailSettings(), confirmed=True)
    mail = MailSettings(host="127.0.0.1", port=free_port(), timeout=2)
    report = lib.follow.digest_run(settings(), mail, since=SINCE)
    assert report.queued == 3 and report.retrying == 1  # the run stops at the first failure
    assert sorted(m.attempts for m in lib.follow.outbox()) == [0, 0, 1]
    lib.close()


def test_a_second_run_waits_for_the_first(tmp_path: Path) -> None:
    lib = make_library(tmp_path, model=False)
    lib.follow.subscribe("w@example.org", items_from(collections=["old"]), settings(), MailSettings(),
                  confirmed=True)
    with send_lock(lib.path) as held:
        assert held
        report = lib.follow.digest_run(settings(), MailSettings(), since=SINCE)
    assert report.skipped and report.queued == 0 and lib.follow.outbox() == []
    lib.close()


def test_killed_run_resumes_exactly_once(tmp_path: Path, sink: tuple[Sink, MailSettings]) -> None:
    """``digest run`` in a child process is killed (SIGKILL) while the SMTP server holds the
    third message's recipient; the next run delivers the rest: each once, none lost."""
    server, mail = sink
    lib = make_library(tmp_path, model=False)
    for n in range(6):
        lib.follow.subscribe(f"k{n}@example.org", items_from(collections=["old"]), settings(), mail,
                      confirmed=True)
    lib.close()
    conf = tmp_path / "settings.toml"
    conf.write_text(f'base_url = "http://testserver"\n[smtp]\nhost = "127.0.0.1"\n'
                    f'port = {mail.port}\nfrom = "Papers <papers@example.org>"\n',
                    encoding="utf-8")
    command = [str(Path(sys.executable).with_name("paperatlas")), "--db", str(tmp_path / "s.db"),
               "--model", "none", "--settings", str(conf), "digest", "run", "--since", SINCE]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server.on_rcpt = lambda n: os.kill(child.pid, signal.SIGKILL) if n == 3 else None
    _, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, err.decode()
    server.on_rcpt = None
    assert len(server.messages) == 2
    with Library(tmp_path / "s.db", embedding_model=None) as lib:
        states = sorted(m.state for m in lib.follow.outbox())
    assert states == ["pending"] * 3 + ["sending"] + ["sent"] * 2
    done = subprocess.run([*command, "--json"], env=env, capture_output=True, timeout=120,
                          check=True)
    report = json.loads(done.stdout)
    assert report["due"] == 0 and report["sent"] == 4
    ids = server.ids()
    assert len(ids) == 6 and len(set(ids)) == 6  # every message once, by Message-ID
    assert sorted(str(m["To"]) for m in server.messages) == [f"k{n}@example.org"
                                                             for n in range(6)]
    with Library(tmp_path / "s.db", embedding_model=None) as lib:
        outbox = lib.follow.outbox()
        assert {m.state for m in outbox} == {"sent"}
        assert {m.message_id for m in outbox} == set(ids)


def test_cli_preview_and_dry_run(tmp_path: Path) -> None:
    lib = make_library(tmp_path, model=False)
    lib.follow.subscribe("v@example.org", items_from(searches=["galaxy telescope"]), settings(),
                  MailSettings(), confirmed=True)
    add_new(lib, tmp_path)
    lib.close()
    base = ["--db", str(tmp_path / "s.db"), "--model", "none"]
    r = CliRunner().invoke(main, [*base, "digest", "preview", "v@example.org"])
    assert r.exit_code == 0 and "why: search" in r.output and "galaxy" in r.output.lower()
    r = CliRunner().invoke(main, [*base, "digest", "run", "--dry-run", "--json"])
    report = json.loads(r.stdout)
    assert report["dry_run"] and report["queued"] == 1 and report["digests"][0]["papers"]
    r = CliRunner().invoke(main, [*base, "digest", "run", "--since", "yesterday"])
    assert r.exit_code == 1 and "2024-07-01" in r.output
    r = CliRunner().invoke(main, [*base, "digest", "outbox"])
    assert r.output == ""


def test_a_followed_topic_ranks_its_papers_by_closeness_to_its_centre() -> None:
    vectors = np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    candidates = Candidates(ids=np.array([1, 2, 3, 4], dtype=np.int64),
                            created=np.array(["2026-01-01"] * 4), texts=[""] * 4,
                            vectors=vectors)
    ranker = Ranker(candidates, RankSettings(min_score=0.3, max_papers=10))
    ranker.add_member("t", {1, 2, 3}, "topic", centre=np.array([2, 0, 0], dtype=np.float32))
    ranker.add_member("c", {4}, "collection")
    row = ranker.rows["t"][0]
    assert row.tolist() == pytest.approx([1.0, 0.8, 0.3, 0.0])  # 3 is a member: the floor
    picked = ranker.pick(["t"], np.ones(4, dtype=bool))
    assert [i for i, _, _ in picked] == [0, 1, 2]  # central first; non-members never
    assert ranker.rows["c"][0].tolist() == [0, 0, 0, 1.0]  # collections: every paper


def test_a_preview_only_reads(tmp_path: Path) -> None:
    """A preview (a GET on the web) never indexes or embeds the papers that wait."""
    lib = make_library(tmp_path)
    st = settings(min_score=0.0)
    lib.follow.subscribe("p@example.org", items_from(searches=["protein"]), st, MailSettings(),
                  confirmed=True)
    rows = test_subscriptions.papers_of("protein", 3, 300)
    lib.ingest([test_subscriptions.write_csv(tmp_path / "in" / "late.csv", rows)])
    assert lib.search.service.pending("semantic") == 3
    before = dump(lib)
    lib.follow.digest_preview(st, email="p@example.org")
    assert dump(lib) == before
    assert lib.search.service.pending("semantic") == 3
