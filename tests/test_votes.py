"""Votes and trending: the core (with ``now`` given, so every score is exact), the CLI and
the web edge, on real SQLite libraries."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import InvalidOptionError, NotFoundError
from paperatlas.follow.trending import GRAVITY, OFFSET_HOURS, WINDOWS, trending_scores
from test_semantic import HashingEmbedder
from test_tree import papers_of

PASSWORD = "correct horse battery"
NOW = datetime(2025, 7, 10, 12, 0, tzinfo=UTC)


def write_dated(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["title", "abstract", "date"])
        w.writerows(rows)
    return path


def make_library(tmp: Path) -> Library:
    """20 dated papers in two topics (collection "main", tree "t"), users alice, bob, carol."""
    lib = Library(tmp / "v.db", embedding_model=HashingEmbedder("hash-64", 64))
    rows = [(t, a, "2025-06-20") for t, a in papers_of("protein", 10) + papers_of("galaxy", 10)]
    lib.ingest([write_dated(tmp / "in" / "main.csv", rows)], collection="main")
    lib.trees.build("t", collection="main", min_size=4)
    for name in ("alice", "bob", "carol"):
        lib.people.add(name, PASSWORD)
    return lib


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library built once; each test works on a copy (votes change it)."""
    tmp = tmp_path_factory.mktemp("votes-base")
    make_library(tmp).close()
    return tmp / "v.db"


@pytest.fixture
def vlib(base_db: Path, tmp_path: Path) -> Iterator[Library]:
    src = Library(base_db, embedding_model=HashingEmbedder("hash-64", 64))
    src.store.conn.execute(f"VACUUM INTO '{tmp_path / 'v.db'}'")
    src.close()
    lib = Library(tmp_path / "v.db", embedding_model=HashingEmbedder("hash-64", 64))
    yield lib
    lib.close()


def keys(lib: Library) -> list[str]:
    return [p.key for p in lib.papers(order="id")]


def set_date(lib: Library, key: str, date: str | None) -> None:
    with lib.store.transaction():
        lib.store.conn.execute("UPDATE papers SET date = ? WHERE key = ?", (date, key))


def cast(lib: Library, key: str, user: str, at: datetime) -> None:
    lib.follow.trends.vote(lib.store.papers.id_for(key) or 0, user, now=at)


def test_a_vote_counts_once_and_can_be_undone(vlib: Library) -> None:
    key = keys(vlib)[0]
    first = vlib.follow.vote(key, "alice")
    assert (first.voted, first.changed, first.votes) == (True, True, 1)
    again = vlib.follow.vote(key, "ALICE")  # names compare without case
    assert (again.voted, again.changed, again.votes, again.user) == (True, False, 1, "alice")
    assert vlib.follow.vote(key, "bob").votes == 2
    assert vlib.follow.votes([key], "alice")[key].mine and vlib.follow.votes([key], "bob")[key].votes == 2
    undone = vlib.follow.unvote(key, "alice")
    assert (undone.voted, undone.changed, undone.votes) == (False, True, 1)
    assert vlib.follow.unvote(key, "alice").changed is False
    assert vlib.follow.votes([key], "alice")[key].mine is False
    rows = vlib.store.conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    assert rows == 1
    with pytest.raises(NotFoundError, match="no user named 'nobody'"):
        vlib.follow.vote(key, "nobody")
    with pytest.raises(NotFoundError, match="no paper"):
        vlib.follow.vote("no-such-paper", "alice")


def test_removing_a_user_removes_their_votes(vlib: Library) -> None:
    key = keys(vlib)[0]
    vlib.follow.vote(key, "carol")
    vlib.people.remove("carol")
    assert vlib.follow.votes([key])[key].votes == 0


def test_trending_decays_with_the_papers_age(vlib: Library) -> None:
    new, mid, old, unvoted = keys(vlib)[:4]
    set_date(vlib, new, "2025-07-10")  # 12 hours before NOW
    set_date(vlib, mid, "2025-07-08")  # 60 hours
    set_date(vlib, old, None)  # no date: its age counts from when it was added (2026...)
    set_date(vlib, unvoted, "2025-07-10")
    vlib.store.conn.execute("UPDATE papers SET created_at = '2025-05-01T00:00:00Z'"
                            " WHERE key = ?", (old,))
    at = NOW - timedelta(hours=1)
    cast(vlib, new, "alice", at)
    for user in ("alice", "bob", "carol"):
        cast(vlib, mid, user, at)
        cast(vlib, old, user, at)
    result = vlib.follow.trending("day", now=NOW)
    assert [t.paper.key for t in result.papers] == [new, mid, old]  # no vote, no trend
    top = result.papers[0]
    assert top.age_hours == pytest.approx(12.0)
    assert top.score == pytest.approx(1 / (12 + OFFSET_HOURS) ** GRAVITY)
    assert result.papers[1].score == pytest.approx(3 / 62 ** GRAVITY)
    assert result.papers[2].age_hours == pytest.approx((NOW - datetime(2025, 5, 1, tzinfo=UTC))
                                                       .total_seconds() / 3600)
    assert result.since == "2025-07-09T12:00:00Z" and result.now == "2025-07-10T12:00:00Z"
    # enough votes lift the older paper above the newer one: 3 + 17 > (62 / 14)^1.8 = 14.6
    with vlib.store.transaction():
        for i in range(17):
            vlib.store.users.add(f"fan{i}", "not a hash", "2025-01-01T00:00:00Z")
    for i in range(17):
        cast(vlib, mid, f"fan{i}", at)
    assert [t.paper.key for t in vlib.follow.trending("day", now=NOW).papers][:2] == [mid, new]


def test_scores_are_vectorised_gravity() -> None:
    import numpy as np

    scores = trending_scores(np.array([1, 2, 0]), np.array([0.0, 24.0, -5.0]))
    assert scores.tolist() == pytest.approx([1 / 2 ** 1.8, 2 / 26 ** 1.8, 0.0])


def test_windows_count_the_votes_cast_in_them(vlib: Library) -> None:
    today, three_days, twenty_days, later = keys(vlib)[:4]
    cast(vlib, today, "alice", NOW - timedelta(hours=2))
    cast(vlib, three_days, "alice", NOW - timedelta(days=3))
    cast(vlib, twenty_days, "alice", NOW - timedelta(days=20))
    cast(vlib, later, "alice", NOW + timedelta(hours=1))  # after "now": not yet cast
    seen = {w: {t.paper.key for t in vlib.follow.trending(w, now=NOW).papers} for w in WINDOWS}
    assert seen == {"day": {today}, "week": {today, three_days},
                    "month": {today, three_days, twenty_days}}
    assert len(vlib.follow.trending("month", now=NOW, limit=2).papers) == 2
    assert vlib.follow.trending("week", now=NOW).papers[0].votes == 1


def test_trending_per_collection_and_topic(vlib: Library) -> None:
    all_keys = keys(vlib)
    for key in all_keys:
        cast(vlib, key, "alice", NOW - timedelta(hours=3))
    vlib.collections.create("picked")
    vlib.collections.add("picked", all_keys[:3])
    picked = vlib.follow.trending("day", collection="picked", now=NOW, limit=50)
    assert {t.paper.key for t in picked.papers} == set(all_keys[:3])
    assert picked.collection == "picked"
    tree = vlib.trees.get("t")
    kids = tree.child_ids()
    topic = next(n for n in tree.nodes.values() if n.kind == "topic" and n.parent == tree.root)
    under: set[int] = set()
    stack = [topic.id]
    while stack:
        nid = stack.pop()
        under |= set(tree.nodes[nid].papers)
        stack += kids[nid]
    expected = {vlib.store.papers.key_of(pid) for pid in under}
    got = vlib.follow.trending("day", tree="t", node=topic.id, now=NOW, limit=50)
    assert {t.paper.key for t in got.papers} == expected and got.node == topic.id
    assert 0 < len(expected) < len(all_keys)
    whole = vlib.follow.trending("day", tree="t", now=NOW, limit=50)  # the tree alone: its root
    assert whole.node == tree.root and len(whole.papers) == len(all_keys)
    both = vlib.follow.trending("day", tree="t", node=topic.id, collection="picked", now=NOW)
    assert {t.paper.key for t in both.papers} == expected & set(all_keys[:3])


def test_bad_trending_options_name_the_valid_ones(vlib: Library) -> None:
    with pytest.raises(InvalidOptionError, match="valid values are: day, week, month"):
        vlib.follow.trending("year")
    with pytest.raises(InvalidOptionError, match="TREE:ID"):
        vlib.follow.trending("day", node=3)
    with pytest.raises(NotFoundError, match="no tree named 'nope'"):
        vlib.follow.trending("day", tree="nope")
    with pytest.raises(NotFoundError, match="no topic 9999"):
        vlib.follow.trending("day", tree="t", node=9999)
    with pytest.raises(NotFoundError, match="no collection"):
        vlib.follow.trending("day", collection="nope")
    with pytest.raises(InvalidOptionError, match="limit"):
        vlib.follow.trending("day", limit=0)


def test_cli_vote_and_trending(vlib: Library) -> None:
    db = str(vlib.path)
    key = keys(vlib)[0]
    run = CliRunner().invoke
    base = ["--db", db, "--model", "none"]
    r = run(main, [*base, "vote", key, "--user", "bob"])
    assert r.exit_code == 0 and f"bob voted for {key} (1 vote)" in r.output, r.output
    r = run(main, [*base, "vote", key, "--user", "bob"])
    assert r.exit_code == 0 and "already voted" in r.output
    r = run(main, [*base, "trending", "--window", "month", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [p["key"] for p in data["papers"]] == [key] and data["papers"][0]["votes"] == 1
    r = run(main, [*base, "trending", "--node", f"t:{vlib.trees.get('t').root}", "-c", "main"])
    assert r.exit_code == 0 and key in r.output, r.output
    r = run(main, [*base, "vote", key, "--user", "bob", "--undo", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["votes"] == 0
    r = run(main, [*base, "trending", "--window", "year"])
    assert r.exit_code == 1 and "valid values are: day, week, month" in r.output
    r = run(main, [*base, "trending", "--node", "t-3"])
    assert r.exit_code == 2 and "TREE:ID" in r.output
    r = run(main, [*base, "vote", key, "--user", "nobody"])
    assert r.exit_code == 1 and "no user named 'nobody'" in r.output


# -- the web edge ---------------------------------------------------------------------------
pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("argon2")

from fastapi.testclient import TestClient  # noqa: E402

from paperatlas.web import WebSettings, create_app  # noqa: E402
from test_web_accounts import csrf_of, sign_in  # noqa: E402


@pytest.fixture
def client(vlib: Library) -> TestClient:
    return TestClient(create_app(vlib, WebSettings(secret_key="test-key")))


def test_api_votes_need_a_user(client: TestClient, vlib: Library) -> None:
    key = keys(vlib)[0]
    r = client.post(f"/api/papers/{key}/vote")
    assert r.status_code == 401 and r.json()["error"]["type"] == "SignInRequired"
    assert client.delete(f"/api/papers/{key}/vote").status_code == 401
    bad = client.post(f"/api/papers/{key}/vote", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert vlib.follow.votes([key])[key].votes == 0
    token = vlib.people.token_create("alice", "tests").token
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post(f"/api/papers/{key}/vote", headers=auth)
    assert r.status_code == 200 and r.json() == {"key": key, "user": "alice", "voted": True,
                                                 "changed": True, "votes": 1}
    assert client.post(f"/api/papers/{key}/vote", headers=auth).json()["changed"] is False
    missing = client.post("/api/papers/no-such-paper/vote", headers=auth)
    assert missing.status_code == 404
    r = client.delete(f"/api/papers/{key}/vote", headers=auth)
    assert r.status_code == 200 and r.json()["votes"] == 0


def test_signed_in_votes_through_the_api_need_the_csrf_header(client: TestClient,
                                                              vlib: Library) -> None:
    key = keys(vlib)[1]
    csrf = sign_in(client, "bob")
    assert client.post(f"/api/papers/{key}/vote").status_code == 403
    r = client.post(f"/api/papers/{key}/vote", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["user"] == "bob" and r.json()["votes"] == 1


def test_vote_form_works_without_script(client: TestClient, vlib: Library) -> None:
    key = keys(vlib)[2]
    anonymous = client.post(f"/papers/{key}/vote", data={"csrf": "x"}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")
    page = client.get(f"/papers/{key}")
    assert "vote-form" not in page.text  # no button for visitors
    csrf = sign_in(client)
    page = client.get(f"/papers/{key}")
    assert f'action="/papers/{key}/vote"' in page.text and 'aria-pressed="false"' in page.text
    assert client.post(f"/papers/{key}/vote", data={}).status_code == 403  # no CSRF token
    r = client.post(f"/papers/{key}/vote", data={"csrf": csrf_of(page.text),
                                                 "back": f"/papers/{key}"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/papers/{key}"
    page = client.get(f"/papers/{key}")
    assert 'aria-pressed="true"' in page.text and 'name="undo"' in page.text
    assert '<span class="vote-count">1</span>' in page.text
    r = client.post(f"/papers/{key}/vote", data={"csrf": csrf, "undo": "1",
                                                 "back": "https://evil.example/"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/papers/{key}"  # not off-site
    assert vlib.follow.votes([key])[key].votes == 0
    listing = client.get("/")
    assert listing.text.count('class="vote-form"') >= 10  # on every card of the list


def test_trending_api_and_home_tabs(client: TestClient, vlib: Library) -> None:
    key = keys(vlib)[3]
    vlib.follow.vote(key, "alice")
    r = client.get("/api/trending?window=day")
    assert r.status_code == 200 and [p["key"] for p in r.json()["papers"]] == [key]
    assert r.json()["formula"] == "votes / (age_hours + 2) ** 1.8"
    r = client.get("/api/trending?window=year")
    assert r.status_code == 400 and "valid values are: day, week, month" in r.text
    assert client.get("/api/trending?node=t-1").status_code == 400
    assert client.get("/api/trending?node=nope:1").status_code == 404
    root = vlib.trees.get("t").root
    node_scoped = client.get(f"/api/trending?window=month&node=t:{root}&collection=main")
    assert node_scoped.status_code == 200 and node_scoped.json()["papers"][0]["key"] == key
    home = client.get("/?tab=trending&window=day")
    assert home.status_code == 200 and 'aria-current="page">Trending</a>' in home.text
    assert 'aria-current="true">day</a>' in home.text and key in home.text
    assert client.get("/?tab=trending&window=month&collection=main").status_code == 200
    newest = client.get("/")
    assert 'aria-current="page">Newest' in newest.text
    assert client.get("/?tab=hot").status_code == 400
    assert client.get("/?tab=trending&window=year").status_code == 400
