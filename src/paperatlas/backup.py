"""Backups of a live library, and restoring one (``paperatlas backup`` / ``restore``).

A backup is a folder: the library file (a snapshot made with SQLite's online backup API,
see :func:`.store.snapshot.copy_database`), the files beside it that the library uses
(``LIBRARY.db.index``: the search index, the vectors' serving and ANN files, the map's
point files; ``LIBRARY.db.uploads``; ``LIBRARY.db.secret``) and ``manifest.json``
(schema and paperatlas versions, time, every file with its size and SHA-256). It is
written under a temporary name beside ``DEST`` and renamed at the end, so a killed backup
never leaves a folder that looks complete. The embedding models' download cache
(``LIBRARY.db.index/models``) is left out: it is fetched again when needed.

It is taken while the server, the worker and an ingest run, and its parts agree:

- the lexical (tantivy) index is copied while holding its writer lock, with the
  change-log position it stands at (read under the same lock); that position is written
  into the copy of the library, so the restored library's next ``index`` takes in every
  paper changed since, and removes the papers deleted since. The index never names a
  paper the copy lacks without the copy counting it as pending (deletions after the
  index was copied are later changes). If another process holds the writer longer than
  the wait, the index is left out and the restored library's next ``index`` builds it
  again (the report says so);
- the other files of the index folder (vectors' serving and ANN files, map point files)
  are copied before the library file, so they are never newer than it: an older file is
  what a library has between two index jobs, and its readers patch in what changed since
  (every vector is in the library file; those files only speed up reading them);
- uploads are copied after the library file, so every upload its jobs name is there.

A restore checks every file against the manifest (size, then SHA-256 while copying) and
runs ``PRAGMA integrity_check`` on the library file before anything is put in place; it
refuses to replace an existing library unless forced, and puts the new one in place by
renames, the library file last (a killed restore leaves no library file that is half
written, nor one beside another's index).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .backup_files import (
    FORMAT,
    FORMAT_VERSION,
    FileEntry,
    copy_file,
    copy_tree,
    hash_file,
    open_elsewhere,
    read_manifest,
    sync_path,
    verified_copy,
    write_manifest,
)
from .errors import ConflictError, StoreError
from .search.lexical import IndexBusyError
from .search.service import SearchService
from .store import utcnow
from .store.migrations import MIGRATIONS
from .store.snapshot import copy_database, describe, integrity_errors

#: The lexical index's folder (inside the index folder) and its ``index_state`` name.
LEXICAL = "lexical"
#: The library file inside a backup.
DB_NAME = "library.db"
#: What a backup holds beside the library file: its name in the backup -> the suffix of
#: the name beside the library (``LIBRARY.db`` + suffix).
SIDE = {"index": ".index", "uploads": ".uploads", "secret": ".secret"}
#: Files SQLite keeps beside a library file while it is open.
_SQLITE_SIDE = ("-wal", "-shm", "-journal")
#: Folders of the index folder left out of a backup (a download cache).
_NOT_BACKED_UP = frozenset({"models"})


@dataclass(frozen=True)
class BackupReport:
    """What ``backup`` wrote."""

    path: Path
    schema_version: int
    papers: int
    files: int
    bytes: int
    seconds: float
    #: Whether the lexical index is in the backup (else the next ``index`` rebuilds it).
    lexical_index: bool
    #: The change-log position the backed-up lexical index stands at.
    index_seq: int
    #: How long the lexical index's writer was held (an index job waited that long).
    index_held_seconds: float


@dataclass(frozen=True)
class RestoreReport:
    """What ``restore`` put in place."""

    path: Path
    source: Path
    schema_version: int
    papers: int
    files: int
    bytes: int
    seconds: float
    #: Whether an existing library was replaced (``--force``).
    replaced: bool


def side_path(db: Path, name: str) -> Path:
    """Where the backup's part ``name`` (a key of :data:`SIDE`) lives beside ``db``."""
    return db.with_name(db.name + SIDE[name])


def write_backup(db: Path, dest: Path, search: SearchService, *,
                 wait: float | None = None) -> BackupReport:
    """Back up the library file ``db`` (whose search indexes ``search`` keeps) into the
    new folder ``dest``; the lexical index's writer is waited for up to ``wait`` seconds
    (default: ``search.lock_wait``)."""
    started = time.monotonic()
    if dest.exists():
        raise ConflictError(f"{dest}: exists already; back up into a new folder")
    if not dest.parent.is_dir():
        raise StoreError(f"{dest}: the folder {dest.parent} does not exist")
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        entries, position, held = _index_files(search, tmp, wait)
        positions = {LEXICAL: position} if position is not None else {LEXICAL: (0, {})}
        schema = copy_database(db, tmp / DB_NAME, positions=positions)
        problems = integrity_errors(tmp / DB_NAME)
        if problems:
            raise StoreError(f"{db}: PRAGMA integrity_check fails on its snapshot, so it "
                             f"was not backed up: {'; '.join(problems)}")
        size, sha = hash_file(tmp / DB_NAME)
        sync_path(tmp / DB_NAME)
        entries.append(FileEntry(DB_NAME, size, sha))
        entries += copy_tree(side_path(db, "uploads"), tmp / "uploads", "uploads")
        secret = side_path(db, "secret")
        if secret.is_file():
            size, sha = copy_file(secret, tmp / "secret")
            entries.append(FileEntry("secret", size, sha))
        _, papers = describe(tmp / DB_NAME)
        write_manifest(tmp, {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "paperatlas_version": __version__, "schema_version": schema,
            "created_at": utcnow(), "library": str(db.resolve()), "papers": papers,
            "lexical_index": {"included": position is not None,
                              "seq": position[0] if position else 0},
            "files": [{"path": e.path, "size": e.size, "sha256": e.sha256}
                      for e in sorted(entries, key=lambda e: e.path)]})
        _sync_tree(tmp)
        os.rename(tmp, dest)  # (fails if dest appeared meanwhile: never merged into it)
        sync_path(dest.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BackupReport(dest, schema, papers, len(entries),
                        sum(e.size for e in entries), round(time.monotonic() - started, 3),
                        position is not None, position[0] if position else 0, held)


def _index_files(search: SearchService, tmp: Path, wait: float | None
                 ) -> tuple[list[FileEntry], tuple[int, dict[str, Any]] | None, float]:
    """Copy the index folder: the lexical index under its writer lock (with the position
    it stands at), then the other files. ``(entries, position or None, seconds held)``."""
    folder = search.folder
    entries: list[FileEntry] = []
    position: tuple[int, dict[str, Any]] | None = None
    held = 0.0
    if (folder / LEXICAL).is_dir():
        try:
            with search.lexical.writing(search.lock_wait if wait is None else wait):
                took = time.monotonic()
                position = search.store.search.state(LEXICAL)
                entries += copy_tree(folder / LEXICAL, tmp / "index" / LEXICAL,
                                     f"index/{LEXICAL}")
                held = round(time.monotonic() - took, 3)
        except IndexBusyError:
            shutil.rmtree(tmp / "index" / LEXICAL, ignore_errors=True)
            entries = []
            position = None
    entries += copy_tree(folder, tmp / "index", "index",
                         skip_dirs=_NOT_BACKED_UP | {LEXICAL})
    return entries, position, held


def restore_backup(source: Path, db: Path, *, force: bool = False) -> RestoreReport:
    """Restore the backup folder ``source`` as the library file ``db`` (and the files
    beside it); an existing library there is replaced only with ``force``, and never
    while another process has it open (seen through ``/proc`` on Linux): stop the server
    and the worker of a library before replacing it."""
    started = time.monotonic()
    manifest, entries = read_manifest(source)
    newest = len(MIGRATIONS)
    if manifest["schema_version"] > newest:
        raise StoreError(f"{source}: a library of schema version "
                         f"{manifest['schema_version']}, newer than this paperatlas "
                         f"understands ({newest}); upgrade paperatlas")
    if DB_NAME not in {e.path for e in entries}:
        raise StoreError(f"{source}: its manifest lists no {DB_NAME}")
    if not db.parent.is_dir():
        raise StoreError(f"{db}: the folder {db.parent} does not exist")
    _refuse_existing(db, force)
    staging = Path(tempfile.mkdtemp(prefix=f".{db.name}.", suffix=".restoring",
                                    dir=db.parent))
    try:
        for entry in entries:
            verified_copy(source, entry, staging / "new" / entry.path)
        problems = integrity_errors(staging / "new" / DB_NAME)
        if problems:
            raise StoreError(f"{source / DB_NAME}: PRAGMA integrity_check fails: "
                             f"{'; '.join(problems)}")
        schema, papers = describe(staging / "new" / DB_NAME)
        replaced = _put_in_place(staging, db, force)
        shutil.rmtree(staging, ignore_errors=True)
    except BaseException as exc:
        if (staging / "replaced").exists():  # never deleted on a failure
            raise StoreError(f"the restore of {db} stopped midway ({exc}); the library "
                             f"that was there is kept in {staging / 'replaced'}") from exc
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreReport(db, source, schema, papers, len(entries),
                         sum(e.size for e in entries), round(time.monotonic() - started, 3),
                         replaced)


def _existing(db: Path) -> list[Path]:
    names = [db, *(db.with_name(db.name + s) for s in _SQLITE_SIDE),
             *(side_path(db, name) for name in SIDE)]
    return [p for p in names if p.exists() or p.is_symlink()]


def _refuse_existing(db: Path, force: bool) -> None:
    found = _existing(db)
    if found and not force:
        raise ConflictError(f"{db}: a library is there already ({', '.join(map(str, found))});"
                            " restore to another --db, or replace it with --force (stop its "
                            "server and worker first)")
    if found and (holders := open_elsewhere([p for p in found if p.is_file()])):
        raise ConflictError(f"{db}: the library is open in process {', '.join(holders)}; "
                            "stop its server, worker and commands before replacing it (they "
                            "would go on with the old one)")


def _put_in_place(staging: Path, db: Path, force: bool) -> bool:
    """Move the verified files from ``staging/new`` beside ``db``: what was there goes to
    ``staging/replaced`` first (the library file first), the library file comes last."""
    _refuse_existing(db, force)
    old = _existing(db)
    aside = staging / "replaced"
    if old:
        aside.mkdir()
        for path in old:  # db first: from here on there is no library at db
            os.rename(path, aside / path.name)
    new = staging / "new"
    for name in SIDE:
        if (new / name).exists():
            os.rename(new / name, side_path(db, name))
    if (new / "secret").exists():
        os.chmod(side_path(db, "secret"), 0o600)
    os.rename(new / DB_NAME, db)
    sync_path(db.parent)
    if old:
        shutil.rmtree(aside)
    return bool(old)


def _sync_tree(folder: Path) -> None:
    """Make the folders' entries of a finished backup durable (the files already are)."""
    for root, _, _ in os.walk(folder):
        sync_path(Path(root))
