"""Users, API tokens, collections and jobs in the core and the CLI, on real SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("argon2")

from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import AuthError, ConflictError, InvalidOptionError, NotFoundError
from paperatlas.jobs import INTERRUPTED

PASSWORD = "correct horse battery"


def test_users_add_and_check(lib: Library) -> None:
    user = lib.people.add("alice", PASSWORD)
    assert user.name == "alice" and user.tokens == 0 and user.created_at
    assert lib.people.check("alice", PASSWORD).name == "alice"
    assert lib.people.check("ALICE", PASSWORD).name == "alice"  # names ignore case
    stored = lib.store.conn.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    for name, password in (("alice", "wrong password"), ("nobody", PASSWORD),
                           ("alice", ""), ("alice", "x" * 5000)):
        with pytest.raises(AuthError, match="wrong user name or password"):
            lib.people.check(name, password)
    with pytest.raises(ConflictError):
        lib.people.add("Alice", "another password")
    with pytest.raises(InvalidOptionError, match="8 to 1024 characters"):
        lib.people.add("bob", "short")
    for bad in ("", "-bob", "bob smith", "b" * 65, "<script>"):
        with pytest.raises(InvalidOptionError, match="user name"):
            lib.people.add(bad, PASSWORD)
    lib.people.add("bob", PASSWORD)
    assert [u.name for u in lib.people.all()] == ["alice", "bob"]
    lib.people.remove("bob")
    assert [u.name for u in lib.people.all()] == ["alice"]
    with pytest.raises(NotFoundError):
        lib.people.remove("bob")


def test_tokens(lib: Library) -> None:
    lib.people.add("alice", PASSWORD)
    made = lib.people.token_create("alice", label="  my   script ")
    assert made.token.startswith("pa_") and len(made.token) > 40
    assert made.info.user == "alice" and made.info.label == "my script"
    assert made.info.last_used_at is None
    stored = lib.store.conn.execute("SELECT token_hash FROM api_tokens").fetchone()[0]
    assert made.token not in stored and len(stored) == 64
    assert lib.people.token_check(made.token).name == "alice"
    assert lib.people.tokens("alice")[0].last_used_at is not None
    assert lib.people.get("alice").tokens == 1
    for bad in ("", "pa_nope", made.token + "x", made.token[:-1]):
        with pytest.raises(AuthError, match="invalid API token"):
            lib.people.token_check(bad)
    with pytest.raises(NotFoundError):
        lib.people.token_create("nobody")
    other = lib.people.token_create("alice")
    assert other.token != made.token
    lib.people.remove("alice")  # tokens go with their user
    with pytest.raises(AuthError):
        lib.people.token_check(made.token)
    assert lib.store.conn.execute("SELECT COUNT(*) FROM api_tokens").fetchone()[0] == 0


def _sessions(lib: Library) -> int:
    return int(lib.store.conn.execute("SELECT COUNT(*) FROM web_sessions").fetchone()[0])


def test_web_sessions_end_on_sign_out_password_and_removal(lib: Library) -> None:
    now = [1_750_000_000.0]
    lib.people.clock = lambda: now[0]
    lib.people.add("alice", PASSWORD)
    lib.people.add("bob", PASSWORD)
    first, second = (lib.people.session_start("ALICE", 3600) for _ in range(2))
    assert first != second and lib.people.session_user(first) == "alice"
    stored = lib.store.conn.execute("SELECT id_hash FROM web_sessions").fetchall()
    assert all(first not in row[0] and len(row[0]) == 64 for row in stored)  # hashes only
    assert lib.people.session_end(first) and not lib.people.session_end(first)
    assert lib.people.session_user(first) is None and lib.people.session_user(second) == "alice"
    assert lib.people.session_user("made up") is None
    now[0] += 3601  # expired: no longer a session, and pruned by the next sign-in
    assert lib.people.session_user(second) is None and _sessions(lib) == 1
    bobs = lib.people.session_start("bob", 3600)
    assert _sessions(lib) == 1
    token = lib.people.token_create("bob").token
    ended = lib.people.set_password("bob", "a new password!")
    assert (ended.sessions, ended.tokens) == (1, 1)
    assert lib.people.session_user(bobs) is None and lib.people.tokens("bob") == []
    with pytest.raises(AuthError):
        lib.people.token_check(token)
    with pytest.raises(AuthError):
        lib.people.check("bob", PASSWORD)
    assert lib.people.check("bob", "a new password!").name == "bob"
    with pytest.raises(InvalidOptionError, match="8 to 1024"):
        lib.people.set_password("bob", "short")
    with pytest.raises(NotFoundError):
        lib.people.set_password("nobody", "a new password!")
    alices = lib.people.session_start("alice", 3600)
    lib.people.remove("alice")
    assert lib.people.session_user(alices) is None and _sessions(lib) == 0  # by cascade
    with pytest.raises(NotFoundError):
        lib.people.session_start("alice", 3600)


def test_sign_in_throttling_per_account_and_client(lib: Library) -> None:
    from paperatlas.accounts import AuthLimits
    from paperatlas.errors import TooManyRequestsError

    now = [1_750_000_000.0]
    lib.people.clock = lambda: now[0]
    lib.people.add("alice", PASSWORD)
    limits = AuthLimits(account_failures=3, client_failures=5, signin_window_s=600)
    for _ in range(3):
        with pytest.raises(AuthError):
            lib.people.check("alice", "wrong password", client="10.0.0.1", limits=limits)
    now[0] += 60
    with pytest.raises(TooManyRequestsError, match="for this account") as refused:
        lib.people.check("Alice", PASSWORD, client="10.0.0.2", limits=limits)  # any client
    assert refused.value.retry_after == 540
    assert lib.people.check("alice", PASSWORD).name == "alice"  # the CLI's check is not limited
    now[0] += 541
    assert lib.people.check("alice", PASSWORD, client="10.0.0.2", limits=limits).name == "alice"
    for i in range(5):  # the first three failures from 10.0.0.1 are out of the window
        with pytest.raises(AuthError):
            lib.people.check(f"nobody{i}", PASSWORD, client="10.0.0.1", limits=limits)
    with pytest.raises(TooManyRequestsError, match="from your address"):
        lib.people.check("alice", PASSWORD, client="10.0.0.1", limits=limits)
    assert lib.people.check("alice", PASSWORD, client="10.0.0.3", limits=limits).name == "alice"


def test_collections_create_add_remove(lib: Library, write) -> None:  # type: ignore[no-untyped-def]
    lib.ingest([write("a.csv", "title,doi\nFirst paper,10.1000/a\nSecond paper,10.1000/b\n")])
    keys = [p.key for p in lib.papers()]
    made = lib.collections.create("  reading   list ")
    assert (made.name, made.papers) == ("reading list", 0)
    with pytest.raises(ConflictError):
        lib.collections.create("reading list")
    with pytest.raises(InvalidOptionError):
        lib.collections.create("   ")
    assert lib.collections.add("reading list", keys) == 2
    assert lib.collections.add("reading list", ["10.1000/a"]) == 0  # by identifier, already in
    assert lib.papers.count("reading list") == 2
    assert lib.papers.get(keys[0]).collections == ["a", "reading list"]
    assert lib.collections.remove("reading list", [keys[0]]) == 1
    assert lib.collections.remove("reading list", [keys[0]]) == 0
    assert [p.key for p in lib.papers(collection="reading list")] == [keys[1]]
    assert lib.papers.count() == 2  # removing never deletes a paper
    with pytest.raises(NotFoundError):
        lib.collections.add("nope", keys)
    with pytest.raises(NotFoundError):  # all or nothing: an unknown key changes nothing
        lib.collections.add("reading list", [keys[0], "no-such-paper"])
    assert lib.papers.count("reading list") == 1


def test_ingest_job_records_progress_and_rejections(lib: Library, write) -> None:  # type: ignore[no-untyped-def]
    path = write("up.csv", "title,abstract\nGood one,text\n,no title here\nGood two,more\n")
    job = lib.jobs.enqueue("ingest", {"file": "up.csv", "collection": "up"}, created_by="alice",
                           payload={"path": str(path)})
    assert (job.status, job.created_by, job.finished) == ("queued", "alice", False)
    seen: list[int] = []
    lib.indexer.run_claimed(lib.jobs.claim_job(job.id), progress=lambda d, t: seen.append(d))
    done = lib.jobs.get(job.id)
    assert seen and seen[-1] == path.stat().st_size
    assert done.status == "done" and done.finished and done.message is None
    assert done.result["added"] == 2 and done.result["rejected"] == 1
    assert done.errors == [{"file": "up.csv", "line": 3, "entry": 2, "reason": "no title"}]
    assert done.done == done.total == path.stat().st_size
    assert lib.jobs.get(job.id) == done and lib.jobs.recent()[1].id == job.id and done.attempts == 1
    follow = lib.jobs.recent()[0]  # the index its papers call for, queued for a worker
    assert (follow.kind, follow.status, follow.parent) == ("index", "queued", job.id)
    assert follow.params == {"collections": ["up"]}
    with pytest.raises(Exception, match="not queued"):
        lib.jobs.claim_job(job.id)
    with pytest.raises(NotFoundError):
        lib.jobs.get(999)


def test_failed_ingest_fails_the_job(lib: Library, write) -> None:  # type: ignore[no-untyped-def]
    bad = write("bad.jsonl", '{"title": \n{"title": "ok"}\n')
    queued = lib.jobs.enqueue("ingest", {"format": "jsonl"}, payload={"path": str(bad)})
    lib.indexer.run_claimed(lib.jobs.claim_job(queued.id))  # recorded on the job, not raised
    job = lib.jobs.get(queued.id)
    assert job.status == "failed"
    assert job.message is not None and job.message.startswith("bad.jsonl:1: invalid JSON")
    assert str(bad.parent) not in job.message  # the server's folders are not shown
    assert lib.papers.count() == 0


def test_abandoned_jobs_fail(lib: Library) -> None:
    queued = lib.jobs.create("ingest", {})
    assert lib.jobs.abandon() == 1
    job = lib.jobs.get(queued.id)
    assert job.status == "failed" and job.message == INTERRUPTED and job.finished_at
    with pytest.raises(sqlite3.IntegrityError):
        lib.store.conn.execute("UPDATE jobs SET status = 'lost'")


def _cli(db: Path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--db", str(db), "--model", "none", *args], input=input)


def test_users_cli(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    r = _cli(db, "users", "add", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert r.exit_code == 0 and "added user 'alice'" in r.output
    r = _cli(db, "users", "add", "bob", input="password one\npassword one\n")  # asked twice
    assert r.exit_code == 0, r.output
    r = _cli(db, "users", "add", "carol", input="password one\npassword two\n"
             "password one\npassword one\n")  # a mismatch asks again
    assert r.exit_code == 0 and "do not match" in r.output
    r = _cli(db, "users", "add", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert r.exit_code == 1 and "already exists" in r.output
    r = _cli(db, "users", "add", "dave", "--password-stdin", input="short\n")
    assert r.exit_code == 1 and "8 to 1024" in r.output
    r = _cli(db, "users", "token", "alice", "--label", "ci")
    assert r.exit_code == 0
    token = r.stdout.strip()
    assert token.startswith("pa_") and "not stored" in r.stderr
    listing = _cli(db, "users", "list")
    assert listing.exit_code == 0
    assert [line.split("\t")[0] for line in listing.output.splitlines()] == ["alice", "bob",
                                                                               "carol"]
    assert "1 tokens" in listing.output.splitlines()[0]
    with Library(db, embedding_model=None) as lib:
        assert lib.people.check("alice", PASSWORD).name == "alice"
        assert lib.people.check("bob", "password one").name == "bob"
        assert lib.people.token_check(token).name == "alice"
        with pytest.raises(AuthError):
            lib.people.check("alice", "password one")
    r = _cli(db, "users", "passwd", "alice", input="a new password\na new password\n")
    assert r.exit_code == 0 and "ended 0 web sessions and deleted 1 API tokens" in r.output
    r = _cli(db, "users", "passwd", "nobody", "--password-stdin", input="a new password\n")
    assert r.exit_code == 1 and "no user named 'nobody'" in r.output
    with Library(db, embedding_model=None) as lib:
        assert lib.people.check("alice", "a new password").name == "alice"
        with pytest.raises(AuthError):
            lib.people.token_check(token)
    r = _cli(db, "users", "remove", "bob")
    assert r.exit_code == 0 and "sessions and API tokens ended" in r.output
    r = _cli(db, "users", "remove", "bob")
    assert r.exit_code == 1 and "no user named 'bob'" in r.output
    assert '"name": "alice"' in _cli(db, "users", "list", "--json").output
