"""CLI commands for remote sources: ``paperatlas sources add|list|remove|pause|resume``,
``paperatlas sync`` and ``paperatlas update`` (the one line for cron)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from ..records.serialize import to_json
from ..records.sources import SOURCE_KINDS, SourceSpec, SourceState, SyncReport
from . import settings as settings_file
from .state import State

if TYPE_CHECKING:
    from ..update import UpdateReport


def _state_line(s: SourceState) -> str:
    spec = s.spec
    what = " ".join(f"{k}={v!r}" for k, v in spec.settings().items() if k != "base_url")
    flags = " (paused)" if s.paused else ""
    error = f"\n    last error: {s.last_error}" if s.last_error else ""
    return (f"{s.name}  [{spec.kind}]{flags} {what}\n    collection "
            f"{spec.collection or s.name}, every {spec.every_seconds // 60} min; last run "
            f"{s.last_run_at or 'never'}, next due {s.next_due_at or 'now'}; "
            f"{s.added} papers added of {s.records} records in {s.runs} runs{error}")


def _sync_line(r: SyncReport) -> str:
    verb = "would add" if r.dry_run else "added"
    line = (f"{r.source}: {r.pages} pages, {r.records} records: {verb} {r.added}, merged "
            f"{r.merged}, skipped {r.skipped}, rejected {r.rejected} ({r.requests} "
            f"requests, {r.seconds:.1f} s)")
    return line + (f"\n  stopped: {r.error}" if r.error else "")


def register(main: click.Group, state_type: type[State]) -> None:
    """Add ``sources``, ``sync`` and ``update`` to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.group()
    def sources() -> None:
        """Remote sources the library follows (arXiv, Hugging Face Daily Papers, OpenAlex,
        Semantic Scholar, PubMed, bioRxiv, medRxiv)."""

    @sources.command("add")
    @click.argument("name")
    @click.option("--kind", required=True, type=click.Choice(SOURCE_KINDS))
    @click.option("--query", help="What to ask (the API's own query syntax).")
    @click.option("--category", help="An arXiv category (cs.CL) or a bioRxiv subject.")
    @click.option("--since", metavar="DATE", help="The first day to fetch (YYYY-MM-DD).")
    @click.option("--collection", help="Where its papers go (default: the source's name).")
    @click.option("--every", default="1d", show_default=True,
                  help="How often `update` syncs it: 30m, 6h, 1d, 1w.")
    @click.option("--base-url", help="Replace scheme and host of every URL it asks "
                                     "(mirrors, proxies, tests).")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def add(state: State, name: str, kind: str, query: str | None, category: str | None,
            since: str | None, collection: str | None, every: str, base_url: str | None,
            as_json: bool) -> None:
        """Follow a remote source; `paperatlas update` (or `sync NAME`) fetches it."""
        from ..facade.sources import parse_every

        spec = SourceSpec(name=name, kind=kind, query=query, category=category, since=since,
                          collection=collection, every_seconds=parse_every(every),
                          base_url=base_url)
        added = state.library().sources.add(spec)
        click.echo(json.dumps(to_json(added)) if as_json else _state_line(added))

    @sources.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def list_(state: State, as_json: bool) -> None:
        """Each source: what it asks, last run, next due, papers added, last error."""
        items = state.library().sources.all()
        if as_json:
            click.echo(json.dumps([to_json(s) for s in items]))
        for s in [] if as_json else items:
            click.echo(_state_line(s))
        if not items and not as_json:
            click.echo("no sources yet: paperatlas sources add NAME --kind KIND ...", err=True)

    @sources.command("remove")
    @click.argument("name")
    @pass_state
    def remove(state: State, name: str) -> None:
        """Stop following a source (its papers stay)."""
        state.library().sources.remove(name)
        click.echo(f"removed source {name}", err=True)

    for verb, paused in (("pause", True), ("resume", False)):
        @sources.command(verb, help=f"{verb.title()} a source's scheduled syncs.")
        @click.argument("name")
        @pass_state
        def toggle(state: State, name: str, paused: bool = paused) -> None:
            click.echo(_state_line(state.library().sources.pause(name, paused)))

    @main.command()
    @click.argument("names", nargs=-1)
    @click.option("--since", metavar="DATE", help="Start again from this day (YYYY-MM-DD).")
    @click.option("--dry-run", is_flag=True, help="Fetch and report; store nothing.")
    @click.option("--max-pages", type=click.IntRange(min=1), help="Stop each after N pages.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def sync(state: State, names: tuple[str, ...], since: str | None, dry_run: bool,
             max_pages: int | None, as_json: bool) -> None:
        """Fetch the new papers of the named sources (default: all). Exits 1 when a
        source stopped on an error (its cursor stays before the failed page)."""
        from ..sources import SyncOptions

        options = SyncOptions(names=names, since=since, dry_run=dry_run, max_pages=max_pages)
        reports = state.library().sources.sync(
            options, settings_file.sources(state.settings_path),
            progress=None if as_json else lambda r: click.echo(
                f"  {r.source}: page {r.pages}, {r.added} added so far", err=True))
        for r in reports:
            click.echo(json.dumps(to_json(r)) if as_json else _sync_line(r))
        if any(not r.ok for r in reports):
            sys.exit(1)

    @main.command()
    @click.option("--no-digests", is_flag=True, help="Skip the digests.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def update(state: State, no_digests: bool, as_json: bool) -> None:
        """Sync every due source, index, update the topic trees, place new papers on the
        map, send due digests: the one command for cron or a systemd timer. Exits 1 when
        a step failed."""
        from ..update import update as run_update

        mail = None if no_digests else settings_file.load(state.settings_path)
        report = run_update(state.library(), settings_file.sources(state.settings_path),
                            mail=mail, on_step=None if as_json else _step)
        if as_json:
            click.echo(json.dumps(to_json(report)))
        else:
            _update_summary(report)
        if not report.ok:
            sys.exit(1)


def _step(what: str, value: object) -> None:
    if what == "sync" and isinstance(value, SyncReport):
        click.echo(_sync_line(value), err=True)
    elif what == "job":
        job = value
        click.echo(f"job {getattr(job, 'id', '?')} {getattr(job, 'kind', '?')}: "
                   f"{getattr(job, 'status', '?')}", err=True)


def _update_summary(report: UpdateReport) -> None:
    added = sum(s.added for s in report.syncs)
    digests = report.digests
    sent = f", {digests.sent} digests sent" if digests is not None else ""
    click.echo(f"update: {len(report.syncs)} sources synced, {added} papers added, "
               f"{len(report.jobs)} jobs run{sent} in {report.seconds:.1f} s")
