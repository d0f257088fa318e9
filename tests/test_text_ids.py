"""Pure helpers: identifiers, dates, authors, titles."""

from __future__ import annotations

import pytest

from paperatlas import ids
from paperatlas.text import block_keys, normalize_title, parse_date, slug, split_authors


@pytest.mark.parametrize(("text", "expected"), [
    ("2104.12255v1", ("2104.12255", "2104.12255v1")),
    ("arXiv:2104.12255", ("2104.12255", "2104.12255")),
    ("https://arxiv.org/pdf/2104.12255v2.pdf", ("2104.12255", "2104.12255v2")),
    ("hep-th/9901001v3", ("hep-th/9901001", "hep-th/9901001v3")),
    ("math.PR/0601001", ("math.PR/0601001", "math.PR/0601001")),
    ("10.48550/arXiv.2104.12255", ("2104.12255", "2104.12255")),
    ("2104.1", None),
])
def test_arxiv(text: str, expected: tuple[str, str] | None) -> None:
    assert ids.normalize_arxiv(text) == expected


def test_doi_and_others() -> None:
    assert ids.normalize_doi("https://doi.org/10.1000/ABC.") == ("10.1000/abc", "10.1000/ABC")
    assert ids.normalize_doi("doi: 10.1000/x") == ("10.1000/x", "10.1000/x")
    assert ids.normalize_doi("10.48550/arXiv.2104.12255") is None
    assert ids.normalize_pmid("PMID: 0012345") == ("12345", "0012345")
    assert ids.normalize_pmid("12a") is None
    assert ids.normalize_openalex("https://openalex.org/W2741809807") == ("W2741809807",) * 2
    assert ids.normalize_s2("CorpusId:215416146") == ("corpusid:215416146", "CorpusId:215416146")
    assert ids.recognize("12345") is None  # a bare number is not guessed
    assert ids.ids_from_links(["https://doi.org/10.1/x", "https://arxiv.org/abs/2101.00001"]) == {
        "arxiv": "2101.00001"}


@pytest.mark.parametrize(("text", "expected"), [
    ("2020", "2020"), ("2020-02-30", None), ("2021-3-4", "2021-03-04"), ("2019/12", "2019-12"),
    ("Thu, 22 Dec 2022 17:01:56 GMT", "2022-12-22"), ("Jul 3, 2024", "2024-07-03"),
    ("3 March 2021", "2021-03-03"), ("March 2021", "2021-03"), ("Jul 3", None), ("soon", None),
    ("2023-05-01T10:00:00Z", "2023-05-01"),
])
def test_parse_date(text: str, expected: str | None) -> None:
    assert parse_date(text) == expected


def test_split_authors() -> None:
    assert split_authors("A. One, B. Two and C. Three") == ["A. One", "B. Two", "C. Three"]
    assert split_authors("Smith, John and Doe, Jane") == ["Smith, John", "Doe, Jane"]
    assert split_authors("Smith, J.; Doe, A.") == ["Smith, J.", "Doe, A."]
    assert split_authors("  ") == []


def test_titles_and_slugs() -> None:
    assert normalize_title("Caf\u00e9: The $\\alpha$-Model!") == "cafe the alpha model"
    assert slug("CHIME: LLM-Assisted Hierarchical Organization") == slug("chime llm assisted hierarchical organization")
    assert slug("CHIME: LLM-Assisted Hierarchical Organization").startswith("chime-llm-assisted-")
    assert block_keys("w b c d e f") == ["p:w b c d", "s:c d e f"]
    assert block_keys("a survey of the graph methods for topic models") == [
        "p:survey graph methods topic", "s:graph methods topic models"]
    assert block_keys("the of") == ["p:the of", "s:the of"]  # all stop words: keep them
