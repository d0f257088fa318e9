"""CLI command ``ask``: a question answered with the library's sentences (or a batch)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click

from ..beir import read_queries
from ..records.evidence import Answer
from ..records.serialize import to_json
from . import render
from .state import State


def _show(answer: Answer) -> None:
    """An answer for the terminal: the evidence grouped by paper, or the abstention."""
    click.echo(answer.message)
    for paper in answer.papers:
        year = f" ({paper.year})" if paper.year else ""
        click.echo(f"\n[{paper.key}] {paper.title}{year}")
        for e in paper.evidence:
            click.echo(textwrap.fill(f"({e.sentence}) {e.text}  [{e.score:.3f}]", width=100,
                                     initial_indent="  ", subsequent_indent="    "))
    for e in answer.nearest:
        click.echo(textwrap.fill(f"nearest [{e.key}:{e.sentence}] {e.text}  [{e.score:.3f}]",
                                 width=100, subsequent_indent="    "))
    if answer.pending:
        click.echo(f"note: {answer.pending} papers not indexed yet; run `paperatlas index`",
                   err=True)


def register(main: click.Group, state_type: type[State]) -> None:
    """Add ``ask`` to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @click.argument("question", required=False)
    @click.option("--collection", "-c", help="Only papers of this collection.")
    @click.option("--node", metavar="TREE:ID", help="Only papers of this topic and below.")
    @click.option("--paper", "papers", multiple=True, metavar="KEY",
                  help="Only these papers (repeatable).")
    @click.option("--questions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="Batch mode: a JSONL file of questions (_id, text).")
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                  help="Batch mode: write one JSON line per question here.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def ask(state: State, question: str | None, collection: str | None, node: str | None,
            papers: tuple[str, ...], questions: Path | None, out: Path | None,
            as_json: bool) -> None:
        """Answer QUESTION with sentences of the library's papers, each cited (no LLM)."""
        if questions is not None or out is not None:
            if questions is None or out is None or question is not None:
                raise click.UsageError("batch mode needs --questions and --out and no QUESTION")
            n = render.write_whole(out, lambda fh: state.library().ask.batch(
                read_queries(questions), fh, collection=collection, node=node, papers=papers))
            click.echo(f"answered {n} questions; wrote {out}", err=True)
            return
        if question is None:
            raise click.UsageError("give a QUESTION, or --questions with --out")
        answer = state.library().ask(question, collection=collection, node=node, papers=papers)
        if as_json:
            click.echo(json.dumps(to_json(answer), indent=2, ensure_ascii=False))
        else:
            _show(answer)
