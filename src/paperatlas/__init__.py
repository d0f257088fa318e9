"""paperatlas: a self-hostable engine for discovering and organizing research papers."""

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
from .library import Library
from .models import CollectionInfo, FileReport, IngestReport, Paper, Record, Stats

__version__ = "0.1.0"

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
