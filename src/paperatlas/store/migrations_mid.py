"""Schema migrations 6 to 10 (accounts, the map, votes, subscriptions, the token cache);
listed in :data:`.migrations.MIGRATIONS`. Never edit one that has shipped."""

from __future__ import annotations

import sqlite3

from .ddl import run_script as _run


def m006_accounts(conn: sqlite3.Connection) -> None:
    """Users (argon2 password hashes), their API tokens (SHA-256 of the token) and jobs
    (background work such as web uploads, with progress and per-record errors)."""
    _run(
        conn,
        """
        CREATE TABLE users (
            id            INTEGER PRIMARY KEY,
            name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            created_at    TEXT NOT NULL
        );
        CREATE TABLE api_tokens (
            id           INTEGER PRIMARY KEY,
            user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            token_hash   TEXT NOT NULL UNIQUE,
            label        TEXT NOT NULL DEFAULT '',
            created_at   TEXT NOT NULL,
            last_used_at TEXT
        );
        CREATE INDEX api_tokens_user ON api_tokens(user_id);
        CREATE TABLE jobs (
            id          INTEGER PRIMARY KEY,
            kind        TEXT NOT NULL,
            status      TEXT NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'done', 'failed')),
            created_by  TEXT,
            params      TEXT NOT NULL DEFAULT '{}',
            done        INTEGER NOT NULL DEFAULT 0,
            total       INTEGER NOT NULL DEFAULT 0,
            result      TEXT NOT NULL DEFAULT '{}',
            errors      TEXT NOT NULL DEFAULT '[]',
            message     TEXT,
            created_at  TEXT NOT NULL,
            started_at  TEXT,
            finished_at TEXT
        )
        """,
    )


def m007_map(conn: sqlite3.Connection) -> None:
    """The 2-D map: a point per paper (made from the vector of its ``text_hash``) and one
    state row holding the fitted projection and how many vectors it was fitted on."""
    _run(
        conn,
        """
        CREATE TABLE map_points (
            paper_id  INTEGER PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            x         REAL NOT NULL,
            y         REAL NOT NULL,
            method    TEXT NOT NULL,
            model     TEXT NOT NULL,
            text_hash TEXT NOT NULL
        );
        CREATE TABLE map_state (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            method     TEXT NOT NULL,
            model      TEXT NOT NULL,
            version    INTEGER NOT NULL,
            fitted     INTEGER NOT NULL,
            params     BLOB,
            settings   TEXT NOT NULL DEFAULT '{}',
            built_at   TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
    )


def m008_votes(conn: sqlite3.Connection) -> None:
    """Upvotes: one row per user and paper (an undo deletes it), with when it was cast.

    Trending lists count the votes cast in a window (``created_at``) per paper.
    """
    _run(
        conn,
        """
        CREATE TABLE votes (
            user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            paper_id   INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, paper_id)
        ) WITHOUT ROWID;
        CREATE INDEX votes_paper ON votes(paper_id, created_at);
        CREATE INDEX votes_created ON votes(created_at)
        """,
    )


def m009_subscriptions(conn: sqlite3.Connection) -> None:
    """Subscriptions and email digests: what each subscription follows, the papers it was
    sent (never twice), the outbox of messages (sent exactly once, retried with backoff)
    and the secrets that sign confirmation and unsubscribe links."""
    _run(
        conn,
        """
        CREATE TABLE subscriptions (
            id             INTEGER PRIMARY KEY AUTOINCREMENT,
            email          TEXT COLLATE NOCASE,
            user_id        INTEGER REFERENCES users(id) ON DELETE CASCADE,
            frequency      TEXT NOT NULL DEFAULT 'daily'
                           CHECK (frequency IN ('daily', 'weekly')),
            confirmed_at   TEXT,
            created_at     TEXT NOT NULL,
            last_digest_at TEXT,
            last_paper_id  INTEGER,
            CHECK (email IS NOT NULL OR user_id IS NOT NULL)
        );
        CREATE INDEX subscriptions_email ON subscriptions(email);
        CREATE INDEX subscriptions_user ON subscriptions(user_id);
        CREATE TABLE subscription_items (
            subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
            kind            TEXT NOT NULL
                            CHECK (kind IN ('search', 'seed', 'node', 'collection', 'author')),
            value           TEXT NOT NULL,
            mode            TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (subscription_id, kind, value, mode)
        ) WITHOUT ROWID;
        CREATE TABLE outbox (
            id              INTEGER PRIMARY KEY,
            subscription_id INTEGER REFERENCES subscriptions(id) ON DELETE SET NULL,
            kind            TEXT NOT NULL CHECK (kind IN ('digest', 'confirm')),
            message_id      TEXT NOT NULL UNIQUE,
            recipient       TEXT NOT NULL,
            subject         TEXT NOT NULL,
            message         BLOB NOT NULL,
            papers          INTEGER NOT NULL DEFAULT 0,
            state           TEXT NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'sending', 'sent', 'failed',
                                             'cancelled')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            attempt_id      TEXT,
            next_attempt_at TEXT NOT NULL,
            last_error      TEXT,
            created_at      TEXT NOT NULL,
            sent_at         TEXT
        );
        CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
        CREATE TABLE sent_papers (
            subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
            paper_id        INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            outbox_id       INTEGER REFERENCES outbox(id) ON DELETE SET NULL,
            PRIMARY KEY (subscription_id, paper_id)
        ) WITHOUT ROWID;
        CREATE TABLE follow_secrets (
            name       TEXT PRIMARY KEY,
            value      TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX papers_created ON papers(created_at)
        """,
    )


def m010_token_cache(conn: sqlite3.Connection) -> None:
    """A cache of each paper's tokens (title and text, as ids of one vocabulary), filled
    by ``paperatlas index``, so that a tree build reads them instead of the texts."""
    _run(
        conn,
        """
        CREATE TABLE token_names (
            id   INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE paper_tokens (
            paper_id INTEGER PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            title    BLOB NOT NULL,
            text     BLOB NOT NULL
        )
        """,
    )
