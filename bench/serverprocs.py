"""The processes of a running ``paperatlas serve``, from /proc (Linux): their tree, resident
memory and CPU seconds, a sampler of their memory, and which web process holds each
loopback connection (bench/load_soak.py)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any


# -- resident memory of the server's processes -----------------------------------------
def children(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc/*/stat)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(stat.parent.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return found


def rss_mb(pid: int) -> dict[str, float]:
    """``pid``'s resident memory in MB: all (VmRSS), anonymous (its heap: what a leak grows)
    and file-backed (mapped index and vector files, shared with the page cache)."""
    out = {"rss": 0.0, "anon": 0.0, "file": 0.0}
    names = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name = names.get(line.split(":", 1)[0] + ":")
            if name:
                out[name] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def cpu_s(pid: int) -> float:
    """CPU seconds ``pid`` has used (user + system, /proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[-80:]
    except OSError:
        return ""


class Sampler(threading.Thread):
    """Every ``every`` seconds: the RSS (MB) of each process under ``pid``, tagged with the
    phase running then."""

    def __init__(self, pid: int, every: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.phase = pid, every, "start"
        self.samples: list[dict[str, Any]] = []
        self.names: dict[int, str] = {}
        self.stop = threading.Event()

    def sample(self) -> None:
        procs = {p: rss_mb(p) for p in children(self.pid)}
        for p in procs:
            self.names.setdefault(p, cmdline(p))
        self.samples.append({
            "t": round(time.monotonic(), 1), "phase": self.phase,
            "total_mb": round(sum(v["rss"] for v in procs.values()), 1),
            "anon_mb": round(sum(v["anon"] for v in procs.values()), 1),
            "file_mb": round(sum(v["file"] for v in procs.values()), 1),
            "mb": {str(p): round(v["rss"], 1) for p, v in procs.items()},
            "anon": {str(p): round(v["anon"], 1) for p, v in procs.items()}})

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.every)


def growth(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Start / end / max of the total RSS and of each process over ``samples``."""
    if not samples:
        return {}
    first, last = samples[0], samples[-1]
    out: dict[str, Any] = {"samples": len(samples)}
    for kind in ("total", "anon", "file"):
        start, end = first[f"{kind}_mb"], last[f"{kind}_mb"]
        out[kind] = {"start_mb": start, "end_mb": end,
                     "max_mb": max(s[f"{kind}_mb"] for s in samples),
                     "growth_pct": round(100 * (end / start - 1), 1) if start else None}
    out["each"] = {p: {"start_mb": v, "end_mb": last["mb"].get(p),
                       "max_mb": max(s["mb"].get(p, 0.0) for s in samples),
                       "anon_start_mb": first["anon"].get(p),
                       "anon_end_mb": last["anon"].get(p)}
                   for p, v in first["mb"].items()}
    return out


# -- which web process holds which connection ------------------------------------------
def web_processes(server: int) -> list[int]:
    """The web processes of ``serve --workers N`` running as ``server``."""
    return [p for p in children(server) if "multiprocessing-fork" in cmdline(p)]


def connection_owners(pids: list[int], port: int) -> dict[int, int]:
    """Client port -> the process of ``pids`` holding that loopback connection to ``port``
    (each process's socket inodes, /proc/PID/fd, looked up in /proc/net/tcp)."""
    peer: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as fh:
            for line in list(fh)[1:]:
                f = line.split()
                if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01":  # established
                    peer[f[9]] = int(f[2].rsplit(":", 1)[1], 16)
    out = {}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in peer:
                out[peer[link[8:-1]]] = pid
    return out


def spread(result: dict[str, Any], web: list[int]) -> str:
    """'requests / requests (connections / connections)' of each web process."""
    per = result.get("per_process")
    if not per:
        return ""
    return (" / ".join(str(per["requests"].get(p, 0)) for p in web) + " (" + " / ".join(
        str(per["connections"].get(p, 0)) for p in web) + " connections)")
