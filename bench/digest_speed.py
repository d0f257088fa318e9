"""Digest speed: 10,000 subscribers over 5,000 new papers, ranking and sending timed apart.

Usage (the CI machine has 2 cores; pin the run to two):

    taskset -c 0,1 .venv/bin/python bench/digest_speed.py [--subscribers 10000] \
        [--new 5000] [--out digest_speed.json]

The library is the cached, embedded 10,000-paper library of ``bench/tree_speed.py``
(``/tmp/paperatlas-bench-10k.db``, built by that script's ``prepare_library`` when
missing: SciFact, NFCorpus and CSFCube abstracts embedded with all-MiniLM-L6-v2), copied to
a temporary folder. The last ``--new`` papers are the new ones: every subscription's last
digest is set to the paper before them. Subscribers follow a seeded random mix: 1-3 saved
searches drawn from 300 SciFact training queries (hybrid), 0-2 seed papers among the old
ones, and, for some, a collection or an author of a paper; a tenth belong to users with 12
votes each (so the per-user classifier runs for them).

Timed by ``Library.digest_run`` itself: ``rank`` (load the new papers and their vectors,
score every distinct search and seed once, pick per subscriber), ``queue`` (render HTML and
text, and one transaction per subscriber writing the outbox row and its sent papers) and
``send`` (every message over one SMTP connection to an aiosmtpd sink in a separate process
that counts messages). The embedding model is loaded before timing.

Goal (issue 6): ranking <= 60 s on 2 cores.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from paperatlas import Library  # noqa: E402
from paperatlas.follow.ranking import RankSettings  # noqa: E402
from paperatlas.follow.settings import DigestSettings, MailSettings  # noqa: E402
from paperatlas.records.follow import Item  # noqa: E402

SINK = """
import asyncio, sys
from aiosmtpd.controller import Controller
class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 OK"
c = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
print(Count.n, flush=True)
"""


def log(msg: str) -> None:
    print(f"[digest_speed] {msg}", file=sys.stderr, flush=True)


def library_copy(cache: Path, folder: Path) -> Path:
    if not cache.exists():
        from tree_speed import prepare_library, shared_data

        prepare_library(shared_data(), cache, 10_000)
    target = folder / cache.name
    shutil.copy(cache, target)
    shutil.copytree(cache.with_name(cache.name + ".index"),
                    target.with_name(target.name + ".index"))
    return target


def queries() -> list[str]:
    base = Path(os.environ.get("PAPERATLAS_SHARED", Path(__file__).resolve().parents[2]
                               / "shared")) / "data" / "scifact" / "queries-train.jsonl"
    with base.open(encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh][:300]


def add_subscribers(lib: Library, n: int, new: int, rng: random.Random) -> dict[str, Any]:
    """``n`` confirmed subscriptions whose window holds the last ``new`` papers."""
    store = lib.store
    ids = [pid for batch in store.papers.iter_ids() for pid in batch]
    old, fresh = ids[:-new], ids[-new:]
    keys = store.papers.texts(rng.sample(old, 3000))
    seed_keys = [k for k, _, _ in keys.values()]
    authors = [a for p in store.papers.get_many(rng.sample(fresh, 500)) for a in p.authors[:1]]
    texts = queries()
    users = [f"user{u}" for u in range(n // 10)]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    votes = 0
    with store.transaction():
        for name in users:
            store.users.add(name, "x", now)
        for u in users:
            user_id = store.votes.user_id(u)
            assert user_id is not None
            votes += sum(store.votes.add(user_id, pid, now) for pid in rng.sample(old, 12))
        for i in range(n):
            items = [Item("search", q, "hybrid") for q in rng.sample(texts, rng.randint(1, 3))]
            items += [Item("seed", k) for k in rng.sample(seed_keys, rng.randint(0, 2))]
            if i % 7 == 0 and authors:
                items.append(Item("author", rng.choice(authors)))
            if i % 11 == 0:
                items.append(Item("collection", "last"))
            store.subscriptions.add(f"s{i}@example.org", users[i % len(users)]
                                    if i % 10 == 0 and users else None, "daily", items, now, now)
        for sub in store.subscriptions.find():  # as if the last digest was long ago
            store.subscriptions.mark_digested(sub.id, None, "2000-01-01T00:00:00Z",
                                              fresh[0] - 1)
    return {"subscribers": n, "new_papers": len(fresh), "users": len(users), "votes": votes,
            "distinct_searches": len(texts)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=5_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/paperatlas-bench-10k.db"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = library_copy(args.cache, Path(tmp))
        lib = Library(path)
        setup = add_subscribers(lib, args.subscribers, args.new, rng)
        log(f"{setup}")
        start = time.perf_counter()
        lib.index()
        lib.search.service.embedder.encode(["warm up"], kind="query")
        model_seconds = time.perf_counter() - start
        port = free_port()
        sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
        settings = DigestSettings(base_url="https://papers.example.org",
                                  rank=RankSettings(max_papers=20, min_score=0.3))
        mail = MailSettings(host="127.0.0.1", port=port, sender="P <p@example.org>")
        start = time.perf_counter()
        report = lib.follow.digest_run(settings, mail)
        total = time.perf_counter() - start
        received, _ = sink.communicate("", timeout=60)
        lib.close()
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus visible, "
                   f"affinity {len(os.sched_getaffinity(0))} cores",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"), **setup,
        "model_load_seconds": round(model_seconds, 2),
        "rank_seconds": report.rank_seconds, "queue_seconds": report.queue_seconds,
        "send_seconds": report.send_seconds, "run_seconds": round(total, 2),
        "digests": report.queued, "empty": report.empty, "papers": report.papers,
        "sent": report.sent, "received_by_sink": int(received.strip().splitlines()[-1]),
        "messages_per_second": round(report.sent / report.send_seconds, 1)
        if report.send_seconds else None,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
