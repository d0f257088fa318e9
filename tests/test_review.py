"""Issue 19, point 4: a literature review of a topic (``lib.review``, ``paperatlas
review``) on a real small library with a topic tree, its Markdown/HTML documents, and the
BibTeX export of its cited papers (with a round trip through the BibTeX importer)."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llm_standin import Chat, ChatStandIn, evidence_of
from paperatlas import Library
from paperatlas.chat import LLMError, LLMSettings
from paperatlas.cli import main
from paperatlas.cli.state import State
from paperatlas.errors import InvalidOptionError, OutOfRangeError, PreconditionError
from paperatlas.organize.edit_types import Rename
from paperatlas.organize.export import node_sizes, ordered_children
from paperatlas.records.review import Review
from paperatlas.records.trees import UNSORTED, Tree
from paperatlas.search.splitter import split_sentences
from test_semantic import HashingEmbedder
from test_tree import VOCAB

from conftest import dump

SCRIPT = "<script>alert('x')</script> Coral & reef {survey} 100% of_all"
VENUES = ["Journal of Marine Science", "Proceedings of the Conference on Graphs", None]


def paper_rows(topic: str, n: int, rng: random.Random) -> list[dict[str, object]]:
    """``n`` papers of one topic: abstracts of three sentences of the topic's words."""
    words = VOCAB[topic].split()
    rows: list[dict[str, object]] = []
    for i in range(n):
        sentences = [" ".join(rng.sample(words, 9)).capitalize() + "." for _ in range(3)]
        row: dict[str, object] = {
            "id": f"{topic}-{i}", "title": f"{' '.join(rng.sample(words, 4))} {topic} {i}",
            "abstract": " ".join(sentences), "year": 2000 + i % 20,
            "authors": [f"Ann {topic.capitalize()}{i}", "Bo Li"], "venue": VENUES[i % 3]}
        if i % 3 == 0:
            row["doi"] = f"10.1234/{topic}.{i}"
        if i % 3 == 2:
            row["arxiv"] = f"2401.{10000 + len(topic) * 100 + i}"
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rlib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """Three topics of 30 papers, one titled with markup, indexed, and a tree "t"."""
    folder = tmp_path_factory.mktemp("review")
    rng = random.Random(7)
    rows = paper_rows("protein", 30, rng) + paper_rows("graph", 30, rng) + \
        paper_rows("ocean", 30, rng)
    rows[60]["title"] = SCRIPT
    lib = Library(folder / "r.db", embedding_model=HashingEmbedder("hash-128", 128))
    lib.ingest([write_jsonl(folder / "in" / "papers.jsonl", rows)], index=True)
    lib.trees.build("t", min_size=4, max_depth=2)
    yield lib
    lib.close()


def tree_of(lib: Library) -> Tree:
    return lib.trees.get("t")


def first_level(tree: Tree) -> list[int]:
    kids = ordered_children(tree, node_sizes(tree))[tree.root]
    return [c for c in kids if tree.nodes[c].kind != UNSORTED]


def check_quotes(lib: Library, tree: Tree, review: Review) -> None:
    """Every quoted sentence is the stored sentence of its paper, the paper is in its
    section's subtree, and the references are the cited papers, each once."""
    cited: list[str] = []
    for section in review.sections:
        allowed = tree.subtree_papers(section.id)
        assert section.papers and section.evidence
        assert sorted(section.evidence, key=lambda e: (e.key, e.sentence)) == sorted(
            (e for p in section.papers for e in p.evidence), key=lambda e: (e.key, e.sentence))
        for paper in section.papers:
            stored = lib.papers[paper.key]
            assert stored.id in allowed and paper.title == stored.title
            sentences = split_sentences(stored.abstract)
            for e in paper.evidence:
                assert e.key == paper.key and sentences[e.sentence] == e.text
                assert e.text in stored.abstract
            cited.append(paper.key)
    assert [r.key for r in review.references] == list(dict.fromkeys(cited))
    assert len({r.bibkey for r in review.references}) == len(review.references)


def test_review_of_the_whole_tree_has_a_section_per_first_level_topic(rlib: Library) -> None:
    tree = tree_of(rlib)
    review = rlib.review(f"t:{tree.root}", papers_per_section=2, sentences_per_paper=2)
    assert review.tree == "t" and review.label == "t" and review.size == 90
    kids = first_level(tree)
    assert len(kids) >= 3
    assert [s.id for s in review.sections] == kids[:8]
    sizes = node_sizes(tree)
    for section in review.sections:
        node = tree.nodes[section.id]
        assert (section.label, section.size, section.keywords) == (
            node.label, sizes[node.id], node.keywords)
        assert section.question.startswith(node.label)
        assert len(section.papers) == 2 and all(len(p.evidence) == 2 for p in section.papers)
        assert section.papers[0].key == rlib.store.papers.texts(
            [node.representative[0]])[node.representative[0]][0]  # closest to the centroid
    check_quotes(rlib, tree, review)
    assert rlib.review(f"t:{tree.root}", sections_max=2).omitted == len(kids) - 2


def test_review_of_a_topic_and_of_a_leaf(rlib: Library) -> None:
    tree = tree_of(rlib)
    top = next(c for c in first_level(tree) if not tree.is_leaf(c))
    review = rlib.review(f"t:{top}")
    kids = [c for c in ordered_children(tree, node_sizes(tree))[top]]
    assert [s.id for s in review.sections] == kids[:8]
    assert review.label == tree.nodes[top].label and review.keywords == tree.nodes[top].keywords
    check_quotes(rlib, tree, review)
    leaf = kids[0]
    review = rlib.review(f"t:{leaf}", papers_per_section=4, sentences_per_paper=1)
    assert [s.id for s in review.sections] == [leaf] and review.omitted == 0
    assert review.path == [tree.nodes[top].label]
    assert len(review.sections[0].papers) == min(4, len(tree.subtree_papers(leaf)))
    assert all(len(p.evidence) == 1 for p in review.sections[0].papers)
    check_quotes(rlib, tree, review)


def test_sections_prefer_papers_not_cited_yet(rlib: Library) -> None:
    tree = tree_of(rlib)
    review = rlib.review(f"t:{tree.root}", papers_per_section=5)
    keys = [p.key for s in review.sections for p in s.papers]
    assert len(keys) == len(set(keys))


def test_unknown_nodes_and_bad_sizes_name_the_valid_ones(rlib: Library) -> None:
    tree = tree_of(rlib)
    with pytest.raises(InvalidOptionError, match=rf"topic of tree 't'.*t:{tree.root} \(the whole tree\)"):
        rlib.review("t:9999")
    first = first_level(tree)[0]
    with pytest.raises(InvalidOptionError, match=rf"t:{first} \("):
        rlib.review("t:9999")
    with pytest.raises(InvalidOptionError, match=r"valid values are: t$"):
        rlib.review("nope:1")
    with pytest.raises(InvalidOptionError, match="TREE:ID"):
        rlib.review("t")
    with pytest.raises(OutOfRangeError, match="papers per section"):
        rlib.review(f"t:{tree.root}", papers_per_section=0)
    with pytest.raises(InvalidOptionError, match="markdown, html, json"):
        rlib.review.render(rlib.review(f"t:{tree.root}"), "pdf")


def test_review_reads_only(rlib: Library) -> None:
    before = dump(rlib)
    rlib.review(f"t:{tree_of(rlib).root}")
    assert dump(rlib) == before


def test_review_needs_an_embedding_model(tmp_path: Path) -> None:
    lib = Library(tmp_path / "plain.db", embedding_model=None)
    with pytest.raises(PreconditionError, match="embedding model"):
        lib.review("t:0")
    lib.close()


def script_leaf(lib: Library) -> int:
    tree = tree_of(lib)
    pid = lib.papers.resolve("ocean-0")
    return next(n for n in tree.paper_nodes()[pid] if tree.is_leaf(n))


def test_markdown_and_html_documents(rlib: Library) -> None:
    leaf = script_leaf(rlib)
    review = rlib.review(f"t:{leaf}", papers_per_section=20)
    assert "ocean-0" in [r.key for r in review.references]
    markdown = rlib.review.render(review, "markdown")
    assert markdown.startswith(f"# {review.label}\n")
    assert markdown.count("\n## ") == 3  # outline, the one section, references
    e = review.sections[0].papers[0].evidence[0]
    assert f"\u201c{e.text}\u201d [{e.key}]" in markdown.replace("\\_", "_")
    assert "\\<script\\>" in markdown and "<script>" not in markdown
    for ref in review.references:
        assert f"- [{ref.bibkey}] " in markdown.replace("\\_", "_")
    page = rlib.review.render(review, "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "http" not in page.replace('href="https://doi.org/', "").replace(
        'href="https://arxiv.org/', "").split("<h2>References</h2>")[0]  # no assets
    assert f"<section id=\"s{leaf}\">" in page and page.count("<blockquote>") == sum(
        len(p.evidence) for p in review.sections[0].papers)
    data = json.loads(rlib.review.render(review, "json"))
    assert data["sections"][0]["papers"][0]["evidence"][0]["text"] == \
        review.sections[0].papers[0].evidence[0].text


def test_labels_are_escaped_too(rlib: Library) -> None:
    tree = tree_of(rlib)
    leaf = script_leaf(rlib)
    old = tree.nodes[leaf].label
    rlib.trees.edit("t", Rename(leaf, "<b>bold</b> & co"))
    try:
        review = rlib.review(f"t:{leaf}")
        assert "<b>" not in rlib.review.render(review, "html")
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in rlib.review.render(review, "html")
        assert "# \\<b\\>bold\\</b\\> & co" in rlib.review.render(review, "markdown")
    finally:
        rlib.trees.edit("t", Rename(leaf, old))


def test_bibtex_of_a_review_reads_back_the_same(rlib: Library, tmp_path: Path) -> None:
    tree = tree_of(rlib)
    review = rlib.review(f"t:{tree.root}", papers_per_section=4)
    review = Review(**{**review.__dict__, "references": review.references + [
        r for r in rlib.review(f"t:{script_leaf(rlib)}", papers_per_section=20).references
        if r.key not in {x.key for x in review.references}]})
    out = io.StringIO()
    n = rlib.review.bibtex(review, out)
    assert n == len(review.references) and out.getvalue().count("\n@") == n - 1
    path = tmp_path / "cited.bib"
    path.write_text(out.getvalue(), encoding="utf-8")
    back = Library(tmp_path / "back.db", embedding_model=None)
    report = back.ingest([path])
    assert report.added == n and report.rejected == 0
    for ref in review.references:
        want, got = rlib.papers[ref.key], back.papers[ref.bibkey]
        assert (got.title, got.authors, got.year, got.ids.get("doi"), got.ids.get("arxiv"),
                got.venue, got.abstract) == (want.title, want.authors, want.year,
                                             want.ids.get("doi"), want.ids.get("arxiv"),
                                             want.venue, want.abstract)
    assert SCRIPT in [back.papers[r.bibkey].title for r in review.references]
    back.close()


@pytest.fixture
def cli(rlib: Library, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI on ``rlib``'s file, opened with the hashing embedder (and left open)."""
    for name, value in (("library", lambda self: rlib), ("close", lambda self: None)):
        monkeypatch.setattr(State, name, value)
    return rlib.path


def test_cli_review(cli: Path, rlib: Library, tmp_path: Path) -> None:
    run = CliRunner().invoke
    top = f"t:{tree_of(rlib).root}"
    r = run(main, ["--db", str(cli), "review", top, "--papers", "1"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("# t\n") and "## References" in r.output
    page, bib = tmp_path / "r.html", tmp_path / "r.bib"
    r = run(main, ["--db", str(cli), "review", top, "--format", "html", "--out", str(page),
                   "--bibtex", str(bib), "--sections", "2"])
    assert r.exit_code == 0, r.output
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"wrote {bib.read_text().count('@')} BibTeX entries" in r.output
    assert not list(tmp_path.glob("*.part"))
    r = run(main, ["--db", str(cli), "review", top, "--format", "json", "--sentences", "1"])
    assert r.exit_code == 0 and json.loads(r.output)["node"] == tree_of(rlib).root
    r = run(main, ["--db", str(cli), "review", "t:9999"])
    assert r.exit_code == 1 and f"valid values are: {top} (the whole tree)" in r.output
    r = run(main, ["--db", str(cli), "review", top, "--format", "pdf"])
    assert r.exit_code == 2
    r = run(main, ["--db", str(cli), "review", top, "--papers", "0"])
    assert r.exit_code == 2
    r = run(main, ["--db", str(cli), "export", "--format", "bibtex", "-o", str(bib)])
    assert r.exit_code == 0, r.output
    assert bib.read_text().count("\n@") == 89 and "exported 90 papers" in r.output


def test_write_bibtex_escapes_types_and_keys_and_reads_back(tmp_path: Path) -> None:
    from paperatlas.export import bibtex_keys, write_bibtex
    from paperatlas.records.papers import Paper

    def paper(key: str, title: str, authors: list[str], **kw: object) -> Paper:
        fields: dict[str, object] = {"abstract": "", "date": None, "year": None, "venue": None,
                                     "categories": [], "links": [], "ids": {}}
        fields.update(kw)
        return Paper(id=0, key=key, title=title, authors=authors, **fields)  # type: ignore[arg-type]

    papers = [
        paper("2401.00001", "Braces {unbalanced and 50% of A&B cost $5 #1 ~x a_b \\alpha",
              ["Émile Zola", "Barnes and Noble", "Smith, Jr."], year=2024, date="2024-03-05",
              ids={"arxiv": "2401.00001"}, categories=["cs.CL"],
              abstract="We test } braces. Weird: \\textbf{x}."),
        paper("10.1000/x y", "A journal paper", ["Ann Lee"], year=1999,
              venue="Nature Physics", ids={"doi": "10.1000/abc_{1}"}, links=["https://x.org/a%20b"]),
        paper("10.1000/x:y", "Proceedings paper", ["Bo Li"], year=2020,
              venue="Proceedings of the 1st Workshop on Things"),
        paper("10.1000/x-y", "No venue at all", []),
    ]
    keys = bibtex_keys(p.key for p in papers)
    assert keys == {"2401.00001": "2401.00001", "10.1000/x y": "10.1000/x-y",
                    "10.1000/x:y": "10.1000/x:y", "10.1000/x-y": "10.1000/x-y-2"}
    out = io.StringIO()
    assert write_bibtex(papers, out) == 4
    text = out.getvalue()
    assert text.startswith("@misc{2401.00001,\n") and "archivePrefix = {arXiv}" in text
    assert "eprint = {2401.00001}" in text and "primaryClass = {cs.CL}" in text
    assert "month = {mar}" in text
    assert "@article{10.1000/x-y,\n" in text and "journal = {Nature Physics}" in text
    assert "@inproceedings{10.1000/x:y,\n" in text and "booktitle = {Proceedings" in text
    assert "@misc{10.1000/x-y-2,\n" in text
    assert r"$\lbrace$unbalanced and 50\% of A\&B cost \$5 \#1 \textasciitilde{}x a\_b" in text
    assert "author = {Émile Zola and {Barnes and Noble} and {Smith, Jr.}}" in text
    assert "doi = {10.1000/abc_%7B1%7D}" in text and "url = {https://x.org/a%20b}" in text
    assert text.count("{") == text.count("}")
    path = tmp_path / "x.bib"
    path.write_text(text, encoding="utf-8")
    back = Library(tmp_path / "b.db", embedding_model=None)
    assert back.ingest([path]).added == 4
    for p in papers:
        got = back.papers[keys[p.key]]
        assert (got.title, got.authors, got.year, got.venue, got.abstract) == (
            p.title, p.authors, p.year, p.venue, p.abstract)
        assert got.ids.get("arxiv") == p.ids.get("arxiv")
    assert back.papers["10.1000/x-y"].ids["doi"] == "10.1000/abc_%7B1%7D"
    back.close()


def fabricating(request: dict[str, Any]) -> Chat:
    """A model that writes a cited sentence, one citing evidence it was not given, and
    one citing nothing (or declines when a section's prompt names "decline")."""
    if "decline" in request["messages"][-1]["content"]:
        return Chat("Not enough evidence.")
    n = len(evidence_of(request))
    return Chat(f"The papers agree on the first points [1, {n}]. A claim no paper makes "
                f"[{n + 90}]. And a sentence with no citation at all.")


@pytest.fixture
def chat(chat: ChatStandIn) -> ChatStandIn:
    """conftest's chat stand-in, answering with :func:`fabricating`."""
    chat.answer = fabricating
    return chat


def test_llm_paragraphs_are_checked_and_a_fabricated_citation_is_flagged(
        rlib: Library, chat: ChatStandIn) -> None:
    tree = tree_of(rlib)
    llm = LLMSettings(chat.base, "stand-in", api_key="k")
    review = rlib.review(f"t:{tree.root}", llm=llm)
    assert review.model == "stand-in" and len(chat.requests) == len(review.sections)
    for section, request in zip(review.sections, chat.requests, strict=True):
        given = evidence_of(request)  # the section's own evidence, numbered, and no other
        assert [(key, text) for _, key, text in given] == [
            (e.key, e.text) for e in section.evidence]
        assert section.label in request["messages"][-1]["content"]
        statuses = [s.status for s in section.paragraph]
        assert statuses == ["cited", "miscited", "uncited"]
        assert section.paragraph[0].citations == [1, len(section.evidence)]
        assert section.paragraph[1].invalid == [len(section.evidence) + 90]
        assert section.precision == pytest.approx(2 / 3) and not section.declined
    assert review.precision == pytest.approx(2 / 3)
    markdown = rlib.review.render(review, "markdown")
    first = review.sections[0]
    keys = " ".join(dict.fromkeys(f"[{first.evidence[n - 1].key}]" for n in
                                  first.paragraph[0].citations))
    assert f"The papers agree on the first points. {keys}".replace("_", "\\_") in markdown
    assert f"**(unverified: cites [{len(first.evidence) + 90}], which the model was not " \
           "given)**" in markdown.replace("\\[", "[").replace("\\]", "]")
    assert "**(unverified: cites no evidence)**" in markdown
    assert "Overall citation precision: 0.67 (paragraphs by stand-in)" in markdown
    page = rlib.review.render(review, "html")
    assert page.count('<span class="flag">(unverified:') == 2 * len(review.sections)
    assert chat.headers[0]["Authorization"] == "Bearer k"


def test_llm_decline_and_endpoint_errors(rlib: Library, chat: ChatStandIn) -> None:
    tree = tree_of(rlib)
    leaf = script_leaf(rlib)
    old = tree.nodes[leaf].label
    rlib.trees.edit("t", Rename(leaf, "please decline"))
    try:
        review = rlib.review(f"t:{leaf}", llm=LLMSettings(chat.base, "m"))
    finally:
        rlib.trees.edit("t", Rename(leaf, old))
    section = review.sections[0]
    assert section.declined and section.paragraph == [] and section.precision is None
    assert review.precision is None and section.evidence  # the evidence stays
    assert "*The model found this evidence not enough" in rlib.review.render(review)
    chat.answer = lambda request: Chat(status=500, body="model crashed")
    with pytest.raises(LLMError, match="HTTP 500: model crashed"):
        rlib.review(f"t:{leaf}", llm=LLMSettings(chat.base, "m"))
    chat.answer = lambda request: Chat("late [1].", delay=3)
    with pytest.raises(LLMError, match="timed out"):
        rlib.review(f"t:{leaf}", llm=LLMSettings(chat.base, "m", timeout=0.3))
    with pytest.raises(InvalidOptionError, match="LLM URL"):
        rlib.review(f"t:{leaf}", llm=LLMSettings("ftp://x", "m"))


def test_cli_review_with_an_llm(cli: Path, rlib: Library, chat: ChatStandIn) -> None:
    run = CliRunner().invoke
    top = f"t:{tree_of(rlib).root}"
    r = run(main, ["--db", str(cli), "review", top, "--llm-url", chat.base,
                   "--llm-model", "stand-in", "--sections", "2"])
    assert r.exit_code == 0, r.output
    assert "Overall citation precision: 0.67 (paragraphs by stand-in)" in r.output
    assert len(chat.requests) == 2
    r = run(main, ["--db", str(cli), "review", top, "--llm-url", chat.base])
    assert r.exit_code == 2 and "needs both an endpoint and a model name" in r.output
    r = run(main, ["--db", str(cli), "review", top, "--llm-url", chat.base,
                   "--llm-model", "stand-in", "--llm-key", "k2", "--sections", "1",
                   "--no-llm"])
    assert r.exit_code == 0 and len(chat.requests) == 2  # --no-llm: no model asked
    r = run(main, ["--db", str(cli), "review", top, "--llm-url", chat.base,
                   "--llm-model", "stand-in", "--llm-key", "k2", "--sections", "1"])
    assert r.exit_code == 0 and chat.headers[-1]["Authorization"] == "Bearer k2"
    chat.answer = lambda request: Chat(status=503, body="busy")
    r = run(main, ["--db", str(cli), "review", top, "--llm-url", chat.base,
                   "--llm-model", "m"])
    assert r.exit_code == 1 and "HTTP 503: busy" in r.output and chat.base in r.output
