"""Schema migration 21: the authors' identifiers, found by value (listed in
:mod:`.migrations` with the others)."""

from __future__ import annotations

import sqlite3

from .ddl import run_script as _run

#: The ``author_ids`` rows of one source row (``src``): one per identifier of each author
#: of its ``extra.author_ids`` (``[{"name": ..., "position": ..., "orcid": ..., "s2": ...},
#: ...]``; ``entry`` numbers them, ``position`` is the author's place in the paper's list).
_ROWS_OF = """
    SELECT {src}.id, CAST(a.key AS INTEGER), {src}.paper_id,
           COALESCE(CAST(json_extract(a.value, '$.position') AS INTEGER), -1),
           json_extract(a.value, '$.name'), i.key, i.value
    FROM {tables}json_each({src}.extra, '$.author_ids') AS a, json_each(a.value) AS i
    WHERE a.type = 'object' AND json_type(a.value, '$.name') = 'text'
      AND i.key IN ('orcid', 's2', 'openalex', 'hf') AND i.type = 'text'"""


def m021_author_ids(conn: sqlite3.Connection) -> None:
    """The identifiers (ORCID, Semantic Scholar, OpenAlex, Hugging Face) that sources give
    a paper's authors, one row per identifier of each author of each source row, looked up
    by value (an author's papers under every name) and by paper.

    The rows are made from the source rows' ``extra.author_ids`` by a trigger, so every
    way a source row is written (a new paper, a record merged into one, a batch) keeps
    them, and a paper keeps every source's; a source row moved to another paper moves its
    rows, a paper deleted deletes them. Source rows written before have none (the
    importers kept no author identifiers); those already holding some are read in."""
    _run(
        conn,
        f"""
        CREATE TABLE IF NOT EXISTS author_ids (
            source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
            entry     INTEGER NOT NULL,
            paper_id  INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            position  INTEGER NOT NULL,
            name      TEXT NOT NULL,
            scheme    TEXT NOT NULL,
            value     TEXT NOT NULL,
            PRIMARY KEY (source_id, entry, scheme)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS author_ids_value ON author_ids(scheme, value);
        CREATE INDEX IF NOT EXISTS author_ids_paper ON author_ids(paper_id);
        CREATE TRIGGER IF NOT EXISTS sources_author_ids AFTER INSERT ON sources
        WHEN new.extra IS NOT NULL AND instr(new.extra, '"author_ids"') > 0
             AND json_valid(new.extra) BEGIN
            INSERT OR IGNORE INTO author_ids
                (source_id, entry, paper_id, position, name, scheme, value)
            {_ROWS_OF.format(src="new", tables="")};
        END;
        CREATE TRIGGER IF NOT EXISTS sources_author_ids_moved
        AFTER UPDATE OF paper_id ON sources BEGIN
            UPDATE author_ids SET paper_id = new.paper_id WHERE source_id = new.id;
        END;
        INSERT OR IGNORE INTO author_ids
            (source_id, entry, paper_id, position, name, scheme, value)
        {_ROWS_OF.format(src="s", tables="sources AS s, ")}
          AND s.extra IS NOT NULL AND instr(s.extra, '"author_ids"') > 0
          AND json_valid(s.extra)
        """,
    )
