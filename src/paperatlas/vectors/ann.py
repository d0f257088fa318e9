"""An approximate nearest-neighbour index (faiss IVF with product-quantized codes) of the
paper and title vectors.

One index holds two kinds of entries: ``paper_id * 2`` is a paper's vector (title +
abstract) and ``paper_id * 2 + 1`` its title vector (only papers with an abstract have
one), so one search gives the candidates for the better of both. It only proposes
candidates: :class:`~paperatlas.vectors.sqlite.SqliteVectorStore` scores them exactly. Entries
are never removed: a deleted paper's are dropped from the answers, a re-embedded paper gets
new entries beside its old ones, and once such stale entries are a fifth of the index, or
the index holds four times the entries its lists were trained on, it is built again.

Why IVF and not HNSW: on the 1M-paper bench library (``bench/scale_library.py``: real
abstracts recombined, near-copies of a paper close together, as versions and follow-ups
are) HNSW (32 links, float16) reached recall@10 0.73 at ``efSearch`` 128 and 0.95 at 4096
(8.5 ms), while IVF with ~4 sqrt(n) lists and 1/32 of them probed reached 0.985 in 2.7 ms
and is smaller (no graph); a filter only skips entries in the lists it scans, so a broad
filter keeps the unfiltered recall (an HNSW walk loses its way between allowed nodes).

Why product-quantized codes: the exact vectors are in the serving file (or in memory)
already and every candidate is scored from them, so the index needs only to rank well
enough to hold the true top among its candidates. With ``dim / 4`` sub-quantizers of 8
bits (96 bytes for 384 dimensions, an eighth of float16) and at least
:data:`RESCORE_MIN` candidates, 1/16 of the lists probed, recall@10 on the 1M bench
library is 0.986 (float16 codes with 1/32 probed: 0.979) and the file is 103 MB instead
of 782 MB: every serving process maps it, and at 2.5M papers float16 codes would add
~2 GB per process to what the serving file already holds.

On disk, ``ann.json`` names the index file (``ann-<random>.ivf``) and records the model,
the dimension and the change-log position whose vectors it holds; both are written to a
temporary file first and moved into place, the index file before ``ann.json``, so a crash
leaves the previous index in use. Searches use the file memory-mapped (faiss's
``IO_FLAG_MMAP_IFC``: the lists stay in the page cache, shared by every process); only an
update reads a copy it can add to. A filter reaches the search as an
id selector (a bitmap of the allowed entries). faiss is imported only when an index is used.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import files
from .base import AnnReport

#: The sidecar; moving a new one into place is what switches to a new index file.
META = "ann.json"
_PREFIX = "ann-"
#: What ``ann.json`` says the file holds (another kind, e.g. an older HNSW: built again).
KIND = "ivf-pq"
#: Lists: about ``LISTS_PER_ROOT * sqrt(papers)``, a power of two, at least ``MIN_LISTS``.
LISTS_PER_ROOT = 4
MIN_LISTS = 16
#: The share of the lists a search scans (at least ``MIN_PROBE`` of them, and enough
#: to hold about ``MIN_SCAN`` entries).
PROBE_SHARE = 1 / 16
MIN_PROBE = 16
MIN_SCAN = 20_000
#: Product quantization: dimensions per sub-quantizer (``dim`` divided into about
#: ``dim / PQ_DIMS`` of them) and bits per code (fewer for a small training sample).
PQ_DIMS = 4
PQ_BITS = 8
#: Candidates a search scores exactly, at least (the codes rank approximately).
RESCORE_MIN = 200
#: Training: at most this many vectors (a seeded sample), k-means iterations.
TRAIN_MAX = 256_000
TRAIN_ITERATIONS = 10
#: Built again once the library has this many times the papers the lists were trained for.
GROWTH_LIMIT = 4
#: Build again from scratch once this share of the entries is stale.
STALE_LIMIT = 0.2
_ADD_BATCH = 20_000
#: ``(paper ids, paper vectors, title vectors)`` of rows of a vector store, float32.
Rows = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def _faiss() -> Any:
    import faiss

    return faiss


@dataclass(frozen=True)
class AnnMeta:
    """What ``ann.json`` records about the index file it names."""

    model: str
    dim: int
    seq: int
    entries: int
    stale: int
    file: str
    kind: str
    lists: int
    trained: int  # papers when the lists were trained


class AnnIndex:
    """A faiss IVF-PQ index (inner product) of paper and title vectors."""

    def __init__(self, index: Any, meta: AnnMeta) -> None:
        self.index = index
        self.meta = meta
        ids = _faiss().vector_to_array(index.id_map).astype(np.int64)
        #: Papers with at least one entry (sorted).
        self.papers: np.ndarray = np.unique(ids >> 1)
        self._ids = ids
        self._paper_selector: tuple[Any, np.ndarray] | None = None
        #: Whether it has entries its file lacks.
        self.dirty = not meta.file

    @classmethod
    def create(cls, dim: int, model: str, sample: np.ndarray, papers: int) -> AnnIndex:
        """An empty index whose lists are trained on ``sample`` (float32 rows), sized for
        ``papers``."""
        faiss = _faiss()
        lists = min(lists_for(papers), 2 ** int(np.log2(max(1, len(sample)))))
        ivf = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, lists, subquantizers(dim),
                               code_bits(len(sample)), faiss.METRIC_INNER_PRODUCT)
        ivf.cp.niter = TRAIN_ITERATIONS
        ivf.cp.seed = 1234
        ivf.cp.min_points_per_centroid = 1  # few points per list is fine: no warning
        ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
        ivf.set_direct_map_type(faiss.DirectMap.Array)  # reconstruct a paper's vector
        return cls(faiss.IndexIDMap2(ivf),
                   AnnMeta(model, dim, 0, 0, 0, "", KIND, lists, papers))

    @property
    def entries(self) -> int:
        return int(self.index.ntotal)

    def add(self, paper_ids: np.ndarray, matrix: np.ndarray, titles: np.ndarray) -> int:
        """Add papers' vectors, and their title vectors where they differ; entries added."""
        added = 0
        for start in range(0, len(paper_ids), _ADD_BATCH):
            end = start + _ADD_BATCH
            pids, mat, tit = paper_ids[start:end], matrix[start:end], titles[start:end]
            titled = np.any(tit != mat, axis=1)
            ids = np.concatenate([pids * 2, pids[titled] * 2 + 1]).astype(np.int64)
            vectors = np.ascontiguousarray(np.vstack([mat, tit[titled]]), dtype=np.float32)
            self.index.add_with_ids(vectors, ids)
            self._ids = np.concatenate([self._ids, ids])
            added += len(ids)
            self.dirty = True
        self.papers = np.unique(self._ids >> 1)
        self._paper_selector = None
        return added

    def holds(self, paper_id: int, vector: np.ndarray) -> bool:
        """Whether the newest paper entry of ``paper_id`` is ``vector``'s code (a vector
        too close to the one held to change its code needs no new entry: candidates are
        scored exactly anyway)."""
        try:
            held = self.index.reconstruct(int(paper_id) * 2)
        except RuntimeError:
            return False
        ivf = _faiss().downcast_index(self.index.index)
        code = ivf.sa_encode(np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1))
        return bool(np.array_equal(held, ivf.sa_decode(code)[0]))

    def stale_entries(self, live: np.ndarray) -> int:
        """Entries that are not the newest of a paper in ``live`` (sorted paper ids)."""
        distinct = np.unique(self._ids)
        return self.entries - int(np.isin(distinct >> 1, live, assume_unique=False).sum())

    def search(self, vector: np.ndarray, n: int, *, titles: bool,
               allowed: np.ndarray | None = None, share: float = 1.0,
               bitmap: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
        """Paper ids of the best ``n`` entries, best first, each once; and whether the
        index has no more (fewer than ``n`` came back). Without ``titles``, only paper
        vectors count; with ``allowed`` (sorted paper ids, a ``share`` of all), only
        their entries (``bitmap``: their :func:`entry_bitmap`, when the caller keeps it).

        A filter probes ``1 / sqrt(share)`` times the lists: the nearest allowed papers lie
        further out than the nearest of all, but in lists near the query, not spread over
        ``1 / share`` times as many. On the 1M bench library (100 queries) a random 10%
        and a category of 14.5% kept recall@10 0.994 with sqrt (0.999 and 0.997 with
        ``1 / share``, at 3-4x the time; 0.986 with the fourth root)."""
        faiss = _faiss()
        params = faiss.SearchParametersIVF()
        lists = self.meta.lists
        enough = max(MIN_PROBE, lists * PROBE_SHARE, MIN_SCAN * lists / max(self.entries, 1))
        params.nprobe = min(lists, int(np.ceil(enough / np.sqrt(max(share, 1e-4)))))
        if allowed is not None:
            if bitmap is None:
                bitmap = entry_bitmap(allowed, titles)  # faiss reads its length in bytes
            params.sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        elif not titles:
            params.sel = self._papers_only()
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # one query is too small to share out
        try:
            _, found = self.index.search(query, n, params=params)
        finally:
            faiss.omp_set_num_threads(threads)  # builds keep their threads
        ids = found[0][found[0] >= 0] >> 1
        _, first = np.unique(ids, return_index=True)
        return ids[np.sort(first)], len(ids) < n

    def _papers_only(self) -> Any:
        """A selector of the even entry ids (paper vectors), kept with its bitmap."""
        if self._paper_selector is None:
            size = int(self._ids.max()) + 2 if len(self._ids) else 2
            bitmap = np.full((size + 7) // 8, 0x55, dtype=np.uint8)  # bits 0, 2, 4, ...
            faiss = _faiss()
            self._paper_selector = (faiss.IDSelectorBitmap(len(bitmap),
                                                           faiss.swig_ptr(bitmap)),
                                    bitmap)
        return self._paper_selector[0]

    def save(self, folder: Path) -> None:
        """Write the index (unless its file is as it is) and then ``ann.json``, each to a
        temporary file first, then moved into place."""
        folder.mkdir(parents=True, exist_ok=True)
        previous = _named_file(folder)  # of any kind: an older kind's file goes too
        name = self.meta.file
        if self.dirty or not (folder / name).is_file():
            name = f"{_PREFIX}{uuid.uuid4().hex}.ivf"
            tmp = folder / f"{name}.tmp"
            _faiss().write_index(self.index, str(tmp))
            files.publish(tmp, folder / name)
            self.dirty = False
        self.meta = replace(self.meta, entries=self.entries, file=name)
        files.write_json(folder / META, asdict(self.meta))
        if previous is not None and previous != name:
            (folder / previous).unlink(missing_ok=True)
        files.remove_orphans(_own_files(folder), [name])

    @classmethod
    def load(cls, folder: Path, *, mapped: bool = True) -> AnnIndex | None:
        """The index ``ann.json`` names, memory-mapped read-only (``mapped``) or read into
        memory (to add to it); None if either is missing or unreadable."""
        meta = read_meta(folder)
        if meta is None:
            return None
        faiss = _faiss()
        try:
            index = faiss.read_index(str(folder / meta.file),
                                     faiss.IO_FLAG_MMAP_IFC if mapped else 0)
        except (OSError, RuntimeError):
            return None
        if not hasattr(index, "id_map") or index.ntotal != meta.entries or index.d != meta.dim:
            return None
        return cls(index, meta)


def read_meta(folder: Path) -> AnnMeta | None:
    """What ``ann.json`` says, or None when it is missing or not as written."""
    raw = files.read_json(folder / META)
    try:
        meta = AnnMeta(**raw) if raw is not None else None
    except TypeError:
        return None
    if meta is None:
        return None
    if (Path(meta.file).name != meta.file or not meta.file.startswith(_PREFIX)
            or meta.kind != KIND):
        return None
    return meta


def _named_file(folder: Path) -> str | None:
    """The index file ``ann.json`` names, whatever kind of index it says it is."""
    raw = files.read_json(folder / META)
    name = raw.get("file") if isinstance(raw, dict) else None
    if not isinstance(name, str) or Path(name).name != name or not name.startswith(_PREFIX):
        return None
    return name


def meta_version(folder: Path) -> tuple[int, int, int] | None:
    """Changes when ``ann.json`` is replaced (one ``stat``, about a microsecond)."""
    return files.stat_version(folder / META)


def remove(folder: Path) -> None:
    """Delete the index (``ann.json`` first, so no reader finds half of it)."""
    meta = read_meta(folder)
    (folder / META).unlink(missing_ok=True)
    if meta is not None:
        (folder / meta.file).unlink(missing_ok=True)


def updated(current: AnnIndex | None, *, model: str, seq: int, ids: np.ndarray,
            rows: Rows, dim: int, changed: list[int], rebuild: bool = False,
            editable: Callable[[], AnnIndex | None] | None = None,
            ) -> tuple[AnnIndex, AnnReport]:
    """The index brought up to ``seq`` for the papers ``ids`` (ascending; ``rows`` reads
    their vectors by position): papers without entries and ``changed`` papers whose vector
    differs get new entries; built again when asked, when the model or the dimension
    differ, or when too many entries could be stale after adding.

    ``current`` may be the memory-mapped index: it only decides what to add; ``editable``
    then reads the copy that is added to (faiss cannot add to a mapped index). The copy is
    read only when there is something to add and no rebuild is due, so a rebuild never
    holds the old index in memory beside the new one."""
    if (rebuild or current is None or current.meta.model != model
            or current.meta.dim != dim or len(ids) > GROWTH_LIMIT * current.meta.trained):
        return _built(model, seq, ids, rows, dim)
    covered = np.isin(ids, current.papers)
    todo = ~covered
    for at in np.flatnonzero(covered & np.isin(ids, np.asarray(changed, dtype=np.int64))):
        if not current.holds(int(ids[at]), rows(np.array([at]))[1][0]):
            todo[at] = True
    stale = current.stale_entries(ids)
    renewed = int(np.count_nonzero(todo & covered))
    # at most two entries (paper and title) go stale per renewed paper; at least one
    # entry is added per paper to do
    if stale + 2 * renewed > STALE_LIMIT * (current.entries + int(todo.sum())):
        return _built(model, seq, ids, rows, dim)
    if todo.any():
        copy = current if editable is None else editable()
        if copy is None:
            return _built(model, seq, ids, rows, dim)
        current = copy
    added = _add(current, np.flatnonzero(todo), rows)
    stale = current.stale_entries(ids)
    current.meta = replace(current.meta, seq=seq, stale=stale)
    return current, AnnReport(current.entries, added, stale, False)


def _built(model: str, seq: int, ids: np.ndarray, rows: Rows,
           dim: int) -> tuple[AnnIndex, AnnReport]:
    positions = np.arange(len(ids))
    if len(ids) > TRAIN_MAX:
        positions = np.sort(np.random.default_rng(0).choice(len(ids), TRAIN_MAX,
                                                            replace=False))
    sample = np.vstack([_block(rows(positions[i:i + _ADD_BATCH]))
                        for i in range(0, len(positions), _ADD_BATCH)])
    index = AnnIndex.create(dim, model, sample, len(ids))
    del sample
    added = _add(index, np.arange(len(ids)), rows)
    index.meta = replace(index.meta, seq=seq)
    return index, AnnReport(index.entries, added, 0, True)


def _block(read: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """The entries' vectors of one read: paper vectors, and title vectors that differ."""
    _, matrix, titles = read
    return np.vstack([matrix, titles[np.any(titles != matrix, axis=1)]])


def subquantizers(dim: int) -> int:
    """Sub-quantizers for ``dim`` dimensions: the largest divisor of ``dim`` up to
    ``dim / PQ_DIMS`` (faiss splits the vector evenly)."""
    return max(m for m in range(1, max(1, dim // PQ_DIMS) + 1) if dim % m == 0)


def code_bits(training: int) -> int:
    """Bits per sub-quantizer code: ``PQ_BITS``, fewer when the training sample is too
    small for 2**bits centroids (faiss asks for at least 39 points a centroid)."""
    return int(min(PQ_BITS, max(1, np.floor(np.log2(max(training, 2) / 39)))))


def lists_for(papers: int) -> int:
    """IVF lists for an index of ``papers``: ``LISTS_PER_ROOT * sqrt`` as a power of 2."""
    target = max(MIN_LISTS, LISTS_PER_ROOT * np.sqrt(max(papers, 1)))
    return int(2 ** round(np.log2(target)))


def _add(index: AnnIndex, positions: np.ndarray, rows: Rows) -> int:
    """Add the vectors at ``positions``, read a batch at a time."""
    added = 0
    for start in range(0, len(positions), _ADD_BATCH):
        added += index.add(*rows(positions[start:start + _ADD_BATCH]))
    return added


def entry_bitmap(papers: np.ndarray, titles: bool) -> np.ndarray:
    """A bitmap of the entries of ``papers`` (sorted ids; their title entries too with
    ``titles``), bit ``i`` of byte ``i >> 3`` for entry ``i``, as faiss's
    ``IDSelectorBitmap`` reads it."""
    size = int(papers[-1]) * 2 + 2 if len(papers) else 2
    bits = np.zeros(size, dtype=bool)
    bits[papers * 2] = True
    if titles:
        bits[papers * 2 + 1] = True
    return np.packbits(bits, bitorder="little")


def _own_files(folder: Path) -> Iterator[Path]:
    yield from folder.glob(f"{_PREFIX}*")
    yield from folder.glob(f"{META}.*.tmp")
