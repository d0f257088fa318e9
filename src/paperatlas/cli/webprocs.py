"""The web processes of ``paperatlas serve --workers N``: one listening socket each.

uvicorn's multiprocess mode binds one socket and hands it to every process. The process
that wakes first accepts every pending connection, and a kept-alive connection stays with
the process that accepted it, so a burst of clients (a load balancer's or a proxy's few
upstream connections, a script's pool) can end up on one process: one core for all of
them. Here each process gets a socket of its own, all bound to the same address with
``SO_REUSEPORT``, and Linux spreads new connections across them (by a hash of their
addresses). The parent keeps every socket open, so connections that reach a process's
socket while that process restarts wait in its queue for the new one.

Where ``SO_REUSEPORT`` is missing or does not balance (not Linux), or the uvicorn installed
supervises its processes in another way, the processes share one socket as before.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("uvicorn.error")


def run_workers(config: Any, note: Callable[[str], None]) -> None:
    """What ``uvicorn.run`` does for ``config.workers > 1``, with a socket per process
    where the system balances them (:func:`balanced`), else one shared socket (``note``
    says so, in one line). Ctrl-C and SIGTERM stop every process and then return; a
    process that dies or hangs is replaced; SIGHUP restarts them all, SIGTTIN/SIGTTOU add
    or remove one (uvicorn's supervisor does all of this)."""
    from uvicorn.supervisors import Multiprocess

    why = balanced()
    if why:
        note(f"note: the {config.workers} web processes share one listening socket "
             f"({why}), so one of them may hold most kept-alive connections")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the workers stop, then this
        if why:
            Multiprocess(config, sockets=[listening_socket(config)]).run()
        else:
            supervisor = balancing_supervisor()
            supervisor(config, reuseport_sockets(config)).run()


def balanced() -> str:
    """Why the web processes cannot each have their own socket here ('' when they can)."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return "SO_REUSEPORT does not balance connections on this system"
    from uvicorn.supervisors import multiprocess

    init = inspect.signature(multiprocess.Process.__init__).parameters
    if list(init)[1:] != ["config", "sockets"] or not all(
            hasattr(multiprocess.Multiprocess, name) for name in _OVERRIDDEN):
        return "this uvicorn's supervisor is not the one paperatlas knows"
    return ""


#: The supervisor's methods that start processes (overridden to give each its socket).
_OVERRIDDEN = ("init_processes", "keep_subprocess_alive", "restart_all", "handle_ttin",
               "handle_ttou")


def listening_socket(config: Any) -> socket.socket:
    """uvicorn's bound socket for ``config``, with ``TCP_NODELAY`` set on it (Linux hands it
    on to every accepted connection). uvicorn makes that socket without naming the TCP
    protocol, so asyncio does not set it on the connections, and a kept-alive client then
    waits ~40 ms (a delayed ACK) for the body of each large page."""
    sock: socket.socket = config.bind_socket()
    _nodelay(sock)
    return sock


def reuseport_sockets(config: Any) -> list[socket.socket]:
    """``config.workers`` sockets bound to ``config``'s address with ``SO_REUSEPORT``.

    First uvicorn binds its usual socket (``SO_REUSEADDR`` only; it logs the address, or
    the error and exits when the address is taken) and closes it again: without that
    check a second server of this user on the same port would join the first one's group
    instead of failing. A port of 0 becomes the port that socket got."""
    probe = config.bind_socket()
    host, port = probe.getsockname()[:2]
    family = probe.family
    probe.close()
    socks: list[socket.socket] = []
    try:
        for _ in range(config.workers):
            socks.append(reuseport_socket(family, config.host or host, port))
    except OSError as exc:  # (as uvicorn's bind_socket does)
        from uvicorn.config import STARTUP_FAILURE

        for sock in socks:
            sock.close()
        logger.error(exc)
        sys.exit(STARTUP_FAILURE)
    return socks


def reuseport_socket(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    """A socket bound to ``(host, port)`` with ``SO_REUSEPORT`` (and ``SO_REUSEADDR`` and
    ``TCP_NODELAY``), inheritable, not yet listening (asyncio listens in the process)."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        _nodelay(sock)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _nodelay(sock: socket.socket) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def balancing_supervisor() -> Any:
    """uvicorn's ``Multiprocess`` supervisor, with the i-th process given the i-th socket
    (a replacement takes over its predecessor's). Made on first use: uvicorn is the web
    extra's."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess, Process

    class Balanced(Multiprocess):
        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            super().__init__(config, sockets=sockets)
            self.own: list[socket.socket] = list(sockets)

        def process(self, idx: int) -> Any:
            process = Process(self.config, [self.own[idx]])
            process.start()
            return process

        def init_processes(self) -> None:
            self.processes = [self.process(idx) for idx in range(self.processes_num)]

        def keep_subprocess_alive(self) -> None:  # uvicorn's, but each with its socket
            for idx, old in enumerate(self.processes):
                if self.should_exit.is_set():
                    return  # exiting: no need to keep the processes alive
                if old.is_alive(timeout=self.config.timeout_worker_healthcheck):
                    continue
                old.kill()  # hung: kill it
                old.join()
                if old.exitcode == STARTUP_FAILURE:  # the app cannot start: nor would a new one
                    logger.error(f"Child process [{old.pid}] failed to start, stopping the "
                                 "parent process.")
                    self.should_exit.set()
                    return
                logger.info(f"Child process [{old.pid}] died")
                self.processes[idx] = self.process(idx)

        def restart_all(self) -> None:  # SIGHUP: each replacement serves before its old one goes
            for idx, old in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                new = self.process(idx)
                if not new.wait_until_ready(self.config.timeout_worker_healthcheck,
                                            self.should_exit):
                    new.kill()
                    new.join()
                    if not self.should_exit.is_set():
                        logger.error(f"New child process [{new.pid}] was not ready in time; "
                                     f"keeping worker [{old.pid}] and aborting the restart.")
                    return
                old.terminate()
                old.join()
                self.processes[idx] = new

        def handle_ttin(self) -> None:
            logger.info("Received SIGTTIN, increasing the number of processes.")
            try:
                first = self.own[0]
                self.own.append(reuseport_socket(first.family, *first.getsockname()[:2]))
            except OSError as exc:
                logger.error(f"No socket for another process: {exc}")
                return
            self.processes_num += 1
            self.processes.append(self.process(len(self.processes)))

        def handle_ttou(self) -> None:
            logger.info("Received SIGTTOU, decreasing number of processes.")
            if self.processes_num <= 1:
                logger.info("Already reached one process, cannot decrease the number of "
                            "processes anymore.")
                return
            self.processes_num -= 1
            process = self.processes.pop()
            process.terminate()
            process.join()
            self.own.pop().close()

    return Balanced
