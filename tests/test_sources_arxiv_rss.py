"""The arXiv announcement RSS source and parser, replayed from a stand-in server: one
conditional request a run (ETag), new/cross/replace items, a replaced paper merging into
the paper it is, faults."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperatlas import Library
from paperatlas.records.sources import SourceSpec
from paperatlas.sources import Politeness, SourceSettings
from standin import Reply, Seen, StandIn, paced, source_library

FOLDER = "data/formats/arxiv-rss"
NOW = datetime(2026, 4, 27, 6, 0, tzinfo=UTC)
FAST = SourceSettings(politeness=Politeness(pace=0.02, backoff=1.0, retries=3))
#: A cross-list and a replacement, in the live feed's layout (the recorded files hold
#: "new" items only).
EXTRA = """    <item>
      <title>Shared Lexical Task Representations Explain Behavioral Variability In LLMs</title>
      <link>https://arxiv.org/abs/2604.22027</link>
      <description>arXiv:2604.22027v2 Announce Type: replace
Abstract: A revised abstract.</description>
      <guid isPermaLink="false">oai:arXiv.org:2604.22027v2</guid>
      <category>cs.CL</category>
      <pubDate>Tue, 28 Apr 2026 00:00:00 -0400</pubDate>
      <arxiv:announce_type>replace</arxiv:announce_type>
      <dc:creator>Zhuonan Yang, Ellie Pavlick</dc:creator>
    </item>
    <item>
      <title>A Cross-listed Paper on Graphs</title>
      <link>https://arxiv.org/abs/2604.29999</link>
      <description>arXiv:2604.29999v1 Announce Type: cross
Abstract: Graphs, cross-listed.</description>
      <guid isPermaLink="false">oai:arXiv.org:2604.29999v1</guid>
      <category>cs.LG</category>
      <category>cs.CL</category>
      <pubDate>Tue, 28 Apr 2026 00:00:00 -0400</pubDate>
      <arxiv:announce_type>cross</arxiv:announce_type>
      <dc:creator>Ann Author and Bob Writer</dc:creator>
    </item>
"""


@pytest.fixture
def feeds(shared: Path) -> dict[str, bytes]:
    folder = shared / FOLDER
    return {cat: (folder / f"rss_arxiv_{cat}_2026-04-27_3items.xml").read_bytes()
            for cat in ("cs.AI", "cs.CL", "cs.LG")}


def open_lib(path: Path, server: StandIn, category: str = "cs.CL") -> Library:
    spec = SourceSpec(name="cl", kind="arxiv-rss", category=category, base_url=server.base_url)
    return source_library(path, spec, NOW)


def count(lib: Library, sql: str = "SELECT COUNT(*) FROM papers") -> int:
    return int(lib.store.conn.execute(sql).fetchone()[0])


def test_todays_feed_with_etag_then_304(tmp_path: Path, server: StandIn,
                                        feeds: dict[str, bytes]) -> None:
    def answer(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(b"", 304)
        return Reply(feeds["cs.CL"], headers={"ETag": '"v1"',
                                              "Content-Type": "application/rss+xml"})

    server.route("/rss/cs.CL", answer)
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert first.ok and first.added == 3 and first.pages == 1
        paper = lib.papers["2604.22027"]
        assert paper.title.startswith("Shared Lexical Task") and len(paper.authors) == 8
        assert paper.abstract.startswith("One of the most common complaints")
        assert "Announce Type" not in paper.abstract and paper.date == "2026-04-27"
        assert paper.categories == ["cs.CL", "cs.AI", "cs.LG"]
        assert lib.sources["cl"].cursor == {"etag": '"v1"'}
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.pages == 0 and second.added == 0
    assert [s.headers.get("if-none-match") for s in server.seen()] == [None, '"v1"']


def test_replace_merges_and_cross_adds(tmp_path: Path, server: StandIn,
                                       feeds: dict[str, bytes]) -> None:
    day2 = feeds["cs.CL"].replace(b"    </channel>", EXTRA.encode() + b"    </channel>")
    server.route("/rss/cs.CL", Reply(feeds["cs.CL"]), Reply(day2))
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.added == 1 and second.records == 5
        assert count(lib) == 4  # the replacement merged into its paper
        replaced = lib.papers["2604.22027"]
        assert replaced.abstract == "A revised abstract."  # v2 revises v1's text
        assert replaced.authors == ["Zhuonan Yang", "Ellie Pavlick"]
        [kept] = lib.store.signals.of([replaced.id]).values()
        assert kept["arxiv-rss"] == {"announce_type": "replace", "version": 2}
        [first] = lib.sources.sync(settings=FAST)  # the same v2 again: nothing changes
        assert first.added == 0 and count(lib) == 4
        signals = lib.store.signals.of([lib.papers["2604.29999"].id])
        assert next(iter(signals.values()))["arxiv-rss"]["announce_type"] == "cross"
        assert lib.papers["2604.29999"].authors == ["Ann Author", "Bob Writer"]


def test_several_categories_in_one_feed(tmp_path: Path, server: StandIn,
                                        feeds: dict[str, bytes]) -> None:
    server.route("/rss/cs.AI+cs.LG", Reply(feeds["cs.AI"]))
    with open_lib(tmp_path / "a.db", server, category="cs.AI cs.LG") as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.added == 3


def test_faults_leave_the_cursor_and_a_rerun_completes(tmp_path: Path, server: StandIn,
                                                       feeds: dict[str, bytes]) -> None:
    cut = feeds["cs.CL"][:-500]  # ends inside an item: malformed XML
    server.route("/rss/cs.CL", Reply(b"busy", 503, {"Retry-After": "1"}), Reply(cut),
                 Reply(feeds["cs.CL"], headers={"ETag": '"v2"'}))
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "malformed XML" in (first.error or "")
        assert count(lib) == 0 and lib.sources["cl"].cursor == {}
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.added == 3 and lib.sources["cl"].cursor == {"etag": '"v2"'}
    times = [s.at for s in server.seen()]
    assert times[1] - times[0] >= 1 * 0.02  # Retry-After, scaled like every wait


def test_a_saved_feed_ingests_like_a_fetched_one(tmp_path: Path, server: StandIn,
                                                 shared: Path,
                                                 feeds: dict[str, bytes]) -> None:
    server.route("/rss/cs.CL", Reply(feeds["cs.CL"]))
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
        fetched = sorted((p.key, p.title, p.abstract) for p in lib.papers())
    with Library(tmp_path / "b.db", embedding_model=None) as lib:
        report = lib.ingest([shared / FOLDER / "rss_arxiv_cs.CL_2026-04-27_3items.xml"])
        assert report.files[0].format == "arxiv-rss"
        assert sorted((p.key, p.title, p.abstract) for p in lib.papers()) == fetched


def test_a_category_is_needed(tmp_path: Path) -> None:
    from paperatlas.errors import InvalidOptionError

    with Library(tmp_path / "a.db", embedding_model=None) as lib, pytest.raises(
            InvalidOptionError, match="category"):
        lib.sources.add(SourceSpec(name="x", kind="arxiv-rss"))


def test_a_day_without_announcements_then_last_modified(tmp_path: Path, server: StandIn,
                                                        feeds: dict[str, bytes]) -> None:
    """A weekend's feed has its channel and no items; Last-Modified is kept and sent."""
    body = feeds["cs.CL"]
    empty = body[:body.index(b"<item>")] + body[body.rindex(b"</item>") + 7:]
    stamp = "Sun, 26 Apr 2026 04:00:00 GMT"

    def answer(seen: Seen) -> Reply:
        if seen.headers.get("if-modified-since") == stamp:
            return Reply(b"", 304)
        return Reply(empty, headers={"Last-Modified": stamp})

    server.route("/rss/cs.CL", answer)
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert first.ok and first.pages == 1 and first.records == 0 and count(lib) == 0
        assert lib.sources["cl"].cursor == {"modified": stamp}
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.pages == 0
    assert [s.headers.get("if-modified-since") for s in server.seen()] == [None, stamp]


def test_two_feeds_keep_arxivs_pace(tmp_path: Path, server: StandIn,
                                    feeds: dict[str, bytes]) -> None:
    server.route("/rss/cs.CL", Reply(feeds["cs.CL"]))
    server.route("/rss/cs.LG", Reply(feeds["cs.LG"]))
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.add(SourceSpec(name="lg", kind="arxiv-rss", category="cs.LG",
                                   base_url=server.base_url))
        reports = lib.sources.sync(settings=FAST)
        assert [r.added for r in reports] == [3, 3]
    assert len(server.seen()) == 2 and paced((s.at for s in server.seen()), 3.0 * 0.02)
