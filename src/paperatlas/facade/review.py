"""``lib.review``: a literature review of a topic of a tree (``lib.review("default:4")``):
an outline of its sub-topics, each with its representative papers and their key
sentences, cited; ``lib.review.render(review, "markdown")`` and ``.bibtex(review, out)``
write it out. The choices are in ``search/review.py``, the documents in
``search/review_export.py``. Reads only."""

from __future__ import annotations

import json
import time
from typing import TextIO

from ..chat import LLMSettings
from ..errors import InvalidOptionError, PreconditionError
from ..export import bibtex_keys, write_bibtex
from ..organize.export import node_sizes
from ..records.papers import Paper
from ..records.review import Review, ReviewPaper, Section
from ..records.serialize import to_json
from ..records.trees import Tree
from ..search import review as core
from ..search.evidence import EvidenceFinder
from ..search.review_export import to_html, to_markdown
from ..store import Store
from .ask import parse_node

#: Formats :meth:`Reviews.render` writes.
FORMATS = ("markdown", "html", "json")


class Reviews:
    """Literature reviews of topics: call it with ``TREE:ID``."""

    def __init__(self, store: Store, finder: EvidenceFinder) -> None:
        self.store = store
        self.finder = finder

    def __call__(self, node: str, *, sections_max: int = core.SECTIONS,
                 papers_per_section: int = core.PAPERS,
                 sentences_per_paper: int = core.SENTENCES,
                 llm: LLMSettings | None = None) -> Review:
        """The review of topic ``node`` (``TREE:ID``): one section per sub-topic (at most
        ``sections_max``, largest first; a topic without sub-topics is its own section),
        each with ``papers_per_section`` representative papers and their best
        ``sentences_per_paper`` sentences; every cited paper once in the references.

        With ``llm``, the model writes a paragraph per section from that section's
        numbered evidence only, checked like an answer (``search/cite.py``): citation
        precision per section and overall, uncited and mis-cited sentences flagged. A
        failing endpoint: ``LLMError``."""
        settings = core.ReviewSettings(sections_max, papers_per_section, sentences_per_paper)
        if not self.finder.service.semantic_enabled:
            raise PreconditionError("review needs an embedding model (--model or "
                                    "PAPERATLAS_MODEL) and `paperatlas index` run with it")
        client = llm.client() if llm is not None else None  # a bad URL fails first
        started = time.perf_counter()
        tree, node_id = self._node(node)
        sizes = node_sizes(tree)
        ids, omitted = core.sections_of(tree, node_id, settings.sections, sizes)
        used: set[int] = set()
        cited: dict[int, Paper] = {}
        sections = [self._section(tree, sid, sizes[sid], settings, used, cited)
                    for sid in ids]
        keys = bibtex_keys(p.key for p in cited.values())
        head = tree.nodes[node_id]
        label = tree.name if node_id == tree.root else core.label_of(head)
        timings = {"evidence": (time.perf_counter() - started) * 1000}
        if client is not None:
            sections = [core.checked_paragraph(s, client.complete(
                core.paragraph_messages(label, s), temperature=0.0)) if s.evidence else s
                for s in sections]
            timings["llm"] = (time.perf_counter() - started) * 1000 - timings["evidence"]
        notes = [] if cited else ["no paper of this topic has indexed sentences yet; run "
                                  "`paperatlas index`"]
        return Review(
            tree=tree.name, node=node_id, label=label, size=sizes[node_id],
            keywords=list(head.keywords), description=head.description,
            path=[core.label_of(n) for n in tree.path(node_id)[:-1]],
            sections=sections, references=core.references(cited.values(), keys),
            omitted=omitted, model=llm.model if llm else None,
            precision=core.overall_precision(sections) if llm else None, notes=notes,
            timings=timings)

    def _node(self, node: str) -> tuple[Tree, int]:
        """The tree and topic id ``TREE:ID`` names; a bad one lists the valid ones."""
        name, node_id = parse_node(node)
        tree = self.store.trees.load(name)
        if tree is None:
            raise InvalidOptionError("tree", name, [t.name for t in self.store.trees.all()])
        if node_id not in tree.nodes:
            valid = [f"{name}:{n.id} ({core.label_of(n)})" for n, depth in tree.walk()
                     if 0 < depth <= 2]
            raise InvalidOptionError(f"topic of tree {name!r}", node,
                                     [f"{name}:{tree.root} (the whole tree)"] + valid[:30]
                                     + (["..."] if len(valid) > 30 else []))
        return tree, node_id

    def _section(self, tree: Tree, section_id: int, size: int, settings: core.ReviewSettings,
                 used: set[int], cited: dict[int, Paper]) -> Section:
        """One section: its papers chosen and their sentences scored (``used`` and
        ``cited`` gather the papers cited so far)."""
        node = tree.nodes[section_id]
        question = core.question_of(node)
        pooled = core.pool(core.candidates(tree, section_id), used,
                           settings.papers * core.POOL)
        scored = self.finder.score(question, [pid for pid, _ in pooled])
        chosen = core.choose(pooled, scored, settings.papers, settings.sentences)
        found = {p.id: p for p in self.store.papers.get_many([pid for pid, _, _ in chosen])}
        papers: list[ReviewPaper] = []
        for pid, closeness, sentences in chosen:
            if pid in found:  # deleted since the sentences were read: left out
                used.add(pid)
                cited.setdefault(pid, found[pid])
                papers.append(core.review_paper(found[pid], closeness, sentences))
        evidence = sorted((e for p in papers for e in p.evidence),
                          key=lambda e: (-e.score, e.key, e.sentence))
        return Section(section_id, core.label_of(node), size,
                       list(node.keywords), question, papers, evidence)

    def render(self, review: Review, format: str = "markdown") -> str:
        """The review as a document: ``markdown``, standalone ``html`` or ``json``."""
        if format == "markdown":
            return to_markdown(review)
        if format == "html":
            return to_html(review)
        if format == "json":
            return json.dumps(to_json(review), indent=2, ensure_ascii=False) + "\n"
        raise InvalidOptionError("review format", format, FORMATS)

    def bibtex(self, review: Review, out: TextIO) -> int:
        """Every paper the review cites as a BibTeX entry (its citation key the
        reference's ``bibkey``); returns how many."""
        ids = [self.store.papers.id_for(r.key) for r in review.references]
        papers = {p.key: p for p in self.store.papers.get_many([i for i in ids if i])}
        return write_bibtex([papers[r.key] for r in review.references if r.key in papers], out,
                            keys={r.key: r.bibkey for r in review.references})
