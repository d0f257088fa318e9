"""Embeddings: the swappable embedding stage and its default implementation."""

from .base import Embedder, paper_text

__all__ = ["Embedder", "paper_text"]
