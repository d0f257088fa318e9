"""Writes the disk refuses: a full disk (or a file size limit) and a read-only library,
told apart from other database errors so the edges can say what happened and what to do."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from ..errors import LibraryWriteError

#: SQLite's primary result codes (the low byte of an extended one).
_READONLY, _IOERR, _CANTOPEN, _FULL = 8, 10, 14, 13
#: What the operating system says when there is no room (a full disk, a quota, a limit).
NO_ROOM = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def _no_room(path: Path) -> LibraryWriteError:
    return LibraryWriteError(
        f"{path}: cannot write to the library: the disk is full (or a file size limit is "
        "reached, or the disk failed); the unfinished unit of work was rolled back and "
        "everything committed before it is kept: free some space and run the command "
        "again (it resumes)")


def write_failure(path: str | Path, exc: BaseException) -> LibraryWriteError | None:
    """The error to raise for ``exc`` when it is a write the disk or the file refused
    (None: another error, raised as it is)."""
    p = Path(path)
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        if code in (_FULL, _IOERR):
            return _no_room(p)
        if code in (_READONLY, _CANTOPEN) or "readonly" in str(exc):
            return LibraryWriteError(
                f"{p}: the library is read-only ({exc}): paperatlas needs to write to the "
                "file and to its folder (for the -wal and -shm files beside it); check "
                "their owner and permissions, or the mount")
        return None
    if isinstance(exc, OSError) and exc.errno in NO_ROOM:
        return _no_room(p)
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return LibraryWriteError(f"{p}: cannot write beside the library ({exc}); check the "
                                 "permissions of its folder, or the mount")
    return None
