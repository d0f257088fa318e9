"""``lib.trees``: topic trees built, updated, corrected, read and exported (the work is in
``organize/``; ``lib.trees.get(name)``, ``lib.trees.build(name, ...)``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TextIO

from ..bounds import MAX_ID, MAX_LIST, check_id, check_limit, check_range
from ..errors import InvalidOptionError
from ..organize.base import Labeler
from ..organize.edit_types import MovePaper, TreeEdit, Unpin
from ..organize.export import PaperRef, treemap_svg
from ..organize.label import KeywordLabeler
from ..organize.llm import LLMLabeler
from ..organize.service import TreeService, check_name
from ..records.jobs import Job
from ..records.trees import BuildReport, EvalReport, Tree, TreeInfo, TreeSettings, UpdateReport
from ..treeview import (
    PaperTopic,
    TopicPage,
    display_label,
    page_paper_ids,
    paper_topics,
    subtree,
    topic_page,
)
from ..work import Indexer, Outcome, Progress, map_follows
from .papers import Papers
from .search import Search


class Trees:
    """The library's topic trees, by name."""

    def __init__(self, service: TreeService, papers: Papers, search: Search,
                 indexer: Indexer) -> None:
        self.service = service
        self.store = service.store
        self.papers = papers
        self.search = search
        self.indexer = indexer

    def build(self, name: str = "default", *, collection: str | None = None,
              max_depth: int = 3, min_size: int = 5, max_children: int = 10,
              margin: float = 0.02, max_links: int = 2, seed: int = 0,
              llm_url: str | None = None, llm_model: str | None = None,
              llm_key: str | None = None) -> BuildReport:
        """Build (or rebuild, keeping ids and replaying edits) a topic tree of a collection
        (default: the whole library). Brings the embeddings up to date first."""
        settings = TreeSettings(max_depth=max_depth, min_size=min_size,
                                max_children=max_children, margin=margin,
                                max_links=max_links, seed=seed, collection=collection)
        if self.store.trees.id_for(name) is None:
            check_name(name)  # before indexing, which may take long
        self.indexer.index()
        report = self.service.build(name, settings,
                                    labeler=self._labeler(llm_url, llm_model, llm_key))
        self._recolour()
        return report

    def update(self, name: str = "default", *, llm_url: str | None = None,
               llm_model: str | None = None, llm_key: str | None = None) -> UpdateReport:
        """Place papers that joined the tree's collection since it was built (a
        ``tree_update`` job run here, after an ``index`` job)."""
        labeler = self._labeler(llm_url, llm_model, llm_key)
        self.get(name)  # a missing tree fails before indexing
        self.indexer.index()

        def run(job: Job, progress: Progress) -> Outcome:
            report = self.service.update(name, labeler=labeler)
            job.result = {"trees": {name: {"added": len(report.added),
                                           "removed": report.removed,
                                           "unsorted": report.unsorted}}}
            progress(1, 1)
            return Outcome(report, map_follows(self.store))

        value: UpdateReport = self.indexer.foreground(
            "tree_update", {"trees": [name]}, run, take_queued=False)
        return value

    def edit(self, name: str, edit: TreeEdit) -> str:
        """One correction (an ``organize.edit_types`` dataclass, e.g. from ``parse_edit``);
        a paper named by key or identifier is resolved to its id here."""
        if isinstance(edit, (MovePaper, Unpin)):
            edit = dataclasses.replace(edit, paper=self.papers.resolve(str(edit.paper)))
        done = self.service.edit(name, edit)
        self._recolour()
        return done

    def _recolour(self) -> None:
        """Queue the map's colouring by the trees as they now are (when there is a map)."""
        for kind, params in map_follows(self.store):
            self.indexer.jobs.enqueue(kind, params)

    def get(self, name: str = "default") -> Tree:
        return self.service.get(name)

    def all(self) -> list[TreeInfo]:
        return self.service.all()

    def outline(self, name: str = "default", *, show_papers: int = 0,
                max_depth: int | None = None) -> list[str]:
        check_limit(show_papers, MAX_LIST, option="papers shown", low=0)
        return self.service.outline(name, show_papers=show_papers, max_depth=max_depth)

    def export(self, name: str, format: str, out: TextIO) -> None:
        self.service.export(name, format, out)

    def evaluate(self, name: str, gold: str | Path) -> EvalReport:
        return self.service.evaluate(name, gold, self.store.papers.id_for)

    def node(self, name: str, node_id: int, page: int = 1) -> TopicPage:
        """One topic of a tree: its path, sub-topics with sizes, keywords and page ``page``
        of the papers of its subtree, best first."""
        check_id("topic", node_id)
        check_range("page", page, 1, MAX_ID)
        tree = self.get(name)
        texts = self.store.papers.texts(page_paper_ids(tree, node_id, page))
        return topic_page(tree, node_id, {pid: PaperRef(k, t) for pid, (k, t, _) in
                                          texts.items()}, page)

    def picture(self, name: str, node_id: int | None = None, *, width: int = 960,
                height: int = 540) -> str:
        """An SVG treemap of a tree's first two levels (or of those under ``node_id``)."""
        tree = self.get(name)
        return treemap_svg(tree if node_id is None else subtree(tree, node_id), width, height)

    def topics_of(self, key: str) -> list[PaperTopic]:
        """The topics a paper is linked to, in every tree, with the path to each."""
        links = self.store.trees.links_of(self.papers.resolve(key))
        heads = {name: self.store.trees.heads(name) for name in {link[0] for link in links}}
        return paper_topics(links, heads)

    def choices(self, depth: int = 2) -> list[tuple[str, str]]:
        """Every tree's topics down to ``depth`` as ``(TREE:ID, path)`` pairs, the path the
        tree's name and the labels down to the topic, in outline order (for a picker; read
        from the nodes alone, no links)."""
        out: list[tuple[str, str]] = []
        for info in self.all():
            heads = self.store.trees.heads(info.name)
            children: dict[int | None, list[int]] = {}
            for node_id, (parent, _, _) in sorted(heads.items()):
                children.setdefault(parent, []).append(node_id)
            stack = [(root, [info.name], 0) for root in reversed(children.get(None, []))]
            while stack:
                node_id, path, level = stack.pop()
                _, label, kind = heads[node_id]
                if level:  # the root itself is not a topic to pick
                    path = [*path, display_label(label, kind, node_id)]
                    out.append((f"{info.name}:{node_id}", " \u203a ".join(path)))
                if level < depth:
                    stack += [(c, path, level + 1) for c in reversed(children.get(node_id, []))
                              if heads[c][2] == "topic"]
        return out

    def history(self, name: str = "default", limit: int = 20) -> list[dict[str, Any]]:
        check_limit(limit, MAX_LIST)
        return self.service.history(name, limit)

    def delete(self, name: str) -> None:
        self.service.delete(name)

    def _labeler(self, url: str | None, model: str | None, key: str | None) -> Labeler | None:
        if not url and not model:
            return None
        if not url or not model:
            raise InvalidOptionError("LLM settings", "url without model" if url else
                                     "model without url", ["both --llm-url and --llm-model"])
        embed = self.search.encode_queries if self.search.semantic_enabled else None
        return LLMLabeler(url, model, keywords=KeywordLabeler(embed=embed), api_key=key)
