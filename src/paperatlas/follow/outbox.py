"""Sending the outbox: each message exactly once, retried with backoff, never lost.

The guarantee. A message is written to the outbox, with its ``Message-ID``, in the same
transaction that records its papers as sent and moves its subscription on; nothing is
sent before that commits. Sending runs under an exclusive lock on ``LIBRARY.db.digest.lock``
(so two runs never send at once; one started while another holds it does nothing) and
goes message by message:

1. claim: ``pending`` -> ``sending`` with a fresh attempt id (one transaction);
2. hand the message to the SMTP server;
3. on the server's acceptance (``250`` after ``DATA``): ``sent`` (one transaction, only if
   the attempt id is still the one that claimed it); on a refusal or a lost connection:
   ``pending`` again with ``next_attempt_at = now + backoff * 2 ** (attempts - 1)``, or
   ``failed`` after ``max_attempts`` attempts (``digest outbox --state failed`` lists them
   with the last error).

A run that holds the lock and finds a message still ``sending`` knows the run that claimed
it stopped (crash, kill, power loss) somewhere between 1 and 3, and sends it again. So no
message is ever lost, and a message is delivered twice only when a run stopped after the
server accepted it and before step 3 committed (a window of one SQLite commit); the second
copy has the same ``Message-ID``, which lets mail servers and clients drop it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from ..records.follow import DigestReport
from ..store import Store
from .mail import MessageError, TransportError
from .settings import DigestSettings

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]


class Transport(Protocol):
    """What sends a message: :class:`~paperatlas.follow.mail.SmtpTransport` or a test's."""

    def send(self, recipient: str, message: bytes) -> None: ...

    def close(self) -> None: ...


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def send_lock(db_path: Path) -> Iterator[bool]:
    """Hold the library's digest lock while the block runs; yields False (and holds
    nothing) when another process has it. The lock ends with the process that holds it."""
    if fcntl is None or str(db_path) == ":memory:":
        yield True
        return
    path = db_path.with_name(db_path.name + ".digest.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def send_due(store: Store, transport: Transport, settings: DigestSettings,
             clock: Callable[[], datetime], report: DigestReport) -> None:
    """Send every due message (the caller holds :func:`send_lock`), counting in ``report``."""
    try:
        for outbox_id in store.outbox.due(iso(clock())):
            attempt = uuid.uuid4().hex
            with store.transaction():
                claimed = store.outbox.claim(outbox_id, attempt, iso(clock()))
            if claimed is None:
                continue
            recipient, message = claimed
            try:
                transport.send(recipient, message)
            except (MessageError, TransportError) as exc:
                state = _failed_attempt(store, outbox_id, attempt, str(exc), settings, clock)
                report.failed += state == "failed"
                report.retrying += state == "pending"
                if isinstance(exc, TransportError):
                    report.error = str(exc)  # unreachable, or silent past its timeout:
                    break  # leave the rest for the next run
                continue
            with store.transaction():
                store.outbox.mark_sent(outbox_id, attempt, iso(clock()))
            report.sent += 1
    finally:
        transport.close()


def _failed_attempt(store: Store, outbox_id: int, attempt: str, error: str,
                    settings: DigestSettings, clock: Callable[[], datetime]) -> str:
    attempts = max(store.outbox.attempts(outbox_id), 1)
    wait = settings.backoff_seconds * 2 ** (attempts - 1)
    retry_at = iso(clock() + timedelta(seconds=wait))
    with store.transaction():
        return store.outbox.mark_failed_attempt(outbox_id, attempt, error,
                                                settings.max_attempts, retry_at)
