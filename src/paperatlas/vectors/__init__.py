"""Paper vectors behind one interface (:class:`VectorStore`); SQLite + faiss is the first
implementation (:class:`SqliteVectorStore`)."""

from . import serving
from .base import (
    AnnReport,
    ModelMismatchError,
    PaperSet,
    VectorBatch,
    VectorFilter,
    VectorHit,
    VectorRecord,
    VectorStore,
)
from .sqlite import ANN_MIN, STATE, SqliteVectorStore

__all__ = ["ANN_MIN", "STATE", "AnnReport", "ModelMismatchError", "PaperSet",
           "SqliteVectorStore",
           "VectorBatch", "VectorFilter", "VectorHit", "VectorRecord", "VectorStore", "serving"]
