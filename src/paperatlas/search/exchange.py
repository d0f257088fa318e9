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
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..embed import Embedder, paper_text
from ..errors import NotFoundError, PreconditionError
from ..records.vectors import VectorExportReport, VectorImportReport
from ..store import Store
from ..vectors import ModelMismatchError, VectorRecord, VectorStore
from . import npzfile
from .npzfile import same_model as same_model
from .semantic import reset_model, text_hash

#: Rows per write (one transaction each) and per check of the file's numbers.
BATCH = npzfile.BLOCK
#: How many unknown keys a report names.
_SHOWN = 20


def import_vectors(store: Store, vectors: VectorStore, path: Path,
                   embedder: Embedder | None, resolve: Callable[[str], int], *,
                   model: str | None = None, switch_model: bool = False) -> VectorImportReport:
    """Import a vectors file (see the module); ``embedder`` is the library's model (None:
    the stored vectors' model), ``resolve`` finds a paper by identifier (or raises
    :class:`NotFoundError`), ``switch_model``
    drops vectors of another model first (as ``index --switch-model`` does)."""
    file = npzfile.read(path, model)
    made_by, keys = file.model, file.keys
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
    if dim is not None and dim != file.dim:
        raise ModelMismatchError(f"{path}: the vectors have {file.dim} dimensions, "
                                 f"but this library's {ours!r} vectors have {dim}")
    if switch_model:
        reset_model(store, vectors, ours)
    found = store.papers.ids_for(keys)
    rows: list[int] = []  # the file's rows to import, ascending
    pids: list[int] = []  # their papers
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
            rows.append(row)
            pids.append(pid)
    del found, seen
    _write(store, vectors, ours, file, np.asarray(rows, dtype=np.int64), pids)
    vectors.optimize()
    return VectorImportReport(
        file=str(path), model=ours, dimension=file.dim, rows=len(keys),
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


def _write(store: Store, vectors: VectorStore, model: str, file: npzfile.VectorsFile,
           rows: np.ndarray, pids: list[int]) -> None:
    """Write the vectors of the file's ``rows`` (ascending) for the papers ``pids``, read a
    block at a time, L2-normalized, one transaction per block, each marked with the hash
    of its paper's current text."""
    titles = None if file.titles is None else file.blocks(file.titles)
    start = 0
    for block in file.blocks(file.vectors):
        end = start + len(block)
        heads = None if titles is None else next(titles)
        first, last = np.searchsorted(rows, [start, end])
        at = rows[first:last] - start
        chunk = pids[first:last]
        start = end
        if not len(at):
            continue
        matrix = _units(block[at])
        title_matrix = np.zeros_like(matrix) if heads is None else \
            heads[at].astype(np.float32)
        has_title = np.count_nonzero(title_matrix, axis=1) > 0  # zeros: the paper has none
        title_matrix[has_title] = _units(title_matrix[has_title])
        texts = store.papers.texts(chunk)
        records = [VectorRecord(pid, matrix[i], title_matrix[i] if has_title[i] else None,
                                text_hash(paper_text(texts[pid][1], texts[pid][2])))
                   for i, pid in enumerate(chunk) if pid in texts]
        with store.transaction():
            vectors.upsert(model, records)


def _units(matrix: np.ndarray) -> np.ndarray:
    """The rows of ``matrix`` as float32 unit vectors."""
    rows = matrix.astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows
