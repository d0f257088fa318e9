"""Memory of ``paperatlas index`` and ``paperatlas vectors import`` at scale (issue 18):
wall, CPU seconds and peak RSS of each stage, in one process.

Usage, on a copy of a library made by ``bench/scale_library.py`` (never the original:
``reset`` rewrites it):

    .venv/bin/python bench/index_memory.py reset --db COPY.db
    .venv/bin/python bench/index_memory.py index --db COPY.db
    .venv/bin/python bench/index_memory.py clear-vectors --db COPY.db
    .venv/bin/python bench/index_memory.py import --db COPY.db FILE.npz [FILE.npz ...]

``reset`` puts the library back where ``vectors import`` left it: no lexical index, no
token cache, the embedding job at the start of the change log (its vectors stay) and a
serving file that says it was written there, so ``index`` builds the lexical index and
the token cache from scratch, hashes every paper's text, writes the serving file again
and brings the ANN up to date, as the first ``index`` after an import does. ``index``
runs those stages as ``paperatlas index`` does and prints, per stage, its wall and CPU
seconds and the peak RSS the process reached during it (``VmHWM``, reset before each stage
through ``/proc/self/clear_refs``; file pages mapped count, as in ``time -v``).
``clear-vectors`` drops every vector, the serving file and the ANN (as before the first
import), and ``import`` then measures each ``vectors import`` of the files in the same way.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from paperatlas import Library


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stage(name: str, work: Callable[[], Any]) -> dict[str, Any]:
    """Run ``work``; its wall and CPU seconds, the peak RSS during it and after it."""
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM back to the current RSS
    wall, cpu = time.perf_counter(), _cpu()
    result = work()
    row = {"stage": name, "wall_s": round(time.perf_counter() - wall, 1),
           "cpu_s": round(_cpu() - cpu, 1), "peak_rss_mb": _status("VmHWM"),
           "rss_after_mb": _status("VmRSS"), "result": repr(result)[:160]}
    print(json.dumps(row), flush=True)
    return row


def reset(db: Path) -> None:
    folder = db.with_name(db.name + ".index")
    shutil.rmtree(folder / "lexical", ignore_errors=True)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM index_state WHERE name IN ('lexical', 'tokens', 'semantic')")
        conn.execute("DELETE FROM paper_tokens")
        conn.execute("DELETE FROM token_names")
    meta_path = folder / "vectors.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        meta["seq"] = 0  # as an import leaves it: the embedding job had not run
        meta_path.write_text(json.dumps(meta))


def clear_vectors(db: Path) -> None:
    """No vectors, no serving file, no ANN: as before the first ``vectors import``."""
    folder = db.with_name(db.name + ".index")
    for pattern in ("vectors.json", "serve-*", "ann.json", "ann-*"):
        for path in folder.glob(pattern):
            path.unlink()
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM embeddings")
        conn.execute("DELETE FROM index_state WHERE name LIKE 'semantic%'")


def index(db: Path) -> None:
    lib = Library(db)
    service, trees = lib.indexer.search, lib.indexer.trees
    rows = [stage("open", lambda: len(lib.vectors.models())),
            stage("lexical", service.sync),
            stage("tokens", trees.sync_tokens),
            stage("text hashes", service.embed),
            stage("serving + ann", service.update_ann)]
    _total(rows)
    lib.close()


def import_files(db: Path, paths: list[Path]) -> None:
    lib = Library(db)
    rows = [stage(f"import {path.name}", functools.partial(lib.import_vectors, path))
            for path in paths]
    _total(rows)
    lib.close()


def _total(rows: list[dict[str, Any]]) -> None:
    print(json.dumps({"stage": "all", "wall_s": round(sum(r["wall_s"] for r in rows), 1),
                      "cpu_s": round(sum(r["cpu_s"] for r in rows), 1),
                      "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
                      "load": os.getloadavg()}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("reset", "index", "clear-vectors", "import"))
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("files", type=Path, nargs="*")
    args = parser.parse_intermixed_args()
    if args.step == "reset":
        reset(args.db)
    elif args.step == "index":
        index(args.db)
    elif args.step == "clear-vectors":
        clear_vectors(args.db)
    else:
        import_files(args.db, args.files)


if __name__ == "__main__":
    main()
