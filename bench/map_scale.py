"""The map at 2.5M papers (issue 18 item 5): `map build`, the windowed points API, the server's
memory and the page in Chromium.

Usage (the machine has 2 cores):

    taskset -c 0,1 .venv/bin/python bench/map_scale.py [--papers 2500000]
        [--cache /tmp/paperatlas-bench-map-2500000.db] [--repeat 5] [--no-browser]

The library is made once, in a child process, and cached at ``--cache`` (reused while its
paper count matches), written through the store layer rather than ingested (ingest is
item 2's bench): ``--papers`` papers (key ``m<i>``, a title naming its cluster, a year),
each with a synthetic 384-d vector, ``normalize(c_k + 0.5 g / sqrt(384) * ...)`` around one
of 40 random unit centres ``c_k`` (standard normal ``g``, seeded), stored as float16 like
embedded ones; and a tree ``clusters`` of 10 first-level topics (4 clusters each) linking
every paper once, so the map is coloured as it would be by a real tree.

Timed:

- ``map build --rebuild`` (streamed PCA: two passes over the vectors, points written 50k to
  a transaction, then the point file) in a child process: wall, CPU seconds, peak RSS;
  and placing 1,000 papers whose points were removed (no refit);
- ``paperatlas serve`` (uvicorn, a child process, ``--model none``) on loopback:
  ``GET /api/map/points`` for the first view (150,000 points of the whole map, tree
  colours), the first request after start-up (maps the file, computes the tree's topic
  per point) and then warm (median of ``--repeat``), windows of 1/16 and 1/1024 of the map,
  ``/api/map/paper`` by id and nearest to a place; bytes on the wire; the server's RSS
  (``VmRSS``) and peak (``VmHWM``) after every request, the browser's included;
- Chromium (Debian's ``/usr/bin/chromium`` via Playwright): ``/map`` from navigation until
  the first view is drawn (``data-ready-ms``): once as the first request of a fresh server
  (the page computes the tree's colours while it loads), then median of ``--repeat`` after
  one warm-up;
  then 8 wheel zooms at the centre and a drag: the slowest frame drawn (``drawMs``) and the
  points drawn once the zoomed view has fetched its detail.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from map_speed import CHROMIUM, free_port, get, log, remove_library, serve
from paperatlas import Library
from paperatlas.records.trees import ROOT, Node, Tree, TreeSettings
from paperatlas.store import utcnow

TREE = "clusters"
MODEL = "synthetic-384"
DIM, CLUSTERS, TOPICS = 384, 40, 10
STEP = 50_000
FIRST = 150_000  # the page's first-view budget (map.js BASE_BUDGET)


def make_library(path: Path, papers: int) -> None:
    """The synthetic library (see the module's docstring), in a child process."""
    remove_library(path)
    rng = np.random.default_rng(18)
    centres = rng.normal(size=(CLUSTERS, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    nodes = {0: Node(0, None, "", kind=ROOT)}
    for t in range(1, TOPICS + 1):
        nodes[t] = Node(t, 0, f"Topic {t}")
    t0 = time.perf_counter()
    with Library(path, embedding_model=None) as lib:
        store, now = lib.store, utcnow()
        for start in range(0, papers, STEP):
            end = min(papers, start + STEP)
            cluster = rng.integers(0, CLUSTERS, end - start)
            noise = rng.normal(size=(end - start, DIM)) * (1.4 / np.sqrt(DIM))
            vectors = centres[cluster] + noise
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            rows = []
            with store.transaction():
                for i, c in zip(range(start, end), cluster.tolist(), strict=True):
                    title = f"Synthetic paper {i} of cluster {c}"
                    pid = store.papers.insert(
                        key=f"m{i}", title=title, norm_title=title.lower(), abstract="",
                        authors=[], date=f"{2000 + i % 25}", venue=None, categories=[],
                        links=[], now=now)
                    assert pid is not None
                    rows.append((pid, f"{pid:016x}", vectors[i - start], None))
                    nodes[1 + c % TOPICS].papers[pid] = 0.5 + 0.01 * (i % 7)
                store.vectors.put(MODEL, rows)
            log(f"{end:,} papers ({time.perf_counter() - t0:.0f} s)")
        with store.transaction():
            store.trees.save(Tree(TREE, nodes, 0, TreeSettings(), TOPICS + 1))
        log(f"made {papers:,} papers and the tree in {time.perf_counter() - t0:.0f} s")


def prepare(cache: Path, papers: int) -> int:
    if cache.exists():
        with Library(cache, embedding_model=None) as lib:
            count = lib.papers.count()
        if count == papers:
            log(f"reusing {cache} ({count:,} papers)")
            return count
    log(f"making {cache} (minutes)")
    subprocess.run([sys.executable, __file__, "--make", "--cache", str(cache), "--papers",
                    str(papers)], check=True)
    return papers


def child_build(cache: Path, place: bool) -> None:
    """One build in this (child) process; prints wall, CPU seconds, peak RSS as JSON."""
    with Library(cache, embedding_model=None) as lib:
        if place:
            with lib.store.transaction():
                lib.store.conn.execute("DELETE FROM map_points WHERE paper_id IN (SELECT"
                                       " paper_id FROM map_points ORDER BY random() LIMIT 1000)")
        t0, c0 = time.perf_counter(), time.process_time()
        report = lib.map.build(rebuild=not place)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak, "placed": report.placed,
                      "points": report.points, "refitted": report.refitted}))


def time_build(cache: Path, place: bool) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child-build", "--cache", str(cache)]
    out = subprocess.run(args + (["--place"] if place else []), check=True,
                         capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def rss(pid: int) -> tuple[float, float]:
    """``(VmRSS, VmHWM)`` of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def time_cold_page(cache: Path) -> list[tuple[str, float, str]]:
    """``/map`` as the first request of a fresh server, in a fresh browser."""
    port = free_port()
    server = serve(cache, port, "--model", "none")
    try:
        rows = time_browser(port, 0)[:1]
        now, peak = rss(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [(f"{rows[0][0]}, the first request of a fresh server", rows[0][1],
             rows[0][2].split(";")[0] + f"; server RSS {now:.0f} MB, peak {peak:.0f} MB")
            ] if rows else []


def time_server(cache: Path, repeat: int, browser: bool) -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = time_cold_page(cache) if browser else []
    port = free_port()
    server = serve(cache, port, "--model", "none")
    try:
        mb = rss(server.pid)[0]
        rows.append(("server RSS after start-up (MB)", mb, "no request yet"))
        first = f"/api/map/points?tree={TREE}&budget={FIRST}"
        seconds, size, status = get(port, first, "identity")
        assert status == 200, status
        rows.append(("`GET /api/map/points` first view, first request after start-up",
                     seconds, f"{size / 1e6:.2f} MB; maps the file, topics of the tree"))
        results = [get(port, first, "identity") for _ in range(repeat)]
        rows.append(("`GET /api/map/points` first view (150,000 points), warm",
                     statistics.median(r[0] for r in results), f"{results[0][1] / 1e6:.2f} MB"))
        for name, side in (("1/16", 0.25), ("1/1024", 1 / 32)):
            x0, y0 = 0.5 - side / 2, 0.3 - side / 2
            url = (f"/api/map/points?tree={TREE}&budget={FIRST}&x0={x0}&y0={y0}"
                   f"&x1={x0 + side}&y1={y0 + side}")
            results = [get(port, url, "identity") for _ in range(repeat)]
            rows.append((f"`GET /api/map/points` a window of {name} of the map",
                         statistics.median(r[0] for r in results),
                         f"{results[0][1] / 1e6:.2f} MB"))
        for name, url in (("by id", "/api/map/paper?id=12345"),
                          ("nearest to x, y", "/api/map/paper?x=0.5&y=0.3")):
            results = [get(port, url, "identity") for _ in range(repeat)]
            assert all(r[2] == 200 for r in results), results
            rows.append((f"`GET /api/map/paper` {name}", statistics.median(r[0] for r in results),
                         ""))
        now, peak = rss(server.pid)
        rows.append(("server RSS after the API requests (MB)", now, f"peak {peak:.0f} MB"))
        if browser:
            rows += time_browser(port, repeat)
            now, peak = rss(server.pid)
            rows.append(("server RSS after the browser runs (MB)", now, f"peak {peak:.0f} MB"))
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
    rows: list[tuple[str, float, str]] = []
    times: list[float] = []
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = chrome.new_page(viewport={"width": 1280, "height": 900})
        for _ in range(repeat + 1):  # the first load fills the browser's static cache
            page.goto(f"http://127.0.0.1:{port}/map?tree={TREE}")
            page.wait_for_selector("#map[data-state=ready]", timeout=60_000)
            times.append(float(page.get_attribute("#map", "data-ready-ms") or "nan") / 1000)
        count = int(page.evaluate("window.paperatlasMap.count()"))
        first_draw = float(page.evaluate("window.paperatlasMap.drawMs()"))
        rows.append(("`/map` in Chromium: navigation to the first view drawn",
                     statistics.median(times[1:] or times),
                     f"{count:,} points drawn of the map; first frame {first_draw:.0f} ms; "
                     f"every run: {', '.join(f'{t:.2f}' for t in times)}"))
        if not repeat:
            chrome.close()
            return rows
        box = page.locator("#map canvas").bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        frames, t0 = [], time.perf_counter()
        for _ in range(8):
            page.mouse.wheel(0, -300)
            page.wait_for_timeout(60)
            frames.append(float(page.evaluate("window.paperatlasMap.drawMs()")))
        page.mouse.down()
        for k in range(10):
            page.mouse.move(cx + 20 * k, cy + 8 * k)
            page.wait_for_timeout(30)
            frames.append(float(page.evaluate("window.paperatlasMap.drawMs()")))
        page.mouse.up()
        complete = bool(page.evaluate("window.paperatlasMap.complete()"))
        while not complete and time.perf_counter() - t0 < 60:  # (the page's CSP forbids
            if int(page.evaluate("window.paperatlasMap.drawn()")) > count:  # wait_for_function)
                break
            page.wait_for_timeout(20)
        detail = time.perf_counter() - t0
        drawn = int(page.evaluate("window.paperatlasMap.drawn()"))
        frames.append(float(page.evaluate("window.paperatlasMap.drawMs()")))
        rows.append(("`/map` zoom x8 (wheel) and a drag: the slowest frame (ms)", max(frames),
                     f"median frame {statistics.median(frames):.1f} ms; "
                     f"then {drawn:,} points drawn (the zoomed view's detail), "
                     f"{detail:.2f} s from the first wheel to the detail drawn"))
        chrome.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=2_500_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", type=Path,
                        default=Path("/tmp/paperatlas-bench-map-2500000.db"))
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--skip-build", action="store_true", help="serve the cached map")
    parser.add_argument("--make", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-build", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--place", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        make_library(args.cache, args.papers)
        return
    if args.child_build:
        child_build(args.cache, args.place)
        return
    papers = prepare(args.cache, args.papers)
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
          f"{os.cpu_count()} cores, {papers:,} papers, load {os.getloadavg()}\n")
    print("| what | seconds (or as named) | notes |")
    print("|---|---:|---|")
    if not args.skip_build:
        for place in (False, True):
            got = time_build(args.cache, place)
            what = ("`map build` placing 1,000 papers (no refit; point file rewritten)" if place
                    else "`map build --rebuild` (streamed PCA, every point, the point file)")
            print(f"| {what} | {got['wall']:.1f} | {got['cpu']:.1f} CPU s, peak RSS "
                  f"{got['peak_mb']:.0f} MB, {got['placed']:,} placed, {got['points']:,} on "
                  f"the map; load {os.getloadavg()[0]:.2f} |", flush=True)
    for row in time_server(args.cache, args.repeat, not args.no_browser):
        print(f"| {row[0]} | {row[1]:.3f} | {row[2]} |", flush=True)
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
