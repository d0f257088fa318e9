"""A literature review of a topic: its outline (one section per sub-topic) and each
section's representative papers with their key sentences (pure functions over a loaded
tree and scored sentences; the facade, ``facade/review.py``, reads and assembles).

Representative papers: a section's candidates are first the papers the tree itself
stored as the node's representatives (its subtree's papers closest to the subtree's
centroid, from the stored paper vectors, at build or update time), then the rest of its
subtree by their best link score in it (each paper's cosine to its leaf's centroid),
newest (highest id) first on ties. A paper already cited by an earlier section is passed
over while others are left, and one without stored sentences (no abstract, or not
indexed yet) is skipped. Key sentences: each candidate's sentences are scored with
:meth:`EvidenceFinder.score` against the section's label and keywords as the question;
the best ``sentences`` of each chosen paper are quoted.

With a language model, each section's evidence (its quoted sentences, best first) is
numbered and given to the model, which writes one paragraph from it alone, a citation
after every sentence; the paragraph is then checked as an answer is
(:mod:`.cite`): each sentence cited, uncited or mis-cited (kept and flagged), and the
citation precision of the section and of the whole review.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from ..bounds import check_limit
from ..organize.export import ordered_children
from ..records.evidence import AnswerSentence, Evidence
from ..records.papers import Paper
from ..records.review import Reference, ReviewPaper, Section
from ..records.trees import UNSORTED, Node, Tree
from ..treeview import display_label
from . import cite
from .evidence import Scored

#: Defaults: sections at most, papers per section, sentences per paper.
SECTIONS, PAPERS, SENTENCES = 8, 3, 2
#: Highest values a caller may ask for.
MAX_SECTIONS, MAX_PAPERS, MAX_SENTENCES = 50, 20, 10
#: Candidates scored per paper wanted (room for papers without sentences or already cited).
POOL = 3
#: Keywords of a node that join its label in a section's question.
QUESTION_KEYWORDS = 8


@dataclass(frozen=True)
class ReviewSettings:
    """How large a review is: sections at most, papers per section, sentences per
    paper (each checked against its bound)."""

    sections: int = SECTIONS
    papers: int = PAPERS
    sentences: int = SENTENCES

    def __post_init__(self) -> None:
        check_limit(self.sections, MAX_SECTIONS, option="sections")
        check_limit(self.papers, MAX_PAPERS, option="papers per section")
        check_limit(self.sentences, MAX_SENTENCES, option="sentences per paper")


def label_of(node: Node) -> str:
    return display_label(node.label, node.kind, node.id)


def sections_of(tree: Tree, node_id: int, limit: int,
                sizes: Mapping[int, int]) -> tuple[list[int], int]:
    """The nodes that become sections: the node's sub-topics, largest first (the
    "unsorted" node is not a topic), at most ``limit``, and how many were left out; a node
    without sub-topics is its own one section."""
    kids = [c for c in ordered_children(tree, sizes)[node_id]
            if tree.nodes[c].kind != UNSORTED and sizes[c] > 0]
    if not kids:
        return [node_id], 0
    return kids[:limit], max(0, len(kids) - limit)


def question_of(node: Node) -> str:
    """What a section's sentences are scored against: its label and keywords."""
    words = [label_of(node)]
    words += [k for k in node.keywords[:QUESTION_KEYWORDS] if k.lower() not in words[0].lower()]
    return " ".join(words)


def candidates(tree: Tree, node_id: int) -> list[tuple[int, float]]:
    """A section's papers in the order they are chosen, each with its closeness to the
    section (see the module's docstring): the node's stored representatives, then its
    subtree by best link score, newest first on ties."""
    best: dict[int, float] = {}
    for nid in tree.subtree_ids(node_id):
        for pid, score in tree.nodes[nid].papers.items():
            best[pid] = max(score, best.get(pid, score))
    node = tree.nodes[node_id]
    first = [(pid, best.get(pid, 0.0)) for pid in dict.fromkeys(node.representative)]
    chosen = {pid for pid, _ in first}
    rest = sorted(((pid, s) for pid, s in best.items() if pid not in chosen),
                  key=lambda kv: (-kv[1], -kv[0]))
    return first + rest


def pool(order: list[tuple[int, float]], used: set[int], size: int) -> list[tuple[int, float]]:
    """The first ``size`` candidates, those not cited yet before those that are."""
    fresh = [c for c in order if c[0] not in used][:size]
    return fresh + [c for c in order if c[0] in used][:size - len(fresh)]


def choose(pooled: list[tuple[int, float]], scored: list[Scored], papers: int,
           sentences: int) -> list[tuple[int, float, list[Scored]]]:
    """The first ``papers`` pooled papers that have sentences, each with its best
    ``sentences`` (``scored`` is best first)."""
    by_paper: dict[int, list[Scored]] = {}
    for s in scored:
        by_paper.setdefault(s.paper_id, []).append(s)
    out = [(pid, closeness, by_paper[pid][:sentences])
           for pid, closeness in pooled if by_paper.get(pid)]
    return out[:papers]


def evidence_of(paper: Paper, s: Scored) -> Evidence:
    return Evidence(paper.key, s.sentence, s.text, s.score, s.cosine, s.lexical, s.paper)


def review_paper(paper: Paper, closeness: float, chosen: Iterable[Scored]) -> ReviewPaper:
    return ReviewPaper(paper.key, paper.title, paper.year, list(paper.authors),
                       closeness, [evidence_of(paper, s) for s in chosen])


def paper_url(paper: Paper) -> str | None:
    """A link to the paper: its first link, else its DOI or arXiv page."""
    if paper.links:
        return paper.links[0]
    if doi := paper.ids.get("doi"):
        return f"https://doi.org/{doi}"
    if arxiv := paper.ids.get("arxiv"):
        return f"https://arxiv.org/abs/{arxiv}"
    return None


def references(papers: Iterable[Paper], bibkeys: Mapping[str, str]) -> list[Reference]:
    """The references list of the cited ``papers`` (in order of first citation)."""
    return [Reference(p.key, bibkeys[p.key], p.title, list(p.authors), p.year, p.venue,
                      dict(p.ids), paper_url(p)) for p in papers]


PARAGRAPH_PROMPT = """\
You write one paragraph of a literature review from numbered evidence sentences of \
research papers, and from nothing else: never from your own knowledge.

Rules:
1. Write 2 to 6 sentences on what the evidence says about the sub-topic: the problems, \
methods and findings, and where the papers agree or differ.
2. End every sentence with the numbers of the evidence sentences it rests on, in square \
brackets: [1] or [2, 5]. Cite only numbers from the list. Do not write a sentence you \
cannot cite.
3. Write the paragraph only: no heading, no list, no verdict. If the evidence says \
nothing about the sub-topic, write only "Not enough evidence.\""""


def paragraph_messages(topic: str, section: Section) -> list[dict[str, str]]:
    """The chat messages for a section's paragraph: the rules, then the topic, the
    sub-topic and its numbered evidence only."""
    words = f" (keywords: {', '.join(section.keywords)})" if section.keywords else ""
    user = (f"Topic of the review: {topic}\nSub-topic of this paragraph: {section.label}"
            f"{words}\n\nEvidence:\n{cite.evidence_lines(section.evidence)}\n\n"
            f"Write the paragraph; end every sentence with its citations [n] "
            f"(1 to {len(section.evidence)}).")
    return [{"role": "system", "content": PARAGRAPH_PROMPT}, {"role": "user", "content": user}]


def checked_paragraph(section: Section, text: str) -> Section:
    """``section`` with the model's paragraph ``text`` parsed and checked against its
    numbered evidence (a paragraph that declines is left empty, ``declined`` set)."""
    verdict, parsed = cite.parse_answer(text)
    sentences = cite.check(parsed, len(section.evidence))
    if cite.abstains(verdict, sentences):
        return replace(section, declined=True)
    return replace(section, paragraph=sentences,
                   precision=cite.citation_precision(sentences))


def overall_precision(sections: Iterable[Section]) -> float | None:
    """The citation precision of every paragraph together."""
    sentences: list[AnswerSentence] = [s for section in sections for s in section.paragraph]
    return cite.citation_precision(sentences)
