"""Author identifiers on a library made from the real exports and API answers in
``../shared/data/formats`` (issue 20, item 2): how many authors carry an identifier, and
how many name variants the identifiers join or tell apart.

Usage: .venv/bin/python bench/author_ids.py [--work DIR] [--bulk]

The files are those of ``tests/test_e2e_real.py`` (the bulk files left out: 2,000 OAI
records, 1,000 S2 titles, the two 1,241-item Zotero libraries); ``--bulk`` adds them. The
library is ingested only (no index: the counts read the store). Counted:

- author occurrences: a paper's authors, one per name key per paper, and those that some
  source of the paper gives an identifier (ORCID, S2, OpenAlex, Hugging Face);
- people: the mentions with identifiers grouped by them (those whose identifiers of two
  schemes or more link one service's author to another's, such as an S2 id to an ORCID);
- authors: name keys joined where a person's identifiers cover several keys
  (:func:`paperatlas.author_ids.group` over every mention in the library), a key that
  ORCIDs tell apart staying its own author beside each person; with an identifier: an
  author one of whose people has one;
- name variants joined by identifiers: the authors made of two keys or more, the keys
  beyond the first, and the distinct spellings of such authors;
- told apart: name keys with two people or more of different ORCIDs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from paperatlas import Library
from paperatlas.author_ids import group
from paperatlas.authors import author_key

FORMATS = Path(__file__).resolve().parents[2] / "shared" / "data" / "formats"
SUFFIXES = {".xml", ".json", ".jsonl", ".bib", ".ris", ".csv"}
BULK = ("2000records", "bulk_titles", "bulk-performance")


def real_files(bulk: bool) -> list[Path]:
    left_out = ("esearch",) + (() if bulk else BULK)
    return sorted(p for p in FORMATS.rglob("*") if p.suffix in SUFFIXES
                  and not any(part in p.name for part in left_out))


def measure(lib: Library) -> dict[str, object]:
    conn = lib.store.conn
    occurrences: set[tuple[int, str]] = set()
    for pid, authors in conn.execute("SELECT id, authors FROM papers"):
        occurrences.update((pid, k) for k in map(author_key, json.loads(authors)) if k)
    mentions = lib.store.author_ids.on_papers(
        r[0] for r in conn.execute("SELECT DISTINCT paper_id FROM author_ids"))
    people = group(mentions, author_key)
    with_ids = {(m.paper_id, author_key(m.name)) for m in mentions}
    # Authors: keys and people, a person joined to each of its keys unless ORCIDs tell
    # that key's people apart.
    orcids_of_key: dict[str, set[str]] = defaultdict(set)
    for p in people:
        for m in p.mentions:
            if p.orcid:
                orcids_of_key[author_key(m.name)].add(p.orcid)
    split = {k for k, o in orcids_of_key.items() if len(o) > 1}
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for _, k in occurrences:
        root(f"k:{k}")
    for i, p in enumerate(people):
        me = root(f"p:{i}")
        for k in {author_key(m.name) for m in p.mentions} - split:
            if k:
                parent[root(f"k:{k}")] = me
    members: dict[str, list[str]] = defaultdict(list)
    for node in list(parent):
        members[root(node)].append(node)
    authors = list(members.values())
    carrying = [a for a in authors if any(n.startswith("p:") for n in a)]
    joined = [a for a in authors if sum(n.startswith("k:") for n in a) > 1]
    spellings = 0
    for a in joined:
        idx = [int(n[2:]) for n in a if n.startswith("p:")]
        spellings += len({m.name for i in idx for m in people[i].mentions})
    schemes = Counter(s for m in mentions for s, _ in m.ids)
    return {
        "papers": conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0],
        "author_occurrences": len(occurrences),
        "occurrences_with_an_id": len(with_ids & occurrences),
        "mentions_with_ids": len(mentions), "ids_by_scheme": dict(schemes),
        "people_by_ids": len(people), "people_with_orcid": sum(1 for p in people if p.orcid),
        "people_with_ids_of_two_schemes": sum(1 for p in people if len(p.ids) > 1),
        "name_keys": len({k for _, k in occurrences}),
        "authors": len(authors), "authors_with_an_id": len(carrying),
        "authors_joined_from_several_keys": len(joined),
        "keys_joined_beyond_the_first": sum(sum(n.startswith("k:") for n in a) - 1
                                            for a in joined),
        "spellings_of_joined_authors": spellings,
        "examples_joined": [sorted({m.name for i in (int(n[2:]) for n in a if
                                                     n.startswith("p:"))
                                    for m in people[i].mentions})[:4] for a in joined[:8]],
        "keys_told_apart_by_orcid": len(split),
        "people_in_told_apart_keys": sum(len(orcids_of_key[k]) for k in split),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--bulk", action="store_true", help="add the bulk files")
    args = ap.parse_args()
    if not FORMATS.is_dir():
        sys.exit(f"no shared data at {FORMATS}")
    work = args.work or Path(tempfile.mkdtemp(prefix="author-ids-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / ("bulk.db" if args.bulk else "real.db")
    for p in work.glob(db.name + "*"):
        p.unlink()
    files = real_files(args.bulk)
    with Library(db, embedding_model=None) as lib:
        start = time.perf_counter()
        report = lib.ingest(files)
        took = time.perf_counter() - start
        out = {"files": len(files), "failed_files": report.failed_files,
               "ingest_s": round(took, 1), **measure(lib)}
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
