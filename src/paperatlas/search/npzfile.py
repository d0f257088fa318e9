"""A vectors ``.npz`` file read in row blocks: its keys and model whole, its matrices a block
at a time straight from the archive member (``np.load`` cannot map an array inside a zip,
and reading one whole holds the file's every vector at once)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import ParseError

#: Rows per block read (and checked) from a matrix of the file.
BLOCK = 2048
_FLOATS = (np.dtype(np.float16), np.dtype(np.float32))


@dataclass(frozen=True)
class Matrix:
    """One matrix of the archive: its member's name, shape and dtype."""

    member: str
    shape: tuple[int, ...]
    dtype: np.dtype[np.generic]


@dataclass(frozen=True)
class VectorsFile:
    """A vectors file, checked whole (:func:`read`): its keys, its model, and its matrices,
    read a block of rows at a time by :meth:`blocks`."""

    path: Path
    keys: list[str]
    model: str
    vectors: Matrix
    titles: Matrix | None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def blocks(self, matrix: Matrix, rows: int | None = None) -> Iterator[np.ndarray]:
        """The rows of ``matrix``, ``rows`` (default :data:`BLOCK`) at a time, in order."""
        rows = rows or BLOCK
        total, width = matrix.shape[0], int(np.prod(matrix.shape[1:]))
        size = width * matrix.dtype.itemsize
        with zipfile.ZipFile(self.path) as archive, archive.open(matrix.member) as member:
            _header(member)
            for start in range(0, total, rows):
                count = min(rows, total - start)
                raw = member.read(count * size)
                if len(raw) != count * size:
                    raise ParseError(f"{matrix.member} ends before its {total} rows",
                                     path=str(self.path))
                yield np.frombuffer(raw, dtype=matrix.dtype).reshape(count, width)


def read(path: Path, model: str | None = None) -> VectorsFile:
    """A vectors file's keys and model name (the file's, or ``model`` when it names none),
    every row of its matrices checked a block at a time (finite, no zero paper vector);
    :class:`ParseError` naming the file."""
    def bad(message: str) -> ParseError:
        return ParseError(message, path=str(path))

    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise bad("no such file") from exc
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise bad(f"not an .npz archive of vectors ({exc})") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise bad("not an .npz archive (a single array: save keys, vectors and model "
                  "with numpy.savez)")
    with archive:
        missing = [n for n in ("keys", "vectors") if n not in archive.files]
        if "model" not in archive.files and model is None:
            missing.append("model (or give --model)")
        if missing:
            raise bad(f"missing array {', '.join(missing)}; it has {archive.files}")
        try:
            keys = archive["keys"]
            named = archive["model"] if "model" in archive.files else None
            vectors = _matrix(archive, "vectors")
            titles = _matrix(archive, "title_vectors") if "title_vectors" in archive.files \
                else None
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise bad(f"unreadable array ({exc})") from exc
    if keys.ndim != 1 or keys.dtype.kind not in "US":
        raise bad(f"keys must be a 1-d array of strings, not {keys.dtype} {keys.shape}")
    if len(vectors.shape) != 2 or vectors.dtype not in _FLOATS or \
            vectors.shape[0] != len(keys) or not vectors.shape[1]:
        raise bad(f"vectors must be {len(keys)} x d float16 or float32 (a row per key), "
                  f"not {vectors.dtype} {vectors.shape}")
    if titles is not None and (titles.shape != vectors.shape or titles.dtype not in _FLOATS):
        raise bad(f"title_vectors must be float16 or float32 {vectors.shape}, not "
                  f"{titles.dtype} {titles.shape}")
    if named is not None:
        if named.ndim != 0 or named.dtype.kind not in "US" or not str(named.item()).strip():
            raise bad(f"model must be a 0-d string array, not {named.dtype} {named.shape}")
        name = named.item()
        name = name.decode() if isinstance(name, bytes) else str(name)
        if model is not None and not same_model(model, name):
            raise bad(f"the file's vectors are {name!r}'s, not {model!r}")
        model = name
    texts = [k.decode() if isinstance(k, bytes) else str(k) for k in keys.tolist()]
    del keys
    if len(set(texts)) != len(texts):
        raise bad("keys repeat (each row must name another paper)")
    assert model is not None
    found = VectorsFile(path, texts, model, vectors, titles)
    _check(found)
    return found


def _check(file: VectorsFile) -> None:
    """Every paper vector finite and not zero, every title vector finite."""
    def bad(message: str) -> ParseError:
        return ParseError(message, path=str(file.path))

    for start, rows in _numbered(file.blocks(file.vectors)):
        norms = np.linalg.norm(rows.astype(np.float32), axis=1)
        wrong = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
        if len(wrong):
            at = start + int(wrong[0])
            raise bad(f"row {at} ({file.keys[at]!r}) is zero or not finite")
    if file.titles is not None:
        for start, rows in _numbered(file.blocks(file.titles)):
            if not np.isfinite(rows).all():
                raise bad(f"title_vectors rows {start}-{start + len(rows) - 1}: not finite")


def _numbered(blocks: Iterator[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    start = 0
    for rows in blocks:
        yield start, rows
        start += len(rows)


def _matrix(archive: np.lib.npyio.NpzFile, name: str) -> Matrix:
    """Where the array ``name`` lies in the archive, its shape and dtype (its header only
    is read)."""
    zipped = archive.zip
    assert zipped is not None
    member = f"{name}.npy" if f"{name}.npy" in zipped.namelist() else name
    with zipped.open(member) as f:
        shape, fortran, dtype = _header(f)
    if fortran and len(shape) > 1:
        raise ValueError(f"{name} is stored in Fortran order; save it C-ordered")
    return Matrix(member, shape, dtype)


def _header(f: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[np.generic]]:
    """Read the ``.npy`` header at the start of ``f``: shape, Fortran order and dtype."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    return tuple(int(n) for n in shape), bool(fortran), np.dtype(dtype)


def same_model(a: str, b: str) -> bool:
    """Whether two names call the same model (``org/name`` or a path: its last part)."""
    return a.rstrip("/").rsplit("/", 1)[-1] == b.rstrip("/").rsplit("/", 1)[-1]
