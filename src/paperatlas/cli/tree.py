"""CLI commands for topic trees: ``paperatlas tree build|update|edit|show|export|eval|...``."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from ..errors import InvalidOptionError, PreconditionError
from ..organize.edit_types import EDIT_OPS, EditError, parse_edit
from ..organize.export import TREE_FORMATS
from ..records.serialize import to_json
from .state import State

_NAME = click.option("--name", "-t", default="default", show_default=True, help="Tree name.")
_ONE = click.option("--name", "-t", help="Tree name (default: the library's one tree).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _llm_options(fn: Any) -> Any:
    fn = click.option("--llm-model", help="Model name at that endpoint.")(fn)
    return click.option("--llm-url", help="OpenAI-compatible endpoint that names topics, e.g. "
                        "http://localhost:8000/v1 (key: $PAPERATLAS_LLM_KEY).")(fn)


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``tree`` command group to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.group()
    def tree() -> None:
        """Organize papers into a labelled topic tree."""

    @tree.command()
    @_NAME
    @click.option("--collection", "-c", help="Only the papers of this collection.")
    @click.option("--max-depth", type=click.IntRange(1, 8), default=3, show_default=True)
    @click.option("--min-size", type=click.IntRange(min=1), default=5, show_default=True,
                  help="Smallest topic the clustering makes.")
    @click.option("--max-children", type=click.IntRange(min=2), default=10, show_default=True)
    @click.option("--margin", type=click.FloatRange(0, 1, max_open=True), default=0.02,
                  show_default=True, help="Also link a paper to leaves this close to its best.")
    @click.option("--max-links", type=click.IntRange(min=1), default=2, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    @_llm_options
    @_JSON
    @pass_state
    def build(state: State, name: str, collection: str | None, max_depth: int, min_size: int,
              max_children: int, margin: float, max_links: int, seed: int,
              llm_url: str | None, llm_model: str | None, as_json: bool) -> None:
        """Build (or rebuild) a tree; a rebuild keeps ids and replays your edits."""
        report = state.library().trees.build(
            name, collection=collection, max_depth=max_depth, min_size=min_size,
            max_children=max_children, margin=margin, max_links=max_links, seed=seed,
            llm_url=llm_url, llm_model=llm_model, llm_key=os.environ.get("PAPERATLAS_LLM_KEY"))
        if as_json:
            click.echo(json.dumps(to_json(report)))
            return
        click.echo(f"tree {report.name!r}: {report.papers} papers in {report.nodes} topics "
                   f"({report.leaves} leaves, depth {report.depth}, {report.multi_linked} papers "
                   f"in two topics) in {report.seconds:.1f} s")
        if report.edits_applied or report.edits_skipped:
            click.echo(f"replayed {report.edits_applied} edits")
        for line in report.edits_skipped:
            click.echo(f"skipped {line}", err=True)

    @tree.command()
    @_NAME
    @_llm_options
    @_JSON
    @pass_state
    def update(state: State, name: str, llm_url: str | None, llm_model: str | None,
               as_json: bool) -> None:
        """Place papers added since the last build or update (ids of other nodes stay)."""
        report = state.library().trees.update(name, llm_url=llm_url, llm_model=llm_model,
                                              llm_key=os.environ.get("PAPERATLAS_LLM_KEY"))
        if as_json:
            click.echo(json.dumps(to_json(report)))
            return
        click.echo(f"tree {report.name!r}: {len(report.added)} new papers placed, "
                   f"{report.removed} removed; new nodes {report.new_nodes or 'none'}, "
                   f"split {report.split_nodes or 'none'}; {report.unsorted} unsorted "
                   f"({report.seconds:.2f} s)")

    @tree.command()
    @click.argument("op", type=click.Choice(list(EDIT_OPS)))
    @click.argument("args", nargs=-1)
    @_NAME
    @pass_state
    def edit(state: State, op: str, args: tuple[str, ...], name: str) -> None:
        """Correct the tree; the edit is kept and replayed after updates and rebuilds.

        \b
        rename NODE LABEL      lock NODE [LABEL]     unlock NODE
        move NODE PARENT       merge NODE... INTO    split NODE
        delete NODE            move-paper KEY NODE   pin KEY NODE    unpin KEY
        """
        try:
            edit = parse_edit(op, _edit_args(op, list(args)), strict=True)
        except (InvalidOptionError, EditError) as exc:
            raise click.UsageError(f"{exc}; usage: tree edit {op} {_USAGE[op]}") from None
        click.echo(state.library().trees.edit(name, edit))

    @tree.command()
    @_ONE
    @click.option("--papers", "-p", type=click.IntRange(min=0), default=0,
                  help="Show this many papers under each topic.")
    @click.option("--depth", type=click.IntRange(min=1), help="Show only this many levels.")
    @pass_state
    def show(state: State, name: str | None, papers: int, depth: int | None) -> None:
        """Print the tree with topic sizes (`*` marks a locked label)."""
        name = name or _only_tree(state.library())
        for line in state.library().trees.outline(name, show_papers=papers, max_depth=depth):
            click.echo(line)

    @tree.command()
    @_ONE
    @click.option("--format", "fmt", type=click.Choice(TREE_FORMATS), default="json",
                  show_default=True)
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
                  help="File to write (default: standard output).")
    @pass_state
    def export(state: State, name: str | None, fmt: str, output: str | None) -> None:
        """Write the tree as JSON, Markdown, OPML, a standalone HTML page or CSV."""
        name = name or _only_tree(state.library())
        if output is None:
            state.library().trees.export(name, fmt, sys.stdout)
            return
        tmp = f"{output}.part"
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            state.library().trees.export(name, fmt, out)
        os.replace(tmp, output)

    @tree.command(name="eval")
    @_NAME
    @click.option("--gold", required=True, type=click.Path(dir_okay=False),
                  help="TSV lines: key<TAB>label/sub-label/...")
    @_JSON
    @pass_state
    def eval_(state: State, name: str, gold: str, as_json: bool) -> None:
        """Compare the tree with a gold labelling (NMI, ARI, F1, fidelity, navigability)."""
        r = state.library().trees.evaluate(name, gold)
        if as_json:
            click.echo(json.dumps(to_json(r)))
            return
        click.echo(f"papers {r.gold_papers}, assigned {r.assigned_share:.1%}")
        for level, value in sorted(r.nmi.items()):
            click.echo(f"level {level}: NMI {value:.3f}, ARI {r.ari.get(level, 0.0):.3f}")
        click.echo(f"mean best-node F1 over {len(r.category_f1)} gold categories: "
                   f"{r.mean_f1:.3f}")
        for label, score in (("label fidelity", r.label_fidelity),
                             ("navigability", r.navigability)):
            click.echo(f"{label}: {'n/a' if score is None else f'{score:.3f}'}")

    @tree.command(name="list")
    @pass_state
    def list_(state: State) -> None:
        """The library's trees."""
        for t in state.library().trees.all():
            click.echo(f"{t.name}\t{t.papers} papers\t{t.nodes} nodes\t"
                       f"{t.collection or '(all)'}\tupdated {t.updated_at}")

    @tree.command()
    @_NAME
    @click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
    @pass_state
    def history(state: State, name: str, limit: int, as_json: bool) -> None:
        """The tree's change log: builds, updates (where each paper went) and edits."""
        for entry in state.library().trees.history(name, limit):
            click.echo(json.dumps(entry, ensure_ascii=False) if as_json else
                       f"{entry['at']}  {entry['kind']}: {entry['text']}")

    @tree.command()
    @_NAME
    @pass_state
    def delete(state: State, name: str) -> None:
        """Delete a tree with its edit log."""
        state.library().trees.delete(name)
        click.echo(f"deleted tree {name!r}")


def _only_tree(lib: Any) -> str:
    """The name of the library's one tree; with none or several, an error naming them."""
    names = [t.name for t in lib.trees.all()]
    if len(names) == 1:
        return str(names[0])
    if not names:
        raise PreconditionError("no tree yet; build one with `paperatlas tree build`")
    raise InvalidOptionError("--name (the library has several trees)", "", names)


#: Each edit's positional arguments.
_USAGE = {"rename": "NODE LABEL", "lock": "NODE [LABEL]", "unlock": "NODE", "split": "NODE",
          "delete": "NODE", "move": "NODE PARENT", "merge": "NODE... INTO",
          "unpin": "KEY", "move-paper": "KEY NODE", "pin": "KEY NODE"}


def _edit_args(op: str, args: list[str]) -> dict[str, Any]:
    """Positional CLI arguments of an edit as the named arguments ``parse_edit`` types."""
    if op == "merge":
        return {"nodes": args[:-1], "into": args[-1]} if len(args) > 1 else {}
    names = EDIT_OPS[op]
    if len(args) > len(names) and names[-1] == "label":  # the label's words
        args = [*args[:len(names) - 1], " ".join(args[len(names) - 1:])]
    if len(args) > len(names):
        raise click.UsageError(f"usage: tree edit {op} {_USAGE[op]}")
    return dict(zip(names, args, strict=False))
