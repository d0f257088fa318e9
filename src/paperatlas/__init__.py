"""paperatlas: a self-hostable engine for discovering and organizing research papers."""

from .errors import (
    InvalidOptionError,
    NotFoundError,
    PaperatlasError,
    ParseError,
    StoreError,
    UnknownFormatError,
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
    "Record",
    "Stats",
    "StoreError",
    "UnknownFormatError",
    "__version__",
]
