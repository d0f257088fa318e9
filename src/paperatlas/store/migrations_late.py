"""Schema migrations 11 on (1-10 are in :mod:`.migrations`, which lists them all)."""

from __future__ import annotations

import sqlite3

from .ddl import run_script as _run
from .keys import key_hash


def m011_sessions_throttle(conn: sqlite3.Connection) -> None:
    """Server-side web sessions (a cookie names one; sign-out, a new password or removing
    the user deletes them) and a log of rate-limited events (failed sign-ins, bad tokens,
    confirmation mails) that every server process counts against."""
    _run(
        conn,
        """
        CREATE TABLE web_sessions (
            id_hash      TEXT PRIMARY KEY,
            user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at   TEXT NOT NULL,
            expires_at   TEXT NOT NULL
        );
        CREATE INDEX web_sessions_user ON web_sessions(user_id);
        CREATE TABLE throttle_events (
            key TEXT NOT NULL,
            at  REAL NOT NULL
        );
        CREATE INDEX throttle_events_key ON throttle_events(key, at)
        """,
    )


def m012_recheck_collections(conn: sqlite3.Connection) -> None:
    """Log every collected paper as changed once: adding a paper to a collection went
    through ``INSERT OR IGNORE``, whose conflict clause overrode the change-log trigger's
    ``OR REPLACE``, so the search index's collection filter missed such additions. The
    next ``index`` re-reads those papers."""
    conn.execute("INSERT OR REPLACE INTO paper_changes (paper_id)"
                 " SELECT DISTINCT paper_id FROM collection_papers ORDER BY paper_id")


def m013_job_worker(conn: sqlite3.Connection) -> None:
    """Jobs for a worker process: private arguments (``payload``: a server path), a
    coalescing key (one queued job per key), the job that queued it, the process running
    it (``owner``, ``claim``), its heartbeat and attempts; one running job per kind.
    Jobs left queued or running by the servers before (they ran their own) fail."""
    conn.execute(
        "UPDATE jobs SET status = 'failed', finished_at = strftime('%Y-%m-%dT%H:%M:%SZ'),"
        " message = 'interrupted: the server stopped before the job finished; upload the"
        " file again' WHERE status IN ('queued', 'running')")
    have = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    for column, kind in (("payload", "TEXT NOT NULL DEFAULT '{}'"), ("coalesce_key", "TEXT"),
                         ("parent_id", "INTEGER"), ("owner", "TEXT"), ("claim", "TEXT"),
                         ("heartbeat_at", "REAL"),
                         ("attempts", "INTEGER NOT NULL DEFAULT 0")):
        if column not in have:  # (a test may run this migration twice)
            conn.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
    _run(
        conn,
        """
        CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_running ON jobs(kind)
            WHERE status = 'running';
        CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_queued ON jobs(coalesce_key)
            WHERE status = 'queued';
        CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, id)
        """,
    )


def m014_live_sources(conn: sqlite3.Connection) -> None:
    """Remote sources a library follows (arXiv, Hugging Face Daily Papers, OpenAlex, ...):
    what to ask, how often, and the stored cursor that the records of each fetched page
    commit with; and signals a source keeps per paper (upvotes, repository, keywords)."""
    _run(
        conn,
        """
        CREATE TABLE IF NOT EXISTS live_sources (
            id            INTEGER PRIMARY KEY,
            name          TEXT NOT NULL UNIQUE,
            kind          TEXT NOT NULL,
            settings      TEXT NOT NULL DEFAULT '{}',
            collection    TEXT,
            every_seconds INTEGER NOT NULL,
            paused        INTEGER NOT NULL DEFAULT 0,
            cursor        TEXT NOT NULL DEFAULT '{}',
            created_at    TEXT NOT NULL,
            last_run_at   TEXT,
            last_ok_at    TEXT,
            next_due_at   TEXT,
            runs          INTEGER NOT NULL DEFAULT 0,
            records       INTEGER NOT NULL DEFAULT 0,
            added         INTEGER NOT NULL DEFAULT 0,
            last_error    TEXT
        );
        CREATE TABLE IF NOT EXISTS paper_signals (
            paper_id   INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            source     TEXT NOT NULL,
            name       TEXT NOT NULL,
            value      TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (paper_id, source, name)
        ) WITHOUT ROWID
        """,
    )


def m015_ingest_progress(conn: sqlite3.Connection) -> None:
    """Where a file ingested in batches stands: the last entry (and its line) whose batch
    committed, and the file's counts so far, so that a killed ingest of the same file
    (same sha256) resumes after it. The row goes when the file finishes."""
    _run(
        conn,
        """
        CREATE TABLE IF NOT EXISTS ingest_progress (
            file_id    INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
            entry      INTEGER NOT NULL,
            line       INTEGER NOT NULL,
            state      TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        )
        """,
    )


def m016_hashed_title_keys(conn: sqlite3.Connection) -> None:
    """Title blocking keys as 64-bit hashes (:func:`~paperatlas.store.keys.key_hash`): a small
    table whose pages stay in the cache, so a big ingest's random inserts into it write
    few pages; the titles of the papers under a key are read from a covering index in
    paper order (``papers_titles``) instead of rows of ``papers``. Exact-title lookups
    use the same keys, so the index on ``papers.norm_title`` goes."""
    _run(
        conn,
        """
        CREATE TABLE IF NOT EXISTS title_hashes (
            h        INTEGER NOT NULL,
            paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            PRIMARY KEY (h, paper_id)
        ) WITHOUT ROWID
        """,
    )
    old = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'title_keys'")
    if old.fetchone() is not None:
        rows = conn.execute("SELECT key, paper_id FROM title_keys")
        while chunk := rows.fetchmany(10_000):
            conn.executemany("INSERT OR IGNORE INTO title_hashes (h, paper_id) VALUES (?, ?)",
                             [(key_hash(k), pid) for k, pid in chunk])
        conn.execute("DROP TABLE title_keys")
    _run(
        conn,
        """
        CREATE INDEX IF NOT EXISTS title_hashes_paper ON title_hashes(paper_id);
        CREATE INDEX IF NOT EXISTS papers_titles ON papers(id, norm_title);
        DROP INDEX IF EXISTS papers_norm_title
        """,
    )


def m017_embedding_hashes(conn: sqlite3.Connection) -> None:
    """A covering index of each vector's text hash, so the map's count of papers whose
    point is missing or stale reads it instead of every vector (0.94 -> 0.33 s at 2.5M
    papers)."""
    _run(conn, "CREATE INDEX IF NOT EXISTS embeddings_hashes ON embeddings(paper_id, text_hash)")


def m018_paper_sentences(conn: sqlite3.Connection) -> None:
    """Each paper's abstract split into sentences, with a vector per sentence: one row per
    paper (the sentences as a JSON list, their vectors as one float16 matrix), kept with
    the hash of the text they were split from and the model that embedded them, so a
    changed abstract or model splits and embeds again. Written by the index job only."""
    _run(
        conn,
        """
        CREATE TABLE IF NOT EXISTS paper_sentences (
            paper_id  INTEGER PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            text_hash TEXT NOT NULL,
            model     TEXT NOT NULL,
            dim       INTEGER NOT NULL,
            sentences TEXT NOT NULL,
            vectors   BLOB NOT NULL
        )
        """,
    )


def m019_sentences_without_vectors(conn: sqlite3.Connection) -> None:
    """Sentences are embedded when a question needs them, not stored with vectors (which
    cost ~1.8 h of 2 cores and ~0.9 GB per 100k papers): ``paper_sentences`` keeps each
    paper's split and the hash of the text it was split from, and gives back the space of
    the vectors (the splits are kept, so nothing is split again)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(paper_sentences)")}
    if "vectors" not in columns:
        return
    _run(
        conn,
        """
        CREATE TABLE paper_sentences_split (
            paper_id  INTEGER PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            text_hash TEXT NOT NULL,
            sentences TEXT NOT NULL
        );
        INSERT INTO paper_sentences_split (paper_id, text_hash, sentences)
            SELECT paper_id, text_hash, sentences FROM paper_sentences ORDER BY paper_id;
        DROP TABLE paper_sentences;
        ALTER TABLE paper_sentences_split RENAME TO paper_sentences
        """,
    )


def m020_signups(conn: sqlite3.Connection) -> None:
    """Open sign-up: ``signups`` holds the sign-ups waiting for their address to confirm
    them (the name, unique regardless of case, the address, the argon2 hash of the password
    and the SHA-256 of the secret in the confirmation link, until ``expires_at``); an
    outbox message belongs to a sign-up (``signup_id``) instead of a subscription, and is
    cancelled unsent when its sign-up is gone (confirmed, replaced or removed)."""
    _run(
        conn,
        """
        CREATE TABLE IF NOT EXISTS signups (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
            email         TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            secret_hash   TEXT NOT NULL,
            created_at    TEXT NOT NULL,
            expires_at    TEXT NOT NULL
        )
        """,
    )
    columns = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
    if "signup_id" not in columns:  # (a test may run this migration twice)
        conn.execute("ALTER TABLE outbox ADD COLUMN signup_id INTEGER"
                     " REFERENCES signups(id) ON DELETE SET NULL")
    _run(conn, "CREATE INDEX IF NOT EXISTS outbox_signup ON outbox(signup_id)"
               " WHERE signup_id IS NOT NULL")
