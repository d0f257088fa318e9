"""Vectors in and out of a library as ``.npz`` files: computed elsewhere, or moved.

A file holds ``keys`` (paper keys or identifiers, strings), ``vectors`` (n x d, float16
or float32), ``model`` (the model's name, a 0-d string array) and, optionally,
``title_vectors`` (n x d; a row of zeros: the paper has none). An import checks the whole
file before writing anything, refuses another model's vectors (name or dimension), skips
the keys that name no paper, L2-normalizes, and writes in batches through the vector store,
one transaction each, marked with the hash of each paper's current text so that the index
job does not embed those papers again.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..embed import Embedder, paper_text
from ..errors import NotFoundError, ParseError, PreconditionError
from ..records.vectors import VectorExportReport, VectorImportReport
from ..store import Store
from ..vectors import ModelMismatchError, VectorRecord, VectorStore
from .semantic import reset_model, text_hash

#: Rows per write (one transaction each) and per check of the file's numbers.
BATCH = 2048
#: How many unknown keys a report names.
_SHOWN = 20


def same_model(a: str, b: str) -> bool:
    """Whether two names call the same model (``org/name`` or a path: its last part)."""
    return a.rstrip("/").rsplit("/", 1)[-1] == b.rstrip("/").rsplit("/", 1)[-1]


def read_npz(path: Path, model: str | None = None
             ) -> tuple[list[str], np.ndarray, np.ndarray | None, str]:
    """A vectors file's keys, vectors, title vectors (or None) and model name (the file's,
    or ``model`` when it names none), checked whole; :class:`ParseError` naming the file."""
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
            keys, vectors = archive["keys"], archive["vectors"]
            titles = archive["title_vectors"] if "title_vectors" in archive.files else None
            named = archive["model"] if "model" in archive.files else None
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise bad(f"unreadable array ({exc})") from exc
    if keys.ndim != 1 or keys.dtype.kind not in "US":
        raise bad(f"keys must be a 1-d array of strings, not {keys.dtype} {keys.shape}")
    if vectors.ndim != 2 or vectors.dtype not in (np.float16, np.float32) or \
            len(vectors) != len(keys) or not vectors.shape[1]:
        raise bad(f"vectors must be {len(keys)} x d float16 or float32 (a row per key), "
                  f"not {vectors.dtype} {vectors.shape}")
    if titles is not None and (titles.shape != vectors.shape or
                               titles.dtype not in (np.float16, np.float32)):
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
    if len(set(texts)) != len(texts):
        raise bad("keys repeat (each row must name another paper)")
    for start in range(0, len(vectors), BATCH):
        rows = vectors[start:start + BATCH].astype(np.float32)
        norms = np.linalg.norm(rows, axis=1)
        wrong = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
        if len(wrong):
            raise bad(f"row {start + int(wrong[0])} ({texts[start + int(wrong[0])]!r}) is "
                      "zero or not finite")
        if titles is not None and not np.isfinite(titles[start:start + BATCH]).all():
            raise bad(f"title_vectors rows {start}-{start + len(rows) - 1}: not finite")
    assert model is not None
    return texts, vectors, titles, model


def import_vectors(store: Store, vectors: VectorStore, path: Path,
                   embedder: Embedder | None, resolve: Callable[[str], int], *,
                   model: str | None = None, switch_model: bool = False) -> VectorImportReport:
    """Import a vectors file (see the module); ``embedder`` is the library's model (None:
    the stored vectors' model), ``resolve`` finds a paper by identifier (or raises
    :class:`NotFoundError`), ``switch_model``
    drops vectors of another model first (as ``index --switch-model`` does)."""
    keys, matrix, titles, made_by = read_npz(path, model)
    stored = vectors.models()
    ours = embedder.name if embedder is not None else (stored[0] if stored else made_by)
    if not same_model(made_by, ours):
        raise ModelMismatchError(f"{path}: the vectors were made with {made_by!r}, but this "
                                 f"library's model is {ours!r}; use that model's vectors, or "
                                 f"open the library with --model {made_by}")
    if not switch_model:
        vectors.check_model(ours)
    dim = None if switch_model else vectors.dimension()
    if dim is None and embedder is not None:
        dim = embedder.dim
    if dim is not None and dim != matrix.shape[1]:
        raise ModelMismatchError(f"{path}: the vectors have {matrix.shape[1]} dimensions, "
                                 f"but this library's {ours!r} vectors have {dim}")
    if switch_model:
        reset_model(store, vectors, ours)
    found = store.papers.ids_for(keys)
    rows: list[tuple[int, int]] = []  # (row, paper id)
    unknown: list[str] = []
    seen: set[int] = set()
    for row, key in enumerate(keys):
        pid = found.get(key)
        if pid is None:
            try:
                pid = resolve(key)
            except NotFoundError:
                pid = None
        if pid is None:
            unknown.append(key)
        elif pid not in seen:
            seen.add(pid)
            rows.append((row, pid))
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        texts = store.papers.texts([pid for _, pid in chunk])
        records = [VectorRecord(pid, _unit(matrix[row]), _title(titles, row),
                                text_hash(paper_text(texts[pid][1], texts[pid][2])))
                   for row, pid in chunk if pid in texts]
        with store.transaction():
            vectors.upsert(ours, records)
    vectors.optimize()
    return VectorImportReport(
        file=str(path), model=ours, dimension=int(matrix.shape[1]), rows=len(keys),
        imported=len(rows), unknown=len(unknown), repeated=len(keys) - len(rows) - len(unknown),
        vectors=vectors.count(), unknown_keys=unknown[:_SHOWN])


def export_vectors(store: Store, vectors: VectorStore, path: Path) -> VectorExportReport:
    """Write every paper's vectors, named by its key, in the format :func:`import_vectors`
    reads (float16, as stored); the file is replaced whole once written."""
    models = vectors.models()
    if not models:
        raise PreconditionError("no vectors to export: run `paperatlas index` (or `paperatlas "
                                "vectors import`) first")
    keys: list[str] = []
    parts: list[np.ndarray] = []
    title_parts: list[np.ndarray] = []
    for batch in vectors.iterate(titles=True):
        names = store.papers.texts(batch.ids)
        keys += [names[pid][0] for pid in batch.ids]
        parts.append(batch.vectors.astype(np.float16))
        own = (batch.titles != batch.vectors).any(axis=1)  # else the text's stands in
        title_parts.append(np.where(own[:, None], batch.titles, 0).astype(np.float16))
    matrix, titles = np.vstack(parts), np.vstack(title_parts)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        np.savez(out, keys=np.array(keys), vectors=matrix, title_vectors=titles,
                 model=np.array(models[0]))
    os.replace(partial, path)
    return VectorExportReport(str(path), models[0], int(matrix.shape[1]), len(keys))


def _unit(vector: np.ndarray) -> np.ndarray:
    v = vector.astype(np.float32)
    return v / np.linalg.norm(v)


def _title(titles: np.ndarray | None, row: int) -> np.ndarray | None:
    if titles is None or not titles[row].any():
        return None
    return _unit(titles[row])
