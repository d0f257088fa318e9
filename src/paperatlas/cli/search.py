"""CLI commands for search: index, search (interactive and batch), bench beir."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..beir import evaluate, load_queries
from ..bounds import MAX_LIMIT, MAX_YEAR, MIN_YEAR, page_offset
from ..records.serialize import to_json
from ..search import FUSIONS, MODES, SearchQuery
from ..search.ray_embed import RayOptions
from . import render
from .state import State


def _note_pending(pending: int) -> None:
    """Say on stderr that a result leaves out papers not indexed yet."""
    if pending:
        click.echo(f"note: {pending} paper{'s' if pending != 1 else ''} not indexed yet; "
                   "run `paperatlas index` to search them", err=True)


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the search commands to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @click.option("--embed/--no-embed", default=True, show_default=True,
                  help="Also embed new and changed papers (with --model).")
    @click.option("--switch-model", is_flag=True,
                  help="Drop vectors made by another model and re-embed everything.")
    @click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None,
                  metavar="[ADDRESS]", help="Embed on a Ray cluster: a running one's ADDRESS "
                  "(host:6379, ray://host:10001, auto), else a local one for this run.")
    @click.option("--ray-actors", type=click.IntRange(1, 4096),
                  help="Encoder actors on Ray (default: one per CPU of the cluster).")
    @click.option("--sentences/--no-sentences", default=True, show_default=True,
                  help="Also split the abstracts into sentences (for `ask`).")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def index(state: State, embed: bool, switch_model: bool, ray_address: str | None,
              ray_actors: int | None, sentences: bool, as_json: bool) -> None:
        """Bring the search index and vectors up to date (only what changed since last time)."""
        ray = None if ray_address is None else RayOptions(ray_address, ray_actors)
        bars = render.CountBar("embedding")
        try:
            report = state.library().index(embed=embed, switch_model=switch_model,
                                           progress=bars, ray=ray, sentences=sentences)
        finally:
            bars.close()
        if as_json:
            click.echo(json.dumps(to_json(report)))
            return
        click.echo(f"indexed {report.updated} papers, removed {report.removed}"
                   f"{' (rebuilt)' if report.rebuilt else ''}; "
                   f"{report.documents} in the index")
        if report.embedding:
            e = report.embedding
            click.echo(f"embedded {e.embedded} papers with {e.model} ({e.unchanged} unchanged);"
                       f" {e.vectors} vectors")
        if report.sentences:
            s = report.sentences
            click.echo(f"split {s.split} abstracts into sentences "
                       f"({s.unchanged} unchanged, {s.removed} removed); {s.sentences} "
                       f"sentences of {s.papers} papers")
        if report.ann and report.ann.entries:
            a = report.ann
            click.echo(f"ANN index: {a.entries} entries, {a.added} added, {a.stale} stale"
                       f"{' (rebuilt)' if a.rebuilt else ''}")

    @main.command()
    @click.argument("keys", nargs=-1, required=True)
    @click.option("--limit", "-n", type=click.IntRange(1, MAX_LIMIT), default=10,
                  show_default=True)
    @click.option("--collection", "-c")
    @click.option("--mode", type=click.Choice(MODES),
                  help="hybrid (default when the library has vectors), lexical or semantic.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def similar(state: State, keys: tuple[str, ...], limit: int, collection: str | None,
                mode: str | None, as_json: bool) -> None:
        """Papers most like the given ones (more like these), excluding them."""
        result = state.library().search.similar(list(keys), limit=limit, collection=collection,
                                                mode=mode)
        if as_json:
            click.echo(json.dumps(render.search_dict(result), indent=2, ensure_ascii=False))
        else:
            render.search_page(result)
        _note_pending(result.pending)

    @main.command()
    @click.argument("text", required=False, default=None)
    @click.option("--mode", type=click.Choice(MODES),
                  help="hybrid (default when the library has vectors), lexical or semantic.")
    @click.option("--limit", "-n", type=click.IntRange(1, MAX_LIMIT), default=10,
                  show_default=True)
    @click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
    @click.option("--collection", "-c")
    @click.option("--year-from", type=click.IntRange(MIN_YEAR, MAX_YEAR))
    @click.option("--year-to", type=click.IntRange(MIN_YEAR, MAX_YEAR))
    @click.option("--author")
    @click.option("--category")
    @click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="Batch mode: a BEIR queries JSONL file (_id, text).")
    @click.option("--run-file", type=click.Path(dir_okay=False, path_type=Path),
                  help="Batch mode: write a TREC run file here.")
    @click.option("--fusion", type=click.Choice(FUSIONS), default=FUSIONS[0],
                  show_default=True, help="How hybrid combines lexical and semantic results.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def search(state: State, text: str | None, mode: str | None, limit: int, page: int,
               collection: str | None, year_from: int | None, year_to: int | None,
               author: str | None, category: str | None, queries: Path | None,
               run_file: Path | None, fusion: str, as_json: bool) -> None:
        """Search titles and abstracts (any text works; quotes and operators are plain words)."""
        query = SearchQuery(text or "", mode=mode, limit=limit, offset=page_offset(page, limit),
                            collection=collection, year_from=year_from, year_to=year_to,
                            author=author, category=category, fusion=fusion)
        if queries is not None or run_file is not None:
            if queries is None or run_file is None or text is not None:
                raise click.UsageError("batch mode needs --queries and --run-file and no TEXT")
            n = render.write_whole(run_file, lambda out: state.library().search.run_queries(
                load_queries(queries), out, **query.options()))
            click.echo(f"ran {n} queries; wrote {run_file}", err=True)
            return
        if text is None:
            raise click.UsageError("give TEXT to search for, or --queries with --run-file")
        result = state.library().search(query)
        if as_json:
            click.echo(json.dumps(render.search_dict(result), indent=2, ensure_ascii=False))
        else:
            render.search_page(result)
        _note_pending(result.pending)

    @main.group()
    def bench() -> None:
        """Measure search quality and speed."""

    @bench.command("beir")
    @click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--split", default="test", show_default=True)
    @click.option("--mode", "modes", type=click.Choice(MODES), multiple=True,
                  help="Modes to score (repeatable; default: all three).")
    @click.option("--fusion", "fusions", type=click.Choice(FUSIONS), multiple=True,
                  help="Fusions to score hybrid with (repeatable; default: convex).")
    @click.option("--by-example", is_flag=True,
                  help="Queries name corpus papers (id or id_facet, as in CSFCube): answer "
                       "them with `similar`.")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def bench_beir(ctx: click.Context, folder: Path, split: str, modes: tuple[str, ...],
                   fusions: tuple[str, ...], by_example: bool, as_json: bool) -> None:
        """Ingest a BEIR folder into a temporary library and score its queries."""
        state = ctx.find_object(state_type)
        model = state.model if state is not None else None
        results = evaluate(folder, split, modes or ("lexical", "semantic", "hybrid"), model,
                           fusions=fusions or FUSIONS[:1], by_example=by_example)
        if as_json:
            click.echo(json.dumps([to_json(r) for r in results], indent=2))
            return
        for r in results:
            mode = f"{r.mode}, {r.fusion}" if r.fusion else r.mode
            click.echo(f"{r.dataset} {r.split} [{mode}] {r.documents} docs, {r.queries} "
                       f"queries: nDCG@10 {r.ndcg_at_10:.4f}  Recall@100 {r.recall_at_100:.4f}"
                       f"  MRR@10 {r.mrr_at_10:.4f}  {r.queries_per_second:.0f} queries/s"
                       f"  p50 {r.p50_ms:.1f} ms  p99 {r.p99_ms:.1f} ms")
