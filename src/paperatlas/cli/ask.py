"""CLI command ``ask``: a question answered with the library's sentences (or a batch),
optionally written by a chat model from them, every citation checked."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click

from ..beir import read_queries
from ..records.evidence import Answer
from ..records.serialize import to_json
from ..search.cite import render as render_cited
from . import render
from .llm import llm_options, llm_settings
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


def _show_written(answer: Answer) -> None:
    """A model's answer for the terminal: its text with [n] markers (flagged sentences
    marked), then the numbered sources the markers point to."""
    click.echo(answer.message)
    if answer.verdict:
        click.echo(f"verdict: {answer.verdict}")
    if answer.sentences:
        click.echo("\n" + textwrap.fill(render_cited(answer.sentences), width=100))
    for s in answer.sentences:
        if s.status == "uncited":
            click.echo(textwrap.fill(f"! uncited: {s.text}", width=100,
                                     subsequent_indent="    "))
        elif s.status == "miscited":
            wrong = ", ".join(str(n) for n in s.invalid)
            click.echo(textwrap.fill(f"! cites [{wrong}], not among the sources: {s.text}",
                                     width=100, subsequent_indent="    "))
    titles = {p.key: (p.title, p.year) for p in answer.papers}
    if answer.evidence:
        click.echo("\nsources:")
    for n, e in enumerate(answer.evidence, start=1):
        title, year = titles.get(e.key, ("", None))
        click.echo(f"[{n}] {e.key}:{e.sentence}  {title}" + (f" ({year})" if year else ""))
        click.echo(textwrap.fill(e.text, width=100, initial_indent="    ",
                                 subsequent_indent="    "))
    if answer.citation_precision is not None:
        click.echo(f"\ncitation precision: {answer.citation_precision:.2f}")


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
    @llm_options
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def ask(state: State, question: str | None, collection: str | None, node: str | None,
            papers: tuple[str, ...], questions: Path | None, out: Path | None,
            llm_url: str | None, llm_model: str | None, llm_key: str | None,
            llm_timeout: float, no_llm: bool, as_json: bool) -> None:
        """Answer QUESTION with sentences of the library's papers, each cited; with
        --llm-url and --llm-model a chat model writes the answer from them and every
        citation it makes is checked."""
        llm = llm_settings(llm_url, llm_model, llm_key, llm_timeout, no_llm)
        if questions is not None or out is not None:
            if questions is None or out is None or question is not None:
                raise click.UsageError("batch mode needs --questions and --out and no QUESTION")
            n = render.write_whole(out, lambda fh: state.library().ask.batch(
                read_queries(questions), fh, collection=collection, node=node, papers=papers,
                llm=llm))
            click.echo(f"answered {n} questions; wrote {out}", err=True)
            return
        if question is None:
            raise click.UsageError("give a QUESTION, or --questions with --out")
        answer = state.library().ask(question, collection=collection, node=node, papers=papers,
                                     llm=llm)
        if as_json:
            click.echo(json.dumps(to_json(answer), indent=2, ensure_ascii=False))
            return
        (_show if answer.model is None else _show_written)(answer)
        if answer.pending:
            click.echo(f"note: {answer.pending} papers not indexed yet; run `paperatlas index`",
                       err=True)
