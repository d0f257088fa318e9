"""The map at ~100,000 papers: `map build` (PCA) and `GET /api/map` through a real server.

Usage (the CI machine has 2 cores; pin the run to two):

    taskset -c 0,1 .venv/bin/python bench/map_speed.py [--scale 100000] [--repeat 5]
        [--cache /tmp/paperatlas-bench-map-100k.db] [--no-browser]

The library is built once, in a child process, and cached at ``--cache`` (reused while its
paper count matches): SciFact's 5,183 papers, embedded with the default model and organized
into a tree (``scifact``), then repeated with numbered title suffixes up to ``--scale``
(``write_corpus`` and ``copy_vectors`` of ``bench/search_latency.py``: each copy carries its
original's vectors) and each copy linked to its original's topics, so the tree colours every
point. Timed, each on a fresh copy of the cached file, median of ``--repeat``:

- ``Library.map_build(rebuild=True)``: PCA fitted on every vector, every point stored (one
  transaction); the call's wall time and ``MapReport.seconds``;
- ``Library.map_build()`` after 1,000 points were deleted: they are placed on the stored
  projection, without a refit;
- ``GET /api/map?tree=scifact`` against ``paperatlas serve`` (uvicorn, a child process) on
  loopback: time to the last byte and bytes on the wire, with ``Accept-Encoding: gzip`` and
  without; the first request after start-up separately;
- with Chromium (Debian's ``/usr/bin/chromium`` via Playwright, unless ``--no-browser``):
  ``/map`` from navigation until the canvas has drawn every point (``data-ready-ms``).

Goal (issue 5): the map for 100,000 points loads in <= 2 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from paperatlas import Library
from search_latency import SHARED, copy_vectors, write_corpus

TREE = "scifact"
CHROMIUM = Path(os.environ.get("PAPERATLAS_CHROMIUM", "/usr/bin/chromium"))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def remove_library(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    shutil.rmtree(Path(f"{path}.index"), ignore_errors=True)


def copy_library(src: Path, folder: Path) -> Path:
    """A fresh copy of the cached library (its search index folder included)."""
    dst = folder / src.name
    remove_library(dst)
    shutil.copyfile(src, dst)
    if Path(f"{src}.index").is_dir():
        shutil.copytree(Path(f"{src}.index"), Path(f"{dst}.index"))
    return dst


def build_cache(cache: Path, scale: int) -> None:
    """SciFact embedded and organized, then copied up to ``scale`` papers (child process)."""
    docs = [json.loads(x) for x in (SHARED / "corpus.jsonl").open(encoding="utf-8")]
    copies = max(1, round(scale / len(docs)))
    remove_library(cache)
    folder = cache.with_name(cache.name + ".files")
    folder.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    with Library(cache) as lib:
        originals, everything = folder / "scifact.jsonl", folder / "copies.jsonl"
        write_corpus(originals, docs, 1)
        write_corpus(everything, docs, copies)
        lib.ingest([originals])
        lib.index()
        lib.trees.build(TREE)
        log(f"embedded and organized {len(docs)} papers ({time.perf_counter() - t0:.0f} s)")
        lib.ingest([everything])
        copy_vectors(lib, docs)
        lib.index()
        link_copies(lib)
        log(f"built {lib.stats().papers} papers in {time.perf_counter() - t0:.0f} s")


def link_copies(lib: Library) -> None:
    """Link every copy to the topics of its original (``<id>-<copy>`` keys)."""
    tree = lib.trees.get(TREE)
    ids = dict(lib.store.conn.execute("SELECT key, id FROM papers").fetchall())
    for node in tree.nodes.values():
        for pid, score in list(node.papers.items()):
            base = lib.store.papers.key_of(pid).rsplit("-", 1)[0]
            copy = 1
            while (other := ids.get(f"{base}-{copy}")) is not None:
                node.papers[other] = score
                copy += 1
    with lib.store.transaction():
        lib.store.trees.save(tree)


def prepare(cache: Path, scale: int) -> int:
    if cache.exists():
        with Library(cache, embedding_model=None) as lib:
            count = lib.stats().papers
        if abs(count - scale) <= scale * 0.05:
            log(f"reusing {cache} ({count} papers)")
            return count
    log(f"building {cache} (a few minutes)")
    subprocess.run([sys.executable, __file__, "--make-cache", "--cache", str(cache),
                    "--scale", str(scale)], check=True)
    with Library(cache, embedding_model=None) as lib:
        return lib.stats().papers


def median_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, last = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), last


def time_builds(cache: Path, folder: Path, repeat: int) -> list[tuple[str, float, str]]:
    path = copy_library(cache, folder)
    rows = []
    with Library(path) as lib:
        lib.index()  # loads nothing: everything is up to date
        wall, report = median_of(repeat, lambda: lib.map.build(rebuild=True))
        rows.append(("`map build` (PCA fit of every vector, store every point)", wall,
                     f"{report.points:,} points; fit + store {report.seconds:.2f} s"))

        def place() -> Any:
            lib.store.conn.execute("DELETE FROM map_points WHERE paper_id IN (SELECT paper_id"
                                   " FROM map_points ORDER BY random() LIMIT 1000)")
            return lib.map.build()

        wall, report = median_of(repeat, place)
        assert not report.refitted and report.placed == 1000
        rows.append(("`map build` placing 1,000 new papers (no refit)", wall,
                     f"{report.placed:,} placed; {report.seconds:.3f} s in the map service"))
    return rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, url: str, encoding: str) -> tuple[float, int, int]:
    """Seconds to the last byte, bytes on the wire, status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    conn.request("GET", url, headers={"Accept-Encoding": encoding})
    response = conn.getresponse()
    body = response.read()
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds, len(body), response.status


def serve(path: Path, port: int, *options: str) -> subprocess.Popen[bytes]:
    """``paperatlas serve`` on ``path`` (``options``: global ones, e.g. ``--model none``),
    once it accepts connections."""
    exe = Path(sys.executable).with_name("paperatlas")
    server = subprocess.Popen([str(exe), "--db", str(path), *options, "serve",
                               "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def time_api(path: Path, repeat: int, browser: bool) -> list[tuple[str, float, str]]:
    port = free_port()
    url = f"/api/map?tree={TREE}"
    rows = []
    server = serve(path, port)
    try:
        seconds, size, status = get(port, url, "gzip")
        assert status == 200, status
        rows.append(("`GET /api/map` first request after start-up (gzip)", seconds,
                     f"{size / 1e6:.1f} MB"))
        for encoding in ("identity", "gzip"):
            results = [get(port, url, encoding) for _ in range(repeat)]
            assert all(r[2] == 200 for r in results)
            rows.append((f"`GET /api/map` ({encoding})",
                         statistics.median(r[0] for r in results),
                         f"{results[0][1] / 1e6:.1f} MB on the wire"))
        if browser:
            rows += time_browser(port, repeat)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows


def time_browser(port: int, repeat: int) -> list[tuple[str, float, str]]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        log("no playwright: the browser is not timed")
        return []
    if not CHROMIUM.exists():
        log(f"no browser at {CHROMIUM}: not timed")
        return []
    times, count = [], 0
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = chrome.new_page(viewport={"width": 1280, "height": 900})
        for _ in range(repeat + 1):  # the first load fills the browser's static cache
            page.goto(f"http://127.0.0.1:{port}/map?tree={TREE}")
            page.wait_for_selector("#map[data-state=ready]", timeout=60_000)
            times.append(float(page.get_attribute("#map", "data-ready-ms") or "nan") / 1000)
            count = int(page.evaluate("window.paperatlasMap.count()"))
        chrome.close()
    return [("`/map` in Chromium: navigation to every point drawn", statistics.median(times[1:]),
             f"{count:,} points, tree colours")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/paperatlas-bench-map-100k.db"))
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--make-cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_cache:
        build_cache(args.cache, args.scale)
        return
    papers = prepare(args.cache, args.scale)
    print(f"# {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, "
          f"{papers:,} papers, median of {args.repeat}\n")
    print("| what | seconds | notes |")
    print("|---|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        rows = time_builds(args.cache, Path(tmp), args.repeat)
        for row in rows:
            print(f"| {row[0]} | {row[1]:.2f} | {row[2]} |", flush=True)
        path = Path(tmp) / args.cache.name  # the copy with its map, served next
        for row in time_api(path, args.repeat, not args.no_browser):
            print(f"| {row[0]} | {row[1]:.2f} | {row[2]} |", flush=True)


if __name__ == "__main__":
    main()
