"""``lib.ask``: questions answered from the library's sentences, without a language model
(``lib.ask("does X cause Y?", collection="bio")``, ``lib.ask.batch(questions, out)``; the
scoring is in ``search/evidence.py``, the answer in ``search/answer.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

import numpy as np

from ..errors import InvalidOptionError
from ..records.evidence import Answer
from ..search.answer import AnswerSettings, make_answer
from ..search.evidence import EvidenceFinder
from ..search.sentences import STATE
from ..store import Store
from ..vectors import PaperSet
from .papers import Papers

#: Characters of a question at most.
MAX_QUESTION = 2_000


def parse_node(node: str) -> tuple[str, int]:
    """``TREE:ID`` (a tree's name and a topic id in it) as its two parts."""
    name, _, number = node.rpartition(":")
    if not name or not number.isdigit():
        raise InvalidOptionError("topic node", node, ["TREE:ID, e.g. default:4"])
    return name, int(number)


class Ask:
    """Questions of the library, answered with its papers' sentences: call it with a
    question and a scope."""

    def __init__(self, store: Store, papers: Papers, finder: EvidenceFinder,
                 settings: AnswerSettings | None = None) -> None:
        self.store = store
        self.papers = papers
        self.finder = finder
        self.settings = settings or AnswerSettings()

    def __call__(self, question: str, *, collection: str | None = None,
                 node: str | None = None, papers: Iterable[str] = ()) -> Answer:
        """The best evidence for ``question`` grouped by paper, or an abstention. Scopes
        (all that are given must hold): a ``collection``, a topic ``node`` (``TREE:ID``,
        with its subtree), a list of ``papers`` (keys or identifiers). Reads only: papers
        not indexed since they changed are counted in ``pending``."""
        question = " ".join(question.split())
        if not question or len(question) > MAX_QUESTION:
            raise InvalidOptionError("question", question[:40],
                                     [f"1 to {MAX_QUESTION} characters"])
        collection_id, among = self._scope(collection, node, list(papers))
        found = self.finder.find(question, collection_id=collection_id, among=among)
        ids = sorted({s.paper_id for s in found.sentences[:50]})
        by_id = {p.id: p for p in self.store.papers.get_many(ids)}
        pending = self.store.search.pending(self.store.search.state(STATE)[0])
        return make_answer(question, found.sentences, by_id, self.settings,
                           pending=pending, timings=found.timings)

    def batch(self, questions: Iterable[tuple[str, str]], out: TextIO, *,
              collection: str | None = None, node: str | None = None,
              papers: Iterable[str] = ()) -> int:
        """Answer ``(_id, text)`` pairs, one JSON line each to ``out``: ``{"_id",
        "abstained", "evidence": [{"key", "sentence", "text", "score"}, ...]}``."""
        keys = list(papers)
        n = 0
        for qid, text in questions:
            answer = self(text, collection=collection, node=node, papers=keys)
            out.write(json.dumps({"_id": qid, "abstained": answer.abstained, "evidence": [
                {"key": e.key, "sentence": e.sentence, "text": e.text,
                 "score": round(e.score, 4)} for e in answer.evidence]},
                ensure_ascii=False) + "\n")
            n += 1
        return n

    def _scope(self, collection: str | None, node: str | None,
               keys: list[str]) -> tuple[int | None, PaperSet | None]:
        """The collection's id and the allowed papers (None: any) of a scope."""
        collection_id = None
        if collection is not None:
            collection_id = self.store.collections.id_for(collection)
            if collection_id is None:
                raise InvalidOptionError("collection", collection,
                                         [c.name for c in self.store.collections.all()])
        allowed: set[int] | None = None
        if node is not None:
            name, node_id = parse_node(node)
            if self.store.trees.id_for(name) is None:
                raise InvalidOptionError("tree", name, [t.name for t in self.store.trees.all()])
            tree = self.store.trees.load(name)
            if tree is None or node_id not in tree.nodes:
                ids = [str(i) for i in sorted(tree.nodes)] if tree else []
                raise InvalidOptionError(f"topic of tree {name!r}", node_id,
                                         ids[:30] + (["..."] if len(ids) > 30 else []))
            allowed = tree.subtree_papers(node_id)
        if keys:
            listed = {self.papers.resolve(k) for k in keys}
            allowed = listed if allowed is None else allowed & listed
        if allowed is not None and collection is not None:
            names = self.store.collections.names_for(sorted(allowed))
            allowed = {pid for pid in allowed if collection in names.get(pid, [])}
        return collection_id, None if allowed is None else PaperSet(
            np.array(sorted(allowed), dtype=np.int64))
