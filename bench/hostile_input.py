"""Hostile input files: what ingest does with each, its wall time and its peak memory.

Usage: .venv/bin/python bench/hostile_input.py [--gb 1] [--line-mb 50] [--keep DIR]

Each file is made in a temporary folder (the NUL-filled ones are sparse, so they cost
no disk) and ingested by a fresh process into a fresh library; the table gives the
outcome, the wall time and the process's peak RSS, next to a baseline process that
ingests a one-line CSV. Issue 15 (item 11) asks for < 300 MB per input file.
Prints a Markdown table to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from paperatlas.ingest import limits

#: Run in a child process: ingest one file, print the outcome and the peak RSS.
_CHILD = """
import json, resource, sys, time
from paperatlas import Library
t0 = time.perf_counter()
with Library(sys.argv[1], embedding_model=None) as lib:
    f = lib.ingest([sys.argv[2]]).files[0]
wall = time.perf_counter() - t0
print(json.dumps({"ok": f.ok, "added": f.added, "rejected": f.rejected,
                  "message": f.error or "; ".join(r.reason for r in f.rejections[:1]),
                  "wall_s": wall,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_MB = 1 << 20


def _sparse(path: Path, head: bytes, size: int, tail: bytes = b"") -> None:
    """``head``, then NULs (a hole: no disk used) up to ``size``, then ``tail``."""
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(size - len(tail))
        fh.seek(size - len(tail))
        fh.write(tail)


def _repeat(path: Path, head: str, unit: str, size: int, tail: str) -> None:
    """``head``, ``unit`` repeated up to ``size`` bytes, then ``tail`` (real bytes)."""
    block = (unit * (_MB // len(unit) + 1))[:_MB].encode()
    with path.open("wb") as fh:
        fh.write(head.encode())
        for _ in range(size // _MB):
            fh.write(block)
        fh.write(tail.encode())


def make_files(folder: Path, gb: float, line_mb: int) -> list[tuple[str, Path]]:
    """The hostile files, with a label each."""
    big = int(gb * 1024) * _MB
    small = json.dumps({"title": "A small paper", "abstract": "Fine."})
    cases: list[tuple[str, str, Callable[[Path], object]]] = [
        ("baseline: one-line CSV", "base.csv",
         lambda p: p.write_text("title\nOne paper\n", encoding="utf-8")),
        (f"{gb:g} GB of NUL bytes (sparse)", "nul.jsonl", lambda p: _sparse(p, b"", big)),
        (f"{gb:g} GB sparse CSV (header, then a quoted field of NULs)", "sparse.csv",
         lambda p: _sparse(p, b'title,abstract\nBig,"', big, b'"\nAfter,x\n')),
        (f"BibTeX with a {gb:g} GB NUL tail", "tail.bib",
         lambda p: _sparse(p, b"@article{a,\n  title = {Before the tail},\n}\n", big)),
        (f"{gb:g} GB CSV, one quoted field of text (no NUL)", "field.csv",
         lambda p: _repeat(p, 'title,abstract\nBig,"', "lorem ipsum dolor\n", big,
                           '"\nAfter,x\n')),
        (f"JSONL: a {line_mb} MB line between two small ones", "line.jsonl",
         lambda p: _repeat(p, small + '\n{"title": "Huge", "abstract": "', "word ",
                           line_mb * _MB, '"}\n' + small.replace("small", "second") + "\n")),
        (f"JSON document just under the {limits.MAX_JSON_DOCUMENT_CHARS // 1_000_000}M "
         "character limit", "doc.json",
         lambda p: _json_document(p, limits.MAX_JSON_DOCUMENT_CHARS - _MB)),
        ("JSON document over the limit", "over.json",
         lambda p: _json_document(p, limits.MAX_JSON_DOCUMENT_CHARS + _MB)),
        ("UTF-16 BibTeX without a byte-order mark", "utf16.bib",
         lambda p: p.write_bytes("@article{a,\n  title = {Sixteen},\n}\n".encode("utf-16-le"))),
    ]
    out = []
    for label, name, make in cases:
        path = folder / name
        make(path)
        out.append((label, path))
    return out


def _json_document(path: Path, chars: int) -> None:
    """A JSON array of ordinary records, about ``chars`` characters long."""
    abstract = "We study how large language models organize scientific studies. " * 20
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[")
        n = written = 0
        while written < chars:
            rec = json.dumps({"title": f"Paper number {n}", "abstract": abstract,
                              "authors": ["A. Author", "B. Author"], "year": 2024})
            fh.write(("," if n else "") + rec)
            written += len(rec) + 1
            n += 1
        fh.write("]")


def measure(path: Path, folder: Path) -> dict[str, object]:
    db = folder / f"{path.stem}.db"
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, str(db), str(path)],
                          capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    db.unlink(missing_ok=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.0, help="size of the big files")
    ap.add_argument("--line-mb", type=int, default=50, help="size of the long JSONL line")
    ap.add_argument("--keep", type=Path, help="make the files here and keep them")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = make_files(folder, args.gb, args.line_mb)
        print(f"Python {platform.python_version()} on {platform.machine()}; limits: line "
              f"{limits.MAX_LINE_CHARS:,} chars, record {limits.MAX_RECORD_CHARS:,}, JSON "
              f"document {limits.MAX_JSON_DOCUMENT_CHARS:,}\n")
        print("| file | size | outcome | ingest s | peak RSS MB |")
        print("|---|---:|---|---:|---:|")
        for label, path in files:
            r = measure(path, folder)
            outcome = (f"ok: {r['added']} added, {r['rejected']} rejected" if r["ok"]
                       else "file error")
            message = str(r["message"]).replace(str(folder) + "/", "")[:90]
            if message:
                outcome += f" ({message})"
            size = path.stat().st_size
            shown = f"{size / _MB:,.0f} MB" if size >= _MB else f"{size:,} B"
            print(f"| {label} | {shown} | {outcome} | {r['wall_s']:.2f} | "
                  f"{r['peak_mb']:.0f} |", flush=True)
            if args.keep is None:
                path.unlink()


if __name__ == "__main__":
    main()
