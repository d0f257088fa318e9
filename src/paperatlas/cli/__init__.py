"""The command-line edge: each command is a thin wrapper around one Library call."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..embed.sbert import BACKENDS, DEFAULT_MODEL
from ..errors import PaperatlasError
from ..export import WRITERS
from ..ingest import FIELDS, FORMAT_NAMES
from ..records.serialize import to_json
from ..search import MODES
from . import ask as ask_commands
from . import backup as backup_commands
from . import digest as digest_commands
from . import follow as follow_commands
from . import mapcmd as map_commands
from . import render
from . import review as review_commands
from . import search as search_commands
from . import sources as source_commands
from . import subscriptions as subscription_commands
from . import tree as tree_commands
from . import users as user_commands
from . import vectors as vector_commands
from . import web as web_commands
from . import worker as worker_commands
from .state import State


class _Group(click.Group):
    """Turns core errors into a message on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PaperatlasError as exc:
            raise click.ClickException(str(exc)) from exc


#: Commands that may create the library file; every other command reads one that exists.
CREATES = frozenset({"ingest", "index", "serve", "users", "bench", "sources", "sync", "update"})


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(cls=_Group)
@click.option("--db", envvar="PAPERATLAS_DB", default="paperatlas.db", show_default=True,
              type=click.Path(dir_okay=False), help="Library file (env: PAPERATLAS_DB).")
@click.option("--model", envvar="PAPERATLAS_MODEL", default=DEFAULT_MODEL, show_default=True,
              help="Embedding model: a sentence-transformers name or path, or 'none' "
                   "(env: PAPERATLAS_MODEL).")
@click.option("--embed-backend", envvar="PAPERATLAS_EMBED_BACKEND", default="auto",
              show_default=True, type=click.Choice(BACKENDS),
              help="How papers are embedded: OpenVINO (bf16 where the CPU has it; 'auto' "
                   "uses it when installed) or PyTorch (env: PAPERATLAS_EMBED_BACKEND).")
@click.option("--settings", "settings_path", envvar="PAPERATLAS_SETTINGS",
              type=click.Path(dir_okay=False),
              help="Settings file (TOML: base_url, [smtp], [digest]; env: PAPERATLAS_SETTINGS).")
@click.version_option(package_name="paperatlas")
@click.pass_context
def main(ctx: click.Context, db: str, model: str, embed_backend: str,
         settings_path: str | None) -> None:
    """paperatlas: discover and organize research papers."""
    state = State(db, None if model.lower() == "none" else model, embed_backend,
                  settings_path, create=ctx.invoked_subcommand in CREATES)
    ctx.obj = state
    ctx.call_on_close(state.close)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--collection", "-c", help="Collection to put the papers in (default: file name).")
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES),
              help="Input format (default: detected per file).")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help=f"Map a column/field onto a paper field ({', '.join(FIELDS)}).")
@click.option("--dry-run", is_flag=True, help="Show what would be added and merged; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--index", "with_index", is_flag=True, help="Update the search index afterwards.")
@click.option("--strict", is_flag=True,
              help="Reject a whole file when any of its records is rejected.")
@click.pass_obj
def ingest(state: State, paths: tuple[Path, ...], collection: str | None, fmt: str | None,
           mapping: tuple[str, ...], dry_run: bool, as_json: bool, with_index: bool,
           strict: bool) -> None:
    """Ingest paper listings (files or folders): Daily Papers text, BEIR/JSONL, JSON, CSV/TSV,
    arXiv API (Atom) and OAI-PMH XML, BibTeX/BibLaTeX, RIS."""
    bars = render.ProgressBars(enabled=not as_json and sys.stderr.isatty())
    try:
        report = state.library().ingest(paths, collection=collection, format=fmt,
                                        mapping=list(mapping), dry_run=dry_run, progress=bars,
                                        index=with_index, strict=strict)
    finally:
        bars.close()
    if as_json:
        _emit_json(to_json(report))
        for f in report.failed:
            click.echo(f"error: {f.error}", err=True)
    else:
        render.ingest_summary(report)
    if report.failed:
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stats(state: State, as_json: bool) -> None:
    """Counts of papers, sources, collections and identifiers."""
    result = state.library().stats()
    _emit_json(to_json(result)) if as_json else render.stats(result)


@main.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(state: State, key: str, as_json: bool) -> None:
    """Show one paper by key or identifier (DOI, arXiv id, ...)."""
    paper = state.library().papers.get(key)
    _emit_json(to_json(paper)) if as_json else render.paper(paper)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def collections(state: State, as_json: bool) -> None:
    """List collections and their sizes."""
    items = state.library().collections.all()
    if as_json:
        _emit_json([{"name": c.name, "papers": c.papers, "created_at": c.created_at}
                    for c in items])
        return
    for c in items:
        click.echo(f"{c.papers:>8}  {c.name}")


@main.command()
@click.option("--collection", "-c", help="Only this collection.")
@click.option("--limit", "-n", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--recent", is_flag=True, help="Newest first (by date) instead of ingest order.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one paper per line.")
@click.option("--keys", "keys_only", is_flag=True, help="Only the keys, one per line.")
@click.pass_obj
def papers(state: State, collection: str | None, limit: int, recent: bool,
           as_json: bool, keys_only: bool) -> None:
    """List papers: key, date and title."""
    items = state.library().papers(collection=collection, limit=limit,
                                   order="recent" if recent else "id")
    for p in items:
        if keys_only:
            click.echo(p.key)
        else:
            click.echo(json.dumps(to_json(p), ensure_ascii=False) if as_json
                       else render.paper_line(p))


@main.command()
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="jsonl",
              show_default=True, help="Citations (bibtex, ris, csljson) or data (jsonl, csv).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (default: standard output).")
@click.option("--collection", "-c", help="Only this collection (with --query: search in it).")
@click.option("--query", "-q", help="The best results of this search.")
@click.option("--mode", type=click.Choice(MODES), help="The search's mode (with --query).")
@click.option("--node", help="A topic and its sub-topics: TREE:ID.")
@click.option("--paper", "papers", multiple=True, help="A paper by key or identifier "
              "(repeat for more).")
@click.option("--limit", "-n", type=click.IntRange(min=1), help="At most this many papers "
              "(a search: 100 unless given).")
@click.pass_obj
def export(state: State, fmt: str, output: Path | None, collection: str | None,
           query: str | None, mode: str | None, node: str | None, papers: tuple[str, ...],
           limit: int | None) -> None:
    """Export papers (all, a collection, a search, a topic or some by key) as citations or
    with key, title, abstract, authors, ids, collections and sources."""
    lib = state.library()
    scope: dict[str, Any] = {"collection": collection, "query": query, "mode": mode,
                             "node": node, "papers": list(papers) or None, "limit": limit}
    if output is None:
        lib.export(fmt, sys.stdout, **scope)
        return
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            n = lib.export(fmt, fh, **scope)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(output)  # never leave a half-written export behind
    click.echo(f"exported {n} papers to {output}", err=True)


@main.command()
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def runs(state: State, limit: int, as_json: bool) -> None:
    """The ingest log: recent runs and what they did."""
    items = state.library().papers.runs(limit)
    if as_json:
        _emit_json(items)
        return
    for r in items:
        s = r["summary"] or {}
        click.echo(f"#{r['id']}  {r['started_at']}  {r['status']:<11}  "
                   f"added {s.get('added', 0)}, merged {s.get('merged', 0)}, "
                   f"skipped {s.get('skipped', 0)}, rejected {s.get('rejected', 0)}, "
                   f"failed files {s.get('failed_files', 0)}")


search_commands.register(main, State)
tree_commands.register(main, State)
web_commands.register(main, State)
map_commands.register(main, State)
user_commands.register(main, State)
follow_commands.register(main, State)
subscription_commands.register(main, State)
digest_commands.register(main, State)
worker_commands.register(main, State)
source_commands.register(main, State)
vector_commands.register(main, State)
ask_commands.register(main, State)
review_commands.register(main, State)
backup_commands.register(main, State)
