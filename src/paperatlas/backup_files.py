"""The file half of backups: copying with checksums, copying a folder that others write
to, and the manifest that lists what a backup holds."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import StoreError

#: The manifest's name inside a backup folder (written last: no manifest, no backup).
MANIFEST = "manifest.json"
#: What the manifest says it is, and the version of its layout.
FORMAT = "paperatlas-backup"
FORMAT_VERSION = 1
_CHUNK = 1 << 20
#: Times a folder that others write to is copied before giving up on a still copy.
COPY_TRIES = 5


@dataclass(frozen=True)
class FileEntry:
    """One file of a backup: its path inside the backup (``/``-separated), size, SHA-256."""

    path: str
    size: int
    sha256: str


def copy_file(src: Path, dst: Path, *, sync: bool = True) -> tuple[int, str]:
    """Copy ``src`` to the new file ``dst`` (its folders made), hashing what is copied;
    with ``sync`` the copy is on disk when this returns. ``(size, sha256)``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with src.open("rb") as fin, dst.open("xb") as fout:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        if sync:
            fout.flush()
            os.fsync(fout.fileno())
        mode = stat.S_IMODE(os.fstat(fin.fileno()).st_mode)
    os.chmod(dst, mode)
    return size, digest.hexdigest()


def hash_file(path: Path) -> tuple[int, str]:
    """``(size, sha256)`` of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _skipped(rel: PurePosixPath, skip_dirs: frozenset[str]) -> bool:
    name = rel.name
    return rel.parts[0] in skip_dirs or name.endswith((".lock", ".tmp", ".partial"))


def _listing(folder: Path, skip_dirs: frozenset[str]) -> dict[str, tuple[int, int, int]]:
    """``relative path -> (size, mtime_ns, inode)`` of the files under ``folder``."""
    out: dict[str, tuple[int, int, int]] = {}
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            rel = PurePosixPath(path.relative_to(folder).as_posix())
            if _skipped(rel, skip_dirs):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                out[str(rel)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def copy_tree(src: Path, dst: Path, prefix: str, *,
              skip_dirs: frozenset[str] = frozenset()) -> list[FileEntry]:
    """Copy the files under ``src`` to ``dst`` as they stood at one moment, and list them
    (their paths under ``prefix``). Another process may be replacing files meanwhile (the
    vector and map files are written beside and renamed into place): the copy is made
    again until the folder's files (names, sizes, times, inodes) were the same before and
    after it. Lock files, temporary files and the folders ``skip_dirs`` are left out."""
    if not src.is_dir():
        return []
    for _ in range(COPY_TRIES):
        before = _listing(src, skip_dirs)
        entries: list[FileEntry] = []
        written: list[Path] = []
        try:
            for rel in before:
                written.append(dst / rel)
                size, sha = copy_file(src / rel, dst / rel)
                entries.append(FileEntry(f"{prefix}/{rel}", size, sha))
            if _listing(src, skip_dirs) == before:
                return entries
        except FileNotFoundError:
            pass  # replaced while being copied
        for path in written:  # (only this call's files: dst may hold others')
            path.unlink(missing_ok=True)
    raise StoreError(f"{src}: its files kept changing while they were copied "
                     f"({COPY_TRIES} tries); run the backup again")


def sync_path(path: Path) -> None:
    """Make a file's content, or a folder's entries (new names, renames), durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(folder: Path, data: dict[str, Any]) -> None:
    """Write the manifest (the last file of a backup), on disk when this returns."""
    path = folder / MANIFEST
    with path.open("x", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_manifest(folder: Path) -> tuple[dict[str, Any], list[FileEntry]]:
    """A backup's manifest and its files, checked for shape (a clear error naming the
    manifest otherwise)."""
    path = folder / MANIFEST
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise StoreError(f"{folder}: {what}; a paperatlas backup is a folder with a "
                         f"{MANIFEST}")
    if not path.is_file():
        raise StoreError(f"{path}: missing: {folder} is not a paperatlas backup (or one "
                         "that did not finish)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StoreError(f"{path}: not a paperatlas backup manifest (no \"format\": "
                         f"\"{FORMAT}\")")
    if data.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{path}: backup format version {data.get('format_version')!r}; "
                         f"this paperatlas reads version {FORMAT_VERSION}")
    files = data.get("files")
    if not isinstance(files, list):
        raise StoreError(f"{path}: field \"files\" must be a list")
    entries = []
    for i, item in enumerate(files):
        try:
            entry = FileEntry(str(item["path"]), int(item["size"]), str(item["sha256"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{path}: files[{i}] needs path, size and sha256 ({exc})") from exc
        rel = PurePosixPath(entry.path)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise StoreError(f"{path}: files[{i}]: {entry.path!r} is not a path inside "
                             "the backup")
        entries.append(entry)
    if not isinstance(data.get("schema_version"), int):
        raise StoreError(f"{path}: field \"schema_version\" must be a number")
    return data, entries


def verified_copy(folder: Path, entry: FileEntry, dst: Path) -> None:
    """Copy one file of a backup, checking it against its manifest entry: a clear error
    naming the file when it is missing, truncated (or grown) or corrupted."""
    src = folder / PurePosixPath(entry.path)
    if not src.is_file():
        raise StoreError(f"{src}: missing (the backup's {MANIFEST} lists it)")
    size = src.stat().st_size
    if size != entry.size:
        raise StoreError(f"{src}: {size} bytes, but the backup's {MANIFEST} says "
                         f"{entry.size}: the file was truncated or changed")
    _, sha = copy_file(src, dst)
    if sha != entry.sha256:
        raise StoreError(f"{src}: its SHA-256 does not match the backup's {MANIFEST}: "
                         "the file is corrupted")


def open_elsewhere(paths: list[Path]) -> list[str]:
    """The other processes that have any of ``paths`` open, as ``"PID (command)"``, read
    from ``/proc`` (Linux; elsewhere, and for processes of other users, none is seen)."""
    wanted = {os.path.realpath(p) for p in paths}
    proc = Path("/proc")
    found: list[str] = []
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
            if links & wanted:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
                found.append(f"{entry.name} ({command.decode(errors='replace')[:80]})")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found
