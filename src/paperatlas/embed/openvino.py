"""Bulk passage encoding with OpenVINO, bf16 where the CPU has it.

On the 2-core CI machine, OpenVINO in bf16 embeds SciFact abstracts about 4x faster
than ``SentenceTransformer.encode`` with vectors at cosine 0.9999 to it (see
``bench/embed_speed.py``). Only the transformer runs here; sentence-transformers'
own pooling and normalization modules run after it, so any model whose first module
is a plain text ``Transformer`` works.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: OpenVINO precisions we accept; ``auto`` is bf16 when the CPU supports it.
PRECISIONS = ("auto", "bf16", "fp32")


def available() -> bool:
    """Whether the ``openvino`` package can be imported."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def supports(st_model: Any) -> bool:
    """Whether ``st_model`` starts with a text transformer OpenVINO can take over."""
    modules = list(st_model)
    first = modules[0] if modules else None
    config = getattr(first, "modality_config", {}) or {}
    text = config.get("text", {}) if isinstance(config, dict) else {}
    return (type(first).__name__ == "Transformer" and hasattr(first, "model")
            and text.get("method", "forward") == "forward")


class OpenVINOEncoder:
    """Runs the first (transformer) module of a sentence-transformers model in OpenVINO."""

    def __init__(self, st_model: Any, *, precision: str = "auto", batch_size: int = 16,
                 threads: int | None = None, cache: Path | None = None) -> None:
        """Convert the model (or read it from ``cache``, an ``.xml`` path, when there)."""
        import openvino as ov
        import torch

        self.st_model = st_model
        self.batch_size = batch_size
        transformer = next(iter(st_model))
        # Two texts of different lengths, so the traced graph keeps the padding mask.
        texts = ["a longer example text of several words to trace the model", "short"]
        example = {k: v for k, v in st_model.preprocess(texts).items()
                   if isinstance(v, torch.Tensor)}
        self.input_names = list(example)
        self.output_name = getattr(transformer, "module_output_name", "token_embeddings")
        core = ov.Core()

        def convert() -> Any:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about Python-level branches
                return ov.convert_model(transformer.model, example_input=example)

        converted = cached_model(ov, core, cache, convert)
        if precision == "auto":
            caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            precision = "bf16" if "BF16" in caps else "fp32"
        self.precision = precision
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16"
                                  else "f32", "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.request = core.compile_model(converted, "CPU", config).create_infer_request()
        self.after = list(st_model)[1:]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalized float32 vectors for ``texts`` (longest first, so batches pad little)."""
        import numpy as np
        import torch

        order = np.argsort([-len(t) for t in texts], kind="stable")
        out: np.ndarray | None = None
        for start in range(0, len(texts), self.batch_size):
            idx = order[start:start + self.batch_size]
            features = self.st_model.preprocess([texts[i] for i in idx])
            inputs = {name: features[name].numpy() for name in self.input_names}
            hidden = self.request.infer(inputs)[0]
            features[self.output_name] = torch.from_numpy(np.array(hidden, dtype=np.float32))
            with torch.inference_mode():
                for module in self.after:
                    features = module(features)
            vectors = features["sentence_embedding"].float().numpy()
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
        if out is None:
            return np.zeros((0, 0), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


def cached_model(ov: Any, core: Any, cache: Path | None, convert: Callable[[], Any]) -> Any:
    """The converted model: read from ``cache`` (an ``.xml`` path) when there, else made by
    ``convert()`` and saved there. The processes that start together on a new library
    (``serve --workers N`` and its job worker) take turns under a lock file beside the
    cache: one converts and saves, the others then read its files (before, they wrote the
    same temporary files, and a process whose file another had renamed died starting)."""
    if cache is None:
        return convert()
    if cache.exists():
        return core.read_model(str(cache))
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.with_name(cache.name + ".lock"), "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes
        if cache.exists():  # another process converted it while this one waited
            return core.read_model(str(cache))
        converted = convert()
        _save(ov, converted, cache)
    return converted


def _save(ov: Any, model: Any, path: Path) -> None:
    """Write the converted model atomically (a crash leaves no half-written cache), under
    temporary names of this process's own."""
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.part.xml")
    ov.save_model(model, str(tmp), compress_to_fp16=False)
    tmp.with_suffix(".bin").replace(path.with_suffix(".bin"))
    tmp.replace(path)
