"""paperatlas: a self-hostable engine for discovering and organizing research papers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    InvalidOptionError,
    NotFoundError,
    PaperatlasError,
    ParseError,
    PreconditionError,
    StoreError,
    UnknownFormatError,
    UpstreamError,
)

if TYPE_CHECKING:
    from .library import Library
    from .records.papers import CollectionInfo, FileReport, IngestReport, Paper, Record, Stats

__version__ = "0.1.0"

# Imported on first use (PEP 562), so that `import paperatlas.cli` and the CLI's --help do
# not pay for the library's engines (tantivy, numpy, scikit-learn, ...).
_LAZY = {"Library": "library", "CollectionInfo": "models", "FileReport": "models",
         "IngestReport": "models", "Paper": "models", "Record": "models", "Stats": "models"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CollectionInfo",
    "FileReport",
    "IngestReport",
    "InvalidOptionError",
    "Library",
    "NotFoundError",
    "Paper",
    "PaperatlasError",
    "ParseError",
    "PreconditionError",
    "Record",
    "Stats",
    "StoreError",
    "UnknownFormatError",
    "UpstreamError",
    "__version__",
]
