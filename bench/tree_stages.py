"""Memory of a tree build by stage, for ``bench/tree_scale.py --stages``: a thread samples
this process's RSS and the PSS of it and its forked workers together (shared pages counted
once) every 0.2 s, under the name of the stage running then."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process (MB)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def pss_mb(pid: int | str) -> float:
    """Proportional set size of a process (MB): its shared pages divided among sharers."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


class StageWatch(threading.Thread):
    """Peak RSS (this process) and peak PSS (with its workers) per stage; ``stage`` names
    the one running. Stages keep their first-seen order."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.stage = "start"
        self.started_at: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.peaks: dict[str, list[float]] = {}
        self._halt = threading.Event()
        self._mark = time.perf_counter()

    def enter(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self._mark
        self._mark = now
        self.sample()
        self.log()
        self.stage = stage
        self.sample()

    def log(self) -> None:
        """The stage that ends, as a line appended to the file ``TREE_STAGES_LOG`` names
        (when set): what a run stopped early leaves."""
        path = os.environ.get("TREE_STAGES_LOG")
        if path and self.stage in self.peaks:
            peak = self.peaks[self.stage]
            with open(path, "a", encoding="utf-8") as out:
                out.write(f"{time.strftime('%H:%M:%S')} {self.stage}: "
                          f"{self.seconds[self.stage]:.1f} s, peak RSS {peak[0]:.0f} MB, "
                          f"peak PSS with workers {peak[1]:.0f} MB, "
                          f"RSS after {peak[2]:.0f} MB; load {os.getloadavg()[0]:.1f}\n")

    def sample(self) -> None:
        me = os.getpid()
        own = rss_mb()
        total = pss_mb(me) + sum(pss_mb(c) for c in children(me))
        peak = self.peaks.setdefault(self.stage, [0.0, 0.0, 0.0])
        peak[0] = max(peak[0], own)
        peak[1] = max(peak[1], total)
        peak[2] = own  # the last sample: what the stage left resident

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

    def stop(self) -> dict[str, dict[str, float]]:
        self.enter("end")
        self._halt.set()
        self.join()
        return {s: {"peak_rss_mb": p[0], "peak_pss_mb": p[1], "end_rss_mb": p[2],
                    "seconds": self.seconds.get(s, 0.0)} for s, p in self.peaks.items()
                if s != "end"}


def staged(watch: StageWatch, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` entering stage ``name`` when called outside another staged call."""
    depth = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if depth[0] == 0:
            watch.enter(name)
        depth[0] += 1
        try:
            return fn(*args, **kwargs)
        finally:
            depth[0] -= 1

    return wrapper
