"""Remote sources a library follows: arXiv (OAI-PMH, API, announcement RSS), Hugging Face
Daily Papers, OpenAlex, Semantic Scholar, PubMed, bioRxiv and medRxiv.

Each kind is a small module behind :class:`~.base.Source`; :mod:`.http` is the polite
client they share; :mod:`.sync` stores their pages with their cursors.
"""

from .base import Page, Source, SourceContext, SourceSettings, source_class
from .http import Answer, Http, Politeness, SourceError, rebase
from .sync import Syncer, SyncOptions, run_lock

__all__ = ["Answer", "Http", "Page", "Politeness", "Source", "SourceContext", "SourceError",
           "SourceSettings", "SyncOptions", "Syncer", "rebase", "run_lock", "source_class"]
