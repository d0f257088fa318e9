"""Sync throughput per source kind, from a local stand-in server with the politeness waits
switched off (issue 17): records/s through fetch + parse + dedup + write.

Usage:  .venv/bin/python bench/sync_bench.py [--records 5000] [--kinds arxiv,hf-daily,...]
            [--out sync_bench.json]

Each kind's stand-in answers are built in that API's real format (the shapes of the
recorded answers in ../shared/data/formats) around real texts: SciFact and CSFCube titles
and abstracts, each paper once, with new identifiers. The library is new for each kind;
``Politeness(pace=0)`` removes every wait between requests (the client's other work
stays). Also reported: the same pages ingested as saved files (``paperatlas ingest``'s
path, no HTTP), so the HTTP share is visible.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from paperatlas import Library  # noqa: E402
from paperatlas.records.sources import SourceSpec  # noqa: E402
from paperatlas.sources import Politeness, SourceSettings  # noqa: E402
from standin import Reply, Seen, StandIn, standin  # noqa: E402

SHARED = HERE.parent.parent / "shared" / "data"
NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
NAMES = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Claude Shannon", "Barbara Liskov",
         "Donald Knuth", "Frances Allen", "Edsger Dijkstra", "Karen Sparck Jones"]


@dataclass(frozen=True)
class Paper:
    n: int
    title: str
    abstract: str

    @property
    def arxiv(self) -> str:
        return f"2612.{self.n:05d}"

    @property
    def doi(self) -> str:
        return f"10.5555/bench.{self.n}"

    @property
    def authors(self) -> list[str]:
        return [NAMES[(self.n + i) % len(NAMES)] for i in range(3)]


def corpus(count: int) -> list[Paper]:
    """``count`` real papers of distinct titles (CSFCube, then SciFact)."""
    out, seen = [], set()
    for path in (SHARED / "csfcube" / "corpus.jsonl", SHARED / "scifact" / "corpus.jsonl"):
        for line in path.open(encoding="utf-8"):
            d = json.loads(line)
            key = d["title"].strip().lower()
            if key and key not in seen and d.get("text"):
                seen.add(key)
                out.append(Paper(len(out), d["title"].strip(), d["text"].strip()))
    if len(out) < count:
        raise SystemExit(f"only {len(out)} distinct papers in the corpora; ask fewer")
    return out[:count]


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- one replay per kind: (routes on the stand-in, the source spec) ---------------------
def arxiv(server: StandIn, papers: list[Paper]) -> SourceSpec:
    def entry(p: Paper) -> str:
        authors = "".join(f"<author><name>{esc(a)}</name></author>" for a in p.authors)
        return (f"<entry><id>http://arxiv.org/abs/{p.arxiv}v1</id>"
                f"<updated>2026-12-01T10:00:00Z</updated>"
                f"<published>2026-12-01T10:00:00Z</published><title>{esc(p.title)}</title>"
                f"<summary>{esc(p.abstract)}</summary>{authors}"
                f'<arxiv:primary_category term="cs.CL"/><category term="cs.CL"/></entry>')

    def answer(seen: Seen) -> Reply:
        start, size = int(seen.arg("start") or 0), int(seen.arg("max_results") or 10)
        body = ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
                ' xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
                ' xmlns:arxiv="http://arxiv.org/schemas/atom"><id>https://arxiv.org/api/x</id>'
                f"<opensearch:totalResults>{len(papers)}</opensearch:totalResults>"
                + "".join(entry(p) for p in papers[start:start + size]) + "</feed>")
        return Reply(body.encode())

    server.route("/api/query", answer)
    return SourceSpec(name="arxiv", kind="arxiv", query="bench", since="2026-11-01",
                      base_url=server.base_url)


def hf_daily(server: StandIn, papers: list[Paper]) -> SourceSpec:
    """50 papers a day, the days before NOW."""
    per_day, first = 50, NOW.date() - timedelta(days=len(papers) // 50)

    def item(p: Paper) -> dict[str, Any]:
        return {"paper": {"id": p.arxiv, "title": p.title, "summary": p.abstract,
                          "authors": [{"name": a} for a in p.authors],
                          "publishedAt": "2026-12-01T00:00:00.000Z", "upvotes": p.n % 40},
                "title": p.title, "numComments": p.n % 7, "publishedAt":
                "2026-12-01T00:00:00.000Z"}

    def answer(seen: Seen) -> Reply:
        day = (date.fromisoformat(seen.arg("date") or "") - first).days
        limit, page = int(seen.arg("limit") or 50), int(seen.arg("p") or 0)
        todays = papers[day * per_day:(day + 1) * per_day] if day >= 0 else []
        chunk = todays[page * limit:(page + 1) * limit]
        return Reply(json.dumps([item(p) for p in chunk]).encode())

    server.route("/api/daily_papers", answer)
    return SourceSpec(name="hf", kind="hf-daily", since=first.isoformat(),
                      base_url=server.base_url)


def openalex(server: StandIn, papers: list[Paper]) -> SourceSpec:
    def work(p: Paper) -> dict[str, Any]:
        index: dict[str, list[int]] = {}
        for i, word in enumerate(p.abstract.split()):
            index.setdefault(word, []).append(i)
        return {"id": f"https://openalex.org/W{9_000_000 + p.n}", "doi":
                f"https://doi.org/{p.doi}", "display_name": p.title, "title": p.title,
                "publication_date": "2026-12-01", "abstract_inverted_index": index,
                "authorships": [{"author": {"display_name": a}} for a in p.authors],
                "type": "article"}

    def answer(seen: Seen) -> Reply:
        size = int(seen.arg("per-page") or 25)
        cursor = seen.arg("cursor") or "*"
        start = 0 if cursor == "*" else int(cursor[1:])
        nxt = f"c{start + size}" if start + size < len(papers) else None
        body = {"meta": {"count": len(papers), "per_page": size, "next_cursor": nxt},
                "results": [work(p) for p in papers[start:start + size]]}
        return Reply(json.dumps(body).encode())

    server.route("/works", answer)
    return SourceSpec(name="oa", kind="openalex", query="bench", since="2026-11-01",
                      base_url=server.base_url)


def semantic_scholar(server: StandIn, papers: list[Paper]) -> SourceSpec:
    size = 1000  # the bulk search's page

    def item(p: Paper) -> dict[str, Any]:
        return {"paperId": f"{p.n:040x}", "title": p.title, "abstract": p.abstract,
                "authors": [{"authorId": str(i), "name": a} for i, a in enumerate(p.authors)],
                "year": 2026, "publicationDate": "2026-12-01", "venue": "",
                "externalIds": {"DOI": p.doi}, "url": ""}

    def answer(seen: Seen) -> Reply:
        start = int(seen.arg("token") or 0)
        body: dict[str, Any] = {"total": len(papers),
                                "data": [item(p) for p in papers[start:start + size]]}
        if start + size < len(papers):
            body["token"] = str(start + size)
        return Reply(json.dumps(body).encode())

    server.route("/graph/v1/paper/search/bulk", answer)
    return SourceSpec(name="s2", kind="semantic-scholar", query="bench", since="2026-11-01",
                      base_url=server.base_url)


def pubmed(server: StandIn, papers: list[Paper]) -> SourceSpec:
    """Every paper added to PubMed on one day (2026-12-02), fetched in efetch batches."""
    def article(p: Paper) -> str:
        last, first = p.authors[0].split(" ")[-1], p.authors[0].split(" ")[0]
        return (f"<PubmedArticle><MedlineCitation Status=\"MEDLINE\" Owner=\"NLM\">"
                f"<PMID Version=\"1\">{40_000_000 + p.n}</PMID><Article PubModel=\"Print\">"
                "<Journal><Title>Bench Journal</Title><JournalIssue><PubDate><Year>2026"
                "</Year><Month>Dec</Month><Day>01</Day></PubDate></JournalIssue></Journal>"
                f"<ArticleTitle>{esc(p.title)}</ArticleTitle><Abstract><AbstractText>"
                f"{esc(p.abstract)}</AbstractText></Abstract><AuthorList><Author>"
                f"<LastName>{last}</LastName><ForeName>{first}</ForeName></Author>"
                "</AuthorList></Article></MedlineCitation><PubmedData><ArticleIdList>"
                f"<ArticleId IdType=\"pubmed\">{40_000_000 + p.n}</ArticleId>"
                f"<ArticleId IdType=\"doi\">{p.doi}</ArticleId></ArticleIdList>"
                "</PubmedData></PubmedArticle>")

    def search(seen: Seen) -> Reply:
        count = len(papers) if seen.arg("mindate") == "2026/12/02" else 0
        return Reply((f"<eSearchResult><Count>{count}</Count><RetMax>0</RetMax><RetStart>0"
                      "</RetStart><QueryKey>1</QueryKey><WebEnv>MCID_bench</WebEnv><IdList/>"
                      "</eSearchResult>").encode())

    def fetch(seen: Seen) -> Reply:
        start, size = int(seen.arg("retstart") or 0), int(seen.arg("retmax") or 20)
        return Reply(("<?xml version=\"1.0\"?><PubmedArticleSet>" + "".join(
            article(p) for p in papers[start:start + size]) + "</PubmedArticleSet>").encode())

    server.route("/entrez/eutils/esearch.fcgi", search)
    server.route("/entrez/eutils/efetch.fcgi", fetch)
    return SourceSpec(name="pm", kind="pubmed", query="bench", since="2026-12-02",
                      base_url=server.base_url)


def biorxiv(server: StandIn, papers: list[Paper]) -> SourceSpec:
    def item(p: Paper) -> dict[str, Any]:
        return {"title": p.title, "authors": "; ".join(p.authors), "doi":
                f"10.1101/2026.12.01.{p.n:06d}", "date": "2026-12-01", "version": "1",
                "type": "new results", "license": "cc_by", "category": "bioinformatics",
                "abstract": p.abstract, "published": "NA", "server": "biorxiv"}

    def answer(seen: Seen) -> Reply:
        offset = int(seen.path.rsplit("/", 1)[1])
        chunk = papers[offset:offset + 100]
        body = {"messages": [{"status": "ok", "cursor": offset, "count": len(chunk),
                              "total": str(len(papers))}],
                "collection": [item(p) for p in chunk]}
        return Reply(json.dumps(body).encode())

    server.prefix("/details/biorxiv/", answer)
    return SourceSpec(name="bio", kind="biorxiv", since="2026-11-01",
                      base_url=server.base_url)


def arxiv_oai(server: StandIn, papers: list[Paper]) -> SourceSpec:
    """ListRecords pages of 1,000 records in arXiv's format, chained by tokens."""
    size = 1000

    def record(p: Paper) -> str:
        authors = "".join(f"<author><keyname>{esc(a.split()[-1])}</keyname><forenames>"
                          f"{esc(a.split()[0])}</forenames></author>" for a in p.authors)
        return (f"<record><header><identifier>oai:arXiv.org:{p.arxiv}</identifier>"
                "<datestamp>2026-12-01</datestamp><setSpec>cs</setSpec></header><metadata>"
                '<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>' + p.arxiv + "</id>"
                f"<created>2026-12-01</created><authors>{authors}</authors><title>"
                f"{esc(p.title)}</title><categories>cs.CL</categories><abstract>"
                f"{esc(p.abstract)}</abstract></arXiv></metadata></record>")

    def answer(seen: Seen) -> Reply:
        token = seen.arg("resumptionToken")
        start = int(token) if token else 0
        nxt = start + size
        resumption = (f"<resumptionToken>{nxt}</resumptionToken>" if nxt < len(papers)
                      else "<resumptionToken/>")
        body = ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.'
                'openarchives.org/OAI/2.0/"><ListRecords>' + "".join(
                    record(p) for p in papers[start:nxt]) + resumption
                + "</ListRecords></OAI-PMH>")
        return Reply(body.encode())

    server.route("/oai", answer)
    return SourceSpec(name="oai", kind="arxiv-oai", category="cs", since="2026-11-01",
                      base_url=server.base_url)


def arxiv_rss(server: StandIn, papers: list[Paper]) -> SourceSpec:
    """One announcement feed of every paper (a real day lists ~100-500)."""
    def item(p: Paper) -> str:
        return (f"<item><title>{esc(p.title)}</title><link>https://arxiv.org/abs/{p.arxiv}"
                f"</link><description>arXiv:{p.arxiv}v1 Announce Type: new \nAbstract: "
                f"{esc(p.abstract)}</description><guid isPermaLink=\"false\">oai:arXiv.org:"
                f"{p.arxiv}v1</guid><category>cs.CL</category><pubDate>Mon, 01 Dec 2026 "
                "00:00:00 -0500</pubDate><arxiv:announce_type>new</arxiv:announce_type>"
                f"<dc:creator>{esc(', '.join(p.authors))}</dc:creator></item>")

    body = ('<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/'
            'elements/1.1/" version="2.0"><channel><title>cs.CL updates on arXiv.org</title>'
            "<link>http://rss.arxiv.org/rss/cs.CL</link>" + "".join(item(p) for p in papers)
            + "</channel></rss>")
    server.route("/rss/cs.CL", Reply(body.encode()))
    return SourceSpec(name="rss", kind="arxiv-rss", category="cs.CL",
                      base_url=server.base_url)


KINDS: dict[str, Callable[[StandIn, list[Paper]], SourceSpec]] = {
    "arxiv": arxiv, "arxiv-oai": arxiv_oai, "arxiv-rss": arxiv_rss, "hf-daily": hf_daily,
    "openalex": openalex, "semantic-scholar": semantic_scholar, "pubmed": pubmed,
    "biorxiv": biorxiv}


def measure(kind: str, papers: list[Paper], folder: Path) -> dict[str, Any]:
    with standin() as server:
        spec = KINDS[kind](server, papers)
        with Library(folder / f"{kind}.db", embedding_model=None) as lib:
            lib.sources.clock = lambda: NOW
            lib.sources.add(spec)
            started = time.perf_counter()
            [report] = lib.sources.sync(settings=SourceSettings(Politeness(pace=0.0)))
            seconds = time.perf_counter() - started
            papers_in = lib.papers.count()
        asked = len(server.log)
    assert report.ok, report.error
    return {"kind": kind, "records": report.records, "added": report.added,
            "papers": papers_in, "pages": report.pages, "requests": asked,
            "seconds": round(seconds, 2), "records_per_s": round(report.records / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    papers = corpus(args.records)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            rows.append(measure(kind, papers, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{stamp}, {platform.processor() or platform.machine()}; {args.records} records"
          " per kind, pace 0 (no politeness waits), loopback stand-in")
    print("| kind | pages | requests | records | added | seconds | records/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['pages']} | {r['requests']} | {r['records']} | "
              f"{r['added']} | {r['seconds']} | {r['records_per_s']:,} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
