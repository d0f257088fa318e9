"""TreeService: builds, updates, edits, shows, exports and evaluates a library's trees."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..errors import InvalidOptionError, NotFoundError, PaperatlasError, PreconditionError
from ..records.trees import (
    BuildReport,
    Edit,
    EvalReport,
    Tree,
    TreeInfo,
    TreeSettings,
    UpdateReport,
)
from ..store import Store
from ..vectors import VectorFilter, VectorStore
from .base import Clusterer, Corpus, Featurizer, Labeler
from .builder import TreeBuilder
from .edit_types import Lock, TreeEdit, to_record
from .edits import apply
from .evaluate import evaluate, read_gold
from .export import PaperRef, outline, write_tree
from .history import describe, paper_ids
from .label import KeywordLabeler
from .rebuild import carry_ids, replay
from .tokencache import TokenSync, cached_tokens, corpus_texts, sync
from .update import split_node, update

Embed = Callable[[list[str]], np.ndarray]
Search = Callable[[str, int, str | None], list[int]]

#: Longest tree name; names travel in URLs, file names and mail.
MAX_NAME = 100
#: A tree name: letters and digits (any script), spaces, ``-``, ``_`` and ``.``; it starts
#: with a letter or digit and does not end with a space (``/``, ``?``, ``#``, ``%`` would
#: break its web address).
_NAME = re.compile(r"[^\W_](?:[\w .-]*[\w.-])?")
NAME_RULE = (f"letters, digits, spaces, '-', '_' and '.' (starting with a letter or digit, "
             f"not ending with a space, at most {MAX_NAME} characters)")


def check_name(name: str) -> None:
    """Refuse a name for a new tree that its web address could not carry."""
    if len(name) > MAX_NAME or not _NAME.fullmatch(name):
        raise InvalidOptionError("tree name", name, [NAME_RULE])


class TreeService:
    """The trees of one library, built over the papers' ``vectors``. ``embed`` encodes short
    texts (labels, phrases) as queries; ``search`` returns paper ids for a query within a
    collection (for label fidelity)."""

    def __init__(self, store: Store, vectors: VectorStore, *, embed: Embed | None = None,
                 search: Search | None = None) -> None:
        self.store = store
        self.vectors = vectors
        self.embed = embed
        self.search = search

    # -- reading ------------------------------------------------------------------------
    def get(self, name: str) -> Tree:
        tree = self.store.trees.load(name)
        if tree is None:
            known = [t.name for t in self.store.trees.all()]
            raise NotFoundError(f"no tree named {name!r}" +
                                (f"; trees: {', '.join(known)}" if known else "; build one"
                                 " with `paperatlas tree build`"))
        return tree

    def all(self) -> list[TreeInfo]:
        return self.store.trees.all()

    def history(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        """The tree's log, newest first; each entry's ``text`` says it in words."""
        tree = self.get(name)
        entries = self.store.trees.history(name, limit)
        labels = {n.id: n.label for n in tree.nodes.values()}
        titles = {pid: t for pid, (_, t, _) in
                  self.store.papers.texts(sorted(paper_ids(entries))).items()}
        return [{**e, "text": describe(e, labels, titles)} for e in entries]

    def edits(self, name: str) -> list[Edit]:
        self.get(name)
        return self.store.trees.edits(name)

    def corpus(self, collection: str | None) -> Corpus:
        """The papers in scope that have vectors, with their texts."""
        scope = VectorFilter(collection_id=self.store.collections.require(collection))
        ids: list[int] = []
        parts: list[np.ndarray] = []
        for batch in self.vectors.iterate(scope, titles=False):
            ids += batch.ids
            parts.append(batch.vectors)
        if not ids:
            raise PreconditionError("no papers with embeddings in scope: ingest papers and "
                                    "run `paperatlas index` (with an embedding model) first")
        texts = self.store.papers.texts(ids)
        pairs = [corpus_texts(*texts[p][1:]) for p in ids]
        return Corpus(ids=ids, vectors=np.vstack(parts), titles=[t for t, _ in pairs],
                      texts=[d for _, d in pairs],
                      token_cache=lambda: cached_tokens(self.store, ids))

    def sync_tokens(self) -> TokenSync:
        """Bring the token cache that builds read up to date (``index`` calls this)."""
        return sync(self.store)

    # -- build / update / edit -------------------------------------------------------------
    def builder(self, settings: TreeSettings, *, labeler: Labeler | None = None,
                features: Featurizer | None = None,
                clusterer: Clusterer | None = None) -> TreeBuilder:
        return TreeBuilder(settings, features=features, clusterer=clusterer,
                           labeler=labeler or KeywordLabeler(embed=self.embed))

    def build(self, name: str, settings: TreeSettings, *, labeler: Labeler | None = None,
              features: Featurizer | None = None,
              clusterer: Clusterer | None = None) -> BuildReport:
        """Build (or rebuild) a tree; a rebuild keeps ids of persisting topics and replays
        the edit log."""
        if self.store.trees.id_for(name) is None:  # a tree named before the rule stays
            check_name(name)
        _check_settings(settings, name)
        start = time.perf_counter()
        corpus = self.corpus(settings.collection)
        builder = self.builder(settings, labeler=labeler, features=features,
                               clusterer=clusterer)
        tree = builder.build(name, corpus)
        old = self.store.trees.load(name)
        applied: list[Edit] = []
        skipped: list[str] = []
        if old is not None:
            tree, aliases = carry_ids(old, tree)
            edits = self.store.trees.edits(name)
            applied, skipped = replay(tree, edits, self._splitter(builder, corpus), aliases)
        report = _build_report(tree, time.perf_counter() - start, len(applied), skipped)
        with self.store.transaction():
            self.store.trees.save(tree)
            self.store.trees.rewrite_edits(applied)
            self.store.trees.log(name, "rebuild" if old else "build",
                                 {"papers": report.papers, "nodes": report.nodes,
                                  "edits_applied": len(applied), "edits_skipped": skipped})
        return report

    def update(self, name: str, *, labeler: Labeler | None = None) -> UpdateReport:
        """Place papers new to the tree's scope; drop papers that left it."""
        tree = self.get(name)
        corpus = self.corpus(tree.settings.collection)
        report = update(tree, self.builder(tree.settings, labeler=labeler), corpus)
        if report.added or report.removed:
            with self.store.transaction():
                self.store.trees.save(tree)
                self.store.trees.log(name, "update", {
                    "added": {str(k): v for k, v in report.added.items()},
                    "new_nodes": report.new_nodes, "grown_nodes": report.grown_nodes,
                    "split_nodes": report.split_nodes, "unsorted": report.unsorted,
                    "removed": report.removed})
        return report

    def edit(self, name: str, edit: TreeEdit) -> str:
        """Apply one correction (papers named by id) and record it in the edit log (one
        transaction)."""
        tree = self.get(name)
        if isinstance(edit, Lock) and edit.label is None and edit.node in tree.nodes:
            edit = dataclasses.replace(edit, label=tree.nodes[edit.node].label)  # logged as is
        splitter = _lazy_splitter(self, tree)
        message = apply(tree, edit, splitter)
        with self.store.transaction():
            self.store.trees.save(tree)
            self.store.trees.add_edit(name, to_record(edit))
            self.store.trees.log(name, "edit", {"op": edit.op, "args": edit.args(),
                                                "result": message})
        return message

    def delete(self, name: str) -> None:
        self.get(name)
        with self.store.transaction():
            self.store.trees.delete(name)

    def _splitter(self, builder: TreeBuilder,
                  corpus: Corpus) -> Callable[[Tree, int], list[int]]:
        return lambda tree, node_id: split_node(tree, builder, corpus, node_id)

    # -- show / export / evaluate ----------------------------------------------------------
    def refs(self, tree: Tree) -> dict[int, PaperRef]:
        ids = sorted(tree.all_papers() | {p for n in tree.nodes.values()
                                          for p in n.representative})
        return {pid: PaperRef(key=k, title=t) for pid, (k, t, _) in
                self.store.papers.texts(ids).items()}

    def outline(self, name: str, *, show_papers: int = 0,
                max_depth: int | None = None) -> list[str]:
        tree = self.get(name)
        return outline(tree, self.refs(tree), show_papers=show_papers, max_depth=max_depth)

    def export(self, name: str, fmt: str, out: TextIO) -> None:
        tree = self.get(name)
        write_tree(tree, fmt, out, self.refs(tree))

    def evaluate(self, name: str, gold_path: str | Path,
                 resolve: Callable[[str], int | None]) -> EvalReport:
        """Compare with ``key<TAB>label/sub-label`` lines; keys unknown to the library are
        counted in ``extra["unknown_keys"]``."""
        tree = self.get(name)
        gold_keys = read_gold(gold_path)
        gold: dict[int, list[tuple[str, ...]]] = {}
        unknown = 0
        for key, paths in gold_keys.items():
            pid = resolve(key)
            if pid is None:
                unknown += 1
            else:
                gold[pid] = paths
        if not gold:
            raise PaperatlasError(f"{gold_path}: none of the {len(gold_keys)} keys is a paper "
                                  "of this library")
        collection = tree.settings.collection
        search = self.search
        fidelity = None if search is None else (lambda q, k: search(q, k, collection))
        titles = self._title_vectors(list(gold)) if self.embed is not None else None
        report = evaluate(tree, gold, search=fidelity, embed=self.embed, title_vectors=titles)
        report.extra["unknown_keys"] = unknown
        return report

    def _title_vectors(self, paper_ids: list[int]) -> dict[int, np.ndarray]:
        return self.vectors.get(paper_ids, titles=True)


def _lazy_splitter(service: TreeService, tree: Tree) -> Callable[[Tree, int], list[int]]:
    def split(t: Tree, node_id: int) -> list[int]:
        corpus = service.corpus(tree.settings.collection)
        return split_node(t, service.builder(tree.settings), corpus, node_id)
    return split


def _check_settings(s: TreeSettings, name: str) -> None:
    if not name.strip():
        raise InvalidOptionError("tree name", name, ["a non-empty name"])
    for field, value, low in (("max-depth", s.max_depth, 1), ("min-size", s.min_size, 1),
                              ("max-children", s.max_children, 2), ("max-links", s.max_links, 1)):
        if value < low:
            raise InvalidOptionError(field, value, [f"an integer >= {low}"])
    if not 0 <= s.margin < 1:
        raise InvalidOptionError("margin", s.margin, ["a number in [0, 1)"])


def _build_report(tree: Tree, seconds: float, applied: int, skipped: list[str]) -> BuildReport:
    kids = tree.child_ids()
    depth = max((d for _, d in tree.walk()), default=0)
    links = tree.paper_nodes()
    return BuildReport(name=tree.name, papers=len(links), nodes=len(tree.nodes) - 1,
                       leaves=sum(1 for i, k in kids.items() if not k and i != tree.root),
                       depth=depth, multi_linked=sum(1 for v in links.values() if len(v) > 1),
                       seconds=seconds, edits_applied=applied, edits_skipped=skipped)
