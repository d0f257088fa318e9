"""Text rendering for the terminal (the CLI's only formatting code)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click

from ..records.papers import IngestReport, Paper, Stats
from ..records.serialize import to_json
from ..search import SearchPage

#: Files smaller than this get no progress bar.
PROGRESS_MIN_BYTES = 1 << 20
#: Lines listed per rejection reason in the text summary (``--json`` lists more).
SHOWN_REJECTIONS = 10


class ProgressBars:
    """A ``progress(path, done, total)`` callback that draws one bar per long file."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._path: str | None = None
        self._shown = 0

    def __call__(self, path: str, done: int, total: int) -> None:
        if not self.enabled or total < PROGRESS_MIN_BYTES:
            return
        if path != self._path:
            self.close()
            self._path, self._shown = path, 0
            self._bar = click.progressbar(length=total, label=click.format_filename(path),
                                          file=sys.stderr).__enter__()
        self._bar.update(min(done, total) - self._shown)
        self._shown = min(done, total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


class CountBar:
    """A ``progress(done, total)`` callback drawing one bar on a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty() or total <= 0:
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label,
                                          file=sys.stderr).__enter__()
        self._bar.update(done - self._shown)
        self._shown = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def ingest_summary(report: IngestReport) -> None:
    for f in report.files:
        name = click.format_filename(f.path)
        if not f.ok:
            click.secho(f"error: {f.error}", fg="red", err=True)
            continue
        click.echo(f"{name} [{f.format or 'empty'}] -> {f.collection}: {f.records} records, "
                   f"{f.added} added, {f.merged} merged, {f.skipped} skipped, "
                   f"{f.rejected} rejected")
        for reason, count in f.rejected_by_reason.items():
            where = [r for r in f.rejections if r.reason == reason]
            more = ", ..." if count > SHOWN_REJECTIONS else ""
            if all(r.line for r in where):  # lines of the file
                places = f"at {name}:{', '.join(str(r.line) for r in where[:SHOWN_REJECTIONS])}"
            else:  # records of a JSON document (it has no line per record)
                places = (f"in {name}, record "
                          f"{', '.join(str(r.entry) for r in where[:SHOWN_REJECTIONS])}")
            click.echo(f"  rejected {count} ({reason}) {places}{more}")
        for c in f.changes:
            mark = "+" if c.action == "added" else "="
            how = "" if c.action == "added" else f"  [{c.rule}]"
            click.echo(f"  {mark} {c.key}  {_short(c.title, 70)}{how}")
    verb = "would be" if report.dry_run else "were"
    click.echo(
        f"total: {report.records} records in {len(report.files)} files; {report.added} papers "
        f"{verb} added, {report.merged} merged, {report.skipped} skipped, "
        f"{report.rejected} rejected; {len(report.failed)} files failed")
    if report.dry_run:
        click.echo("dry run: nothing was written")


def stats(s: Stats) -> None:
    rows: list[tuple[str, object]] = [
        ("papers", s.papers), ("with abstract", s.with_abstract), ("sources", s.sources),
        ("collections", s.collections), ("files", s.files), ("ingest runs", s.ingest_runs)]
    rows += [(f"ids: {k}", v) for k, v in s.identifiers.items()]
    rows += [("last ingest", s.last_ingest or "-"), ("schema version", s.schema_version)]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k:<{width}}  {v}")


def paper(p: Paper) -> None:
    click.secho(p.title, bold=True)
    click.echo(f"key: {p.key}")
    if p.authors:
        click.echo("authors: " + ", ".join(p.authors))
    for label, value in (("date", p.date), ("venue", p.venue)):
        if value:
            click.echo(f"{label}: {value}")
    if p.categories:
        click.echo("categories: " + ", ".join(p.categories))
    for scheme, value in p.ids.items():
        click.echo(f"{scheme}: {value}")
    for link in p.links:
        click.echo(f"link: {link}")
    click.echo("collections: " + ", ".join(p.collections))
    click.echo("sources:")
    for s in p.sources:
        key = f" key={s.source_key}" if s.source_key else ""
        click.echo(f"  {s.path}:{s.line} [{s.format}] entry {s.entry}{key}, {s.ingested_at}")
    if p.abstract:
        click.echo("")
        click.echo(textwrap.fill(p.abstract, width=88))


def paper_line(p: Paper) -> str:
    when = f"{p.date}  " if p.date else ""
    return f"{p.key}  {when}{_short(p.title, 90)}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def search_page(page: SearchPage) -> None:
    last = page.offset + len(page.hits)
    if page.suggestion:
        click.echo(f"Did you mean {page.suggestion}?")
    if page.weak:
        click.echo(f"No close matches for {page.query!r}; nearest papers:")
    words = (f"; {page.matched} with these words" if page.matched is not None
             and page.mode != "lexical" else "")
    click.echo(f"{page.total} results for {page.query!r} [{page.mode}]"
               + (f", showing {page.offset + 1}-{last}" if page.hits else "") + words)
    for hit in page.hits:
        year = f" ({hit.year})" if hit.year else ""
        click.echo("")
        click.echo(f"{hit.rank:>3}. " + click.style(hit.title, bold=True) + year)
        click.echo(f"     {hit.key}  score {hit.score:.3f}")
        if not hit.snippet.text:  # no abstract: the title says it all
            continue
        marked = hit.snippet.marked(before="\x00", after="\x01")
        styled = "".join(click.style(part[1:], fg="yellow", bold=True) if part.startswith("\x00")
                         else part for part in _split_marks(marked))
        click.echo(textwrap.indent(textwrap.fill(styled, width=120), "     "))


def _split_marks(text: str) -> list[str]:
    parts, buf = [], ""
    for ch in text:
        if ch == "\x00":
            parts.append(buf)
            buf = "\x00"
        elif ch == "\x01":
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    return parts


def search_dict(page: SearchPage) -> dict[str, object]:
    return to_json(page)


def write_whole(path: Path, write: Callable[[TextIO], int]) -> int:
    """``write(file)`` into ``PATH.part``, renamed to ``path`` once it returned: a failed
    batch leaves no half-written output. Returns what ``write`` returned."""
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as fh:
        n = write(fh)
    tmp.replace(path)
    return n
