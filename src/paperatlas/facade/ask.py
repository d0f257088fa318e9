"""``lib.ask``: questions answered from the library's sentences (``lib.ask("does X cause
Y?", collection="bio")``, ``lib.ask.batch(questions, out)``; the scoring is in
``search/evidence.py``, the answer in ``search/answer.py``), and with a language model
(``lib.ask(q, llm=LLMSettings(url, model))``, ``lib.ask.stream(q, llm=...)``: the model
writes from the numbered evidence, ``search/cite.py`` checks its citations)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import numpy as np

from ..chat import LLMSettings
from ..errors import InvalidOptionError
from ..records.evidence import Answer, AnswerEvent, AskEvent, DeltaEvent, EvidenceEvent
from ..search import cite
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
    if not name or not (number.isascii() and number.isdigit()):
        raise InvalidOptionError("topic node", node, ["TREE:ID, e.g. default:4"])
    return name, int(number)


def _written(answer: Answer, text: str, llm: LLMSettings, started: float) -> Answer:
    """``answer`` with the model's ``text`` checked, and the model's time (``llm``, ms)."""
    checked = cite.checked_answer(answer, text, llm.model)
    return dataclasses.replace(checked, timings={
        **checked.timings, "llm": (time.perf_counter() - started) * 1000})


class Ask:
    """Questions of the library, answered with its papers' sentences: call it with a
    question and a scope (and ``llm`` settings for an answer written by a model)."""

    def __init__(self, store: Store, papers: Papers, finder: EvidenceFinder,
                 settings: AnswerSettings | None = None, *,
                 llm_evidence: int = cite.EVIDENCE) -> None:
        self.store = store
        self.papers = papers
        self.finder = finder
        self.settings = settings or AnswerSettings()
        #: Evidence sentences a model is given (the best, at most ``per_paper`` a paper).
        self.llm_evidence = llm_evidence

    def __call__(self, question: str, *, collection: str | None = None,
                 node: str | None = None, papers: Iterable[str] = (),
                 llm: LLMSettings | None = None) -> Answer:
        """The best evidence for ``question`` grouped by paper, or an abstention. Scopes
        (all that are given must hold): a ``collection``, a topic ``node`` (``TREE:ID``,
        with its subtree), a list of ``papers`` (keys or identifiers). Reads only: papers
        not indexed since they changed are counted in ``pending``.

        With ``llm``, the best ``llm_evidence`` sentences go to the model, numbered, and
        its answer comes back checked (``sentences``, ``citation_precision``, ``verdict``;
        see ``search/cite.py``); when the library does not address the question the
        answer abstains without asking the model. A failing endpoint: ``LLMError``."""
        answer = self._evidence(question, collection, node, papers, llm)
        if llm is None or answer.abstained:
            return answer
        started = time.perf_counter()
        text = llm.client().complete(cite.build_messages(answer.question, answer.evidence),
                                     temperature=0.0)
        return _written(answer, text, llm, started)

    def stream(self, question: str, *, collection: str | None = None,
               node: str | None = None, papers: Iterable[str] = (),
               llm: LLMSettings | None = None) -> Iterator[AskEvent]:
        """The answer of :meth:`__call__` as events, for a page that shows it as it is
        written: the numbered evidence first (an :class:`EvidenceEvent`; empty when the
        library does not address the question), then the model's text as it generates it
        (:class:`DeltaEvent`; none without ``llm`` or when abstaining), then the checked
        answer (:class:`AnswerEvent`). Bad options raise here, at the call, and the
        evidence is found then; a failing endpoint raises ``LLMError`` from the iterator,
        after the evidence event."""
        return self._events(self._evidence(question, collection, node, papers, llm), llm)

    def _events(self, answer: Answer, llm: LLMSettings | None) -> Iterator[AskEvent]:
        yield EvidenceEvent(answer.evidence, answer.papers)
        if llm is not None and not answer.abstained:
            started = time.perf_counter()
            pieces = []
            for piece in llm.client().stream(
                    cite.build_messages(answer.question, answer.evidence), temperature=0.0):
                pieces.append(piece)
                yield DeltaEvent(piece)
            answer = _written(answer, "".join(pieces), llm, started)
        yield AnswerEvent(answer)

    def batch(self, questions: Iterable[tuple[str, str]], out: TextIO, *,
              collection: str | None = None, node: str | None = None,
              papers: Iterable[str] = (), llm: LLMSettings | None = None) -> int:
        """Answer ``(_id, text)`` pairs, one JSON line each to ``out``: ``{"_id",
        "abstained", "evidence": [{"key", "sentence", "text", "score"}, ...]}``; with
        ``llm`` also ``"answer"`` (the model's checked text, markers in it: ``[n]`` is
        the n-th evidence), ``"citation_precision"`` and ``"verdict"``."""
        keys = list(papers)
        n = 0
        for qid, text in questions:
            answer = self(text, collection=collection, node=node, papers=keys, llm=llm)
            line: dict[str, Any] = {"_id": qid, "abstained": answer.abstained, "evidence": [
                {"key": e.key, "sentence": e.sentence, "text": e.text,
                 "score": round(e.score, 4)} for e in answer.evidence]}
            if llm is not None:
                line["answer"] = cite.render(answer.sentences)
                line["citation_precision"] = answer.citation_precision
                line["verdict"] = answer.verdict
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
        return n

    def _evidence(self, question: str, collection: str | None, node: str | None,
                  papers: Iterable[str], llm: LLMSettings | None) -> Answer:
        """The answer without a model: with ``llm``, its evidence is the best
        ``llm_evidence`` sentences (the abstention is the same)."""
        question = " ".join(question.split())
        if not question or len(question) > MAX_QUESTION:
            raise InvalidOptionError("question", question[:40],
                                     [f"1 to {MAX_QUESTION} characters"])
        if self.llm_evidence < 1:
            raise InvalidOptionError("LLM evidence sentences", self.llm_evidence,
                                     ["1 or more"])
        settings = self.settings if llm is None else dataclasses.replace(
            self.settings, evidence=self.llm_evidence)
        collection_id, among = self._scope(collection, node, list(papers))
        found = self.finder.find(question, collection_id=collection_id, among=among)
        ids = sorted({s.paper_id for s in found.sentences[:50]})
        by_id = {p.id: p for p in self.store.papers.get_many(ids)}
        pending = self.store.search.pending(self.store.search.state(STATE)[0])
        return make_answer(question, found.sentences, by_id, settings,
                           pending=pending, timings=found.timings)

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
