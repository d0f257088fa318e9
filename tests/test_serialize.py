"""The one serialization rule (records/serialize.py) and the JSON of the records that use its
field metadata: what the API and ``--json`` show."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from paperatlas.follow.trending import FORMULA, Trending, TrendingPaper
from paperatlas.records.follow import Digest, Item, Pick, Subscription
from paperatlas.records.jobs import Job
from paperatlas.records.maps import MapTopic, MapView
from paperatlas.records.papers import Change, FileReport, IngestReport, Paper, Rejection, SourceInfo
from paperatlas.records.serialize import json_field, to_json
from paperatlas.search.results import SearchHit, SearchPage
from paperatlas.search.snippets import Snippet


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclass
class Inner:
    name: str
    secret: str = field(default="x", metadata=json_field(omit=True))


@dataclass
class Outer:
    json_computed: ClassVar[tuple[str, ...]] = ("size",)

    inner: Inner = field(metadata=json_field(flatten={"inner_name": "name"}))
    items: list[Inner] = field(default_factory=list,
                               metadata=json_field(key="things", last=True))
    score: float = field(default=0.0, metadata=json_field(digits=2))
    raw: float = 1.23456
    none: str | None = None

    @property
    def size(self) -> int:
        return len(self.items)


def test_plain_values() -> None:
    assert to_json({"a": (1, 2.5), 3: [True, None]}) == {"a": [1, 2.5], 3: [True, None]}
    assert to_json([Colour.RED, Level.HIGH, Path("/a/b")]) == ["red", 3, "/a/b"]
    assert to_json({3, 1, 2}) == [1, 2, 3] and to_json(frozenset({"b", "a"})) == ["a", "b"]
    assert to_json(np.array([1.23456, 2.0]), 2) == [1.23, 2.0]
    assert to_json(np.int64(7)) == 7 and type(to_json(np.int64(7))) is int
    assert to_json(1.23456, 3) == 1.235
    with pytest.raises(TypeError, match="object"):
        to_json(object())


def test_field_metadata_and_computed() -> None:
    out = to_json(Outer(Inner("in", "hidden"), [Inner("a")], score=1.23456))
    assert out == {"inner_name": "in", "things": [{"name": "a"}], "score": 1.23,
                   "raw": 1.23456, "none": None, "size": 1}
    assert list(out) == ["inner_name", "score", "raw", "none", "size", "things"]
    assert json.loads(json.dumps(out)) == out


def test_paper_json_names_it_by_key() -> None:
    source = SourceInfo("f.csv", "csv", 2, 1, None, "2024-01-01", "abc", {"listed_on": "x"})
    paper = Paper(7, "k", "T", "A", ["Ann"], "2024", 2024, None, ["cs.LG"], [],
                  {"doi": "10.1/x"}, ["c"], [source], created_at="2024-01-02")
    assert to_json(paper) == {
        "key": "k", "title": "T", "abstract": "A", "authors": ["Ann"], "date": "2024",
        "year": 2024, "venue": None, "categories": ["cs.LG"], "links": [],
        "ids": {"doi": "10.1/x"}, "collections": ["c"],
        "sources": [{"path": "f.csv", "format": "csv", "line": 2, "entry": 1,
                     "source_key": None, "ingested_at": "2024-01-01"}]}


def test_ingest_report_totals_good_files() -> None:
    good = FileReport("a.csv", "csv", None, records=3, added=2, merged=1, rejected=1,
                      rejections=[Rejection("a.csv", 4, 3, "no title")],
                      rejected_by_reason={"no title": 1},
                      changes=[Change("added", "k", "T", 2, "new")])
    bad = FileReport("b.csv", records=9, added=9, error="unreadable", error_line=1)
    out = to_json(IngestReport(5, False, [good, bad]))
    assert list(out)[-1] == "files"  # after the totals
    assert {k: v for k, v in out.items() if k != "files"} == {
        "run_id": 5, "dry_run": False, "records": 3, "added": 2, "merged": 1, "skipped": 0,
        "rejected": 1, "failed_files": 1}
    assert out["files"][0]["rejections"] == [{"line": 4, "entry": 3, "reason": "no title"}]
    assert out["files"][0]["changes"] == [
        {"action": "added", "key": "k", "title": "T", "line": 2, "rule": "new"}]
    assert out["files"][1]["error"] == "unreadable" and "ok" not in out["files"][1]


def test_job_subscription_and_digest() -> None:
    assert to_json(Job(1, "index", "done", {}, "t"))["finished"] is True
    sub = Subscription(4, "a@example.org", None, "daily", "t", items=[Item("search", "q")])
    assert to_json(sub)["confirmed"] is False
    assert to_json(sub)["items"] == [{"kind": "search", "value": "q", "mode": ""}]
    pick = Pick(1, "k", "T", "A", ["Ann"], 0.5, "search 'q'")
    assert to_json(Digest(sub, "2024-01-01T00:00", 3, [pick])) == {
        "subscription": 4, "email": "a@example.org", "since": "2024-01-01T00:00",
        "considered": 3, "papers": [{"paper_id": 1, "key": "k", "title": "T",
                                     "abstract": "A", "authors": ["Ann"], "score": 0.5,
                                     "reason": "search 'q'"}]}


def test_map_view_is_columnar_and_rounded() -> None:
    view = MapView("pca", "m", None, "t", 3, ["a", "b"], ["A", "B"],
                   np.array([0.123456, 1.0]), np.array([2.0, -0.333333]),
                   np.array([0, -1]), [MapTopic(1, "Topic", "topic", 1)])
    assert to_json(view) == {
        "method": "pca", "model": "m", "collection": None, "tree": "t", "papers": 3,
        "keys": ["a", "b"], "titles": ["A", "B"], "x": [0.1235, 1.0], "y": [2.0, -0.3333],
        "topic": [0, -1], "topics": [{"id": 1, "label": "Topic", "kind": "topic", "size": 1}],
        "count": 2}
    assert list(to_json(view)) == ["method", "model", "collection", "tree", "papers", "topics",
                                   "count", "keys", "titles", "x", "y", "topic"]


def test_search_page_and_trending() -> None:
    hit = SearchHit(1, "k", "T", 0.5, 2024, ["Ann"], Snippet("text", [(0, 4)]))
    page = to_json(SearchPage("q", "lexical", 1, 0, 10, [hit], pending=2))
    assert list(page) == ["query", "mode", "total", "offset", "limit", "pending", "matched",
                          "weak", "strength", "suggestion", "results"]
    assert page == {"query": "q", "mode": "lexical", "total": 1, "offset": 0, "limit": 10,
                    "results": [{"rank": 1, "key": "k", "title": "T", "score": 0.5,
                                 "year": 2024, "authors": ["Ann"], "snippet": "text",
                                 "highlights": [[0, 4]]}], "pending": 2, "matched": None,
                    "weak": False, "strength": None, "suggestion": None}
    paper = Paper(1, "k", "T", "", ["Ann"], "2024-01-01", 2024, None, [], [])
    trending = Trending("week", "s", "n", papers=[
        TrendingPaper(paper, 0.123456789012, 2, 3, 10.456, "v")])
    assert to_json(trending) == {
        "window": "week", "since": "s", "now": "n", "collection": None, "tree": None,
        "node": None, "formula": FORMULA,
        "papers": [{"key": "k", "title": "T", "authors": ["Ann"], "date": "2024-01-01",
                    "score": 0.12345679, "votes": 2, "total_votes": 3, "age_hours": 10.46,
                    "last_vote": "v"}]}
    assert FORMULA == "votes / (age_hours + 2) ** 1.8"
