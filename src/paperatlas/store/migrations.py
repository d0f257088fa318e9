"""Numbered schema migrations; ``PRAGMA user_version`` records the last applied.

Add a migration by writing its function (in :mod:`.migrations_late`) and appending it to
:data:`MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .ddl import run_script as _run
from .migrations_authors import m021_author_ids
from .migrations_late import (
    m011_sessions_throttle,
    m012_recheck_collections,
    m013_job_worker,
    m014_live_sources,
    m015_ingest_progress,
    m016_hashed_title_keys,
    m017_embedding_hashes,
    m018_paper_sentences,
    m019_sentences_without_vectors,
    m020_signups,
)
from .migrations_mid import (
    m006_accounts,
    m007_map,
    m008_votes,
    m009_subscriptions,
    m010_token_cache,
)


def m001_initial(conn: sqlite3.Connection) -> None:
    """Papers, identifiers, provenance, collections and the ingest log."""
    _run(
        conn,
        """
        CREATE TABLE papers (
            id          INTEGER PRIMARY KEY,
            key         TEXT NOT NULL UNIQUE,
            title       TEXT NOT NULL,
            norm_title  TEXT NOT NULL,
            abstract    TEXT NOT NULL DEFAULT '',
            authors     TEXT NOT NULL DEFAULT '[]',
            date        TEXT,
            year        INTEGER,
            venue       TEXT,
            categories  TEXT NOT NULL DEFAULT '[]',
            links       TEXT NOT NULL DEFAULT '[]',
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        CREATE INDEX papers_norm_title ON papers(norm_title);
        CREATE INDEX papers_year ON papers(year);

        CREATE TABLE paper_ids (
            paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            scheme   TEXT NOT NULL,
            value    TEXT NOT NULL,
            raw      TEXT NOT NULL,
            PRIMARY KEY (paper_id, scheme, value)
        ) WITHOUT ROWID;
        CREATE INDEX paper_ids_lookup ON paper_ids(scheme, value);

        CREATE TABLE title_keys (
            key      TEXT NOT NULL,
            paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            PRIMARY KEY (key, paper_id)
        ) WITHOUT ROWID;
        CREATE INDEX title_keys_paper ON title_keys(paper_id);

        CREATE TABLE files (
            id                INTEGER PRIMARY KEY,
            sha256            TEXT NOT NULL UNIQUE,
            path              TEXT NOT NULL,
            size              INTEGER NOT NULL,
            format            TEXT NOT NULL,
            encoding          TEXT NOT NULL,
            first_ingested_at TEXT NOT NULL
        );

        CREATE TABLE ingest_runs (
            id          INTEGER PRIMARY KEY,
            started_at  TEXT NOT NULL,
            finished_at TEXT,
            status      TEXT NOT NULL,
            options     TEXT NOT NULL DEFAULT '{}',
            summary     TEXT
        );

        CREATE TABLE ingest_files (
            id          INTEGER PRIMARY KEY,
            run_id      INTEGER NOT NULL REFERENCES ingest_runs(id) ON DELETE CASCADE,
            path        TEXT NOT NULL,
            sha256      TEXT,
            format      TEXT,
            collection  TEXT,
            status      TEXT NOT NULL,
            records     INTEGER NOT NULL DEFAULT 0,
            added       INTEGER NOT NULL DEFAULT 0,
            merged      INTEGER NOT NULL DEFAULT 0,
            skipped     INTEGER NOT NULL DEFAULT 0,
            rejected    INTEGER NOT NULL DEFAULT 0,
            rejections  TEXT NOT NULL DEFAULT '[]',
            error       TEXT,
            error_line  INTEGER,
            finished_at TEXT NOT NULL
        );
        CREATE INDEX ingest_files_run ON ingest_files(run_id);

        CREATE TABLE sources (
            id          INTEGER PRIMARY KEY,
            paper_id    INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            file_id     INTEGER NOT NULL REFERENCES files(id),
            run_id      INTEGER REFERENCES ingest_runs(id) ON DELETE SET NULL,
            entry       INTEGER NOT NULL,
            line        INTEGER NOT NULL,
            source_key  TEXT,
            title       TEXT NOT NULL,
            match_rule  TEXT NOT NULL,
            extra       TEXT,
            ingested_at TEXT NOT NULL,
            UNIQUE (file_id, entry)
        );
        CREATE INDEX sources_paper ON sources(paper_id);

        CREATE TABLE collections (
            id         INTEGER PRIMARY KEY,
            name       TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );

        CREATE TABLE collection_papers (
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            paper_id      INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            added_at      TEXT NOT NULL,
            PRIMARY KEY (collection_id, paper_id)
        ) WITHOUT ROWID;
        CREATE INDEX collection_papers_paper ON collection_papers(paper_id);
        """
    )


def m002_change_log(conn: sqlite3.Connection) -> None:
    """A change sequence per paper, kept by triggers, so indexes update incrementally.

    Every insert, update or delete of a paper, and every change of its collections,
    moves the paper to a new, higher ``seq``; an index remembers the last ``seq`` it
    has absorbed (``index_state``) and picks up only what changed since.
    """
    _run(
        conn,
        """
        CREATE TABLE paper_changes (
            seq      INTEGER PRIMARY KEY AUTOINCREMENT,
            paper_id INTEGER NOT NULL UNIQUE
        );
        CREATE TABLE index_state (
            name       TEXT PRIMARY KEY,
            seq        INTEGER NOT NULL DEFAULT 0,
            settings   TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        );
        CREATE TRIGGER papers_changed_insert AFTER INSERT ON papers BEGIN
            INSERT OR REPLACE INTO paper_changes (paper_id) VALUES (new.id);
        END;
        CREATE TRIGGER papers_changed_update AFTER UPDATE ON papers BEGIN
            INSERT OR REPLACE INTO paper_changes (paper_id) VALUES (new.id);
        END;
        CREATE TRIGGER papers_changed_delete AFTER DELETE ON papers BEGIN
            INSERT OR REPLACE INTO paper_changes (paper_id) VALUES (old.id);
        END;
        CREATE TRIGGER collections_changed_insert AFTER INSERT ON collection_papers BEGIN
            INSERT OR REPLACE INTO paper_changes (paper_id) VALUES (new.paper_id);
        END;
        CREATE TRIGGER collections_changed_delete AFTER DELETE ON collection_papers BEGIN
            INSERT OR REPLACE INTO paper_changes (paper_id) VALUES (old.paper_id);
        END;
        INSERT INTO paper_changes (paper_id) SELECT id FROM papers ORDER BY id
        """,
    )


def m003_embeddings(conn: sqlite3.Connection) -> None:
    """Paper vectors (float16, L2-normalized) and the model and text that made them."""
    _run(
        conn,
        """
        CREATE TABLE embeddings (
            paper_id  INTEGER PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            model     TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            vector    BLOB NOT NULL
        );
        CREATE INDEX embeddings_model ON embeddings(model)
        """,
    )


def m004_title_vectors(conn: sqlite3.Connection) -> None:
    """A second vector per paper, of its title alone (NULL when it has no abstract).

    Semantic search scores a paper by the better of its two vectors. Older vectors have
    no title vector: the semantic index position goes back to 0, so the next
    ``paperatlas index`` revisits every paper (the text hashes changed with this version).
    """
    _run(
        conn,
        """
        ALTER TABLE embeddings ADD COLUMN title_vector BLOB;
        UPDATE index_state SET seq = 0 WHERE name = 'semantic'
        """,
    )




def m005_trees(conn: sqlite3.Connection) -> None:
    """Named topic trees: nodes, paper links, the edit log and the change log."""
    _run(
        conn,
        """
        CREATE TABLE trees (
            id         INTEGER PRIMARY KEY,
            name       TEXT NOT NULL UNIQUE,
            settings   TEXT NOT NULL DEFAULT '{}',
            next_id    INTEGER NOT NULL DEFAULT 0,
            root       INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE tree_nodes (
            tree_id        INTEGER NOT NULL REFERENCES trees(id) ON DELETE CASCADE,
            node_id        INTEGER NOT NULL,
            parent         INTEGER,
            kind           TEXT NOT NULL,
            label          TEXT NOT NULL DEFAULT '',
            keywords       TEXT NOT NULL DEFAULT '[]',
            description    TEXT NOT NULL DEFAULT '',
            label_locked   INTEGER NOT NULL DEFAULT 0,
            representative TEXT NOT NULL DEFAULT '[]',
            centroid       BLOB,
            PRIMARY KEY (tree_id, node_id)
        ) WITHOUT ROWID;
        CREATE TABLE tree_links (
            tree_id  INTEGER NOT NULL REFERENCES trees(id) ON DELETE CASCADE,
            node_id  INTEGER NOT NULL,
            paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            score    REAL NOT NULL,
            pinned   INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (tree_id, node_id, paper_id)
        ) WITHOUT ROWID;
        CREATE INDEX tree_links_paper ON tree_links(paper_id);
        CREATE TABLE tree_edits (
            id      INTEGER PRIMARY KEY,
            tree_id INTEGER NOT NULL REFERENCES trees(id) ON DELETE CASCADE,
            at      TEXT NOT NULL,
            op      TEXT NOT NULL,
            args    TEXT NOT NULL
        );
        CREATE TABLE tree_log (
            id      INTEGER PRIMARY KEY,
            tree_id INTEGER NOT NULL REFERENCES trees(id) ON DELETE CASCADE,
            at      TEXT NOT NULL,
            kind    TEXT NOT NULL,
            summary TEXT NOT NULL
        )
        """,
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_initial, m002_change_log, m003_embeddings, m004_title_vectors, m005_trees,
    m006_accounts, m007_map, m008_votes, m009_subscriptions, m010_token_cache,
    m011_sessions_throttle, m012_recheck_collections, m013_job_worker, m014_live_sources,
    m015_ingest_progress, m016_hashed_title_keys, m017_embedding_hashes,
    m018_paper_sentences, m019_sentences_without_vectors, m020_signups, m021_author_ids]
