"""CLI command ``review``: a literature review of a topic (Markdown, HTML or JSON, and a
BibTeX file of every cited paper)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..search import review as core
from . import render
from .llm import llm_options, llm_settings
from .state import State

_FILE = click.Path(dir_okay=False, path_type=Path)


def register(main: click.Group, state_type: type[State]) -> None:
    """Add ``review`` to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @click.argument("node", metavar="TREE:NODE")
    @click.option("--format", "fmt", type=click.Choice(["markdown", "html", "json"]),
                  default="markdown", show_default=True)
    @click.option("--out", "-o", type=_FILE, help="Write here (default: standard output).")
    @click.option("--bibtex", type=_FILE, help="Also write every cited paper here as BibTeX.")
    @click.option("--sections", type=click.IntRange(1, core.MAX_SECTIONS),
                  default=core.SECTIONS, show_default=True, help="Sub-topics at most.")
    @click.option("--papers", type=click.IntRange(1, core.MAX_PAPERS), default=core.PAPERS,
                  show_default=True, help="Representative papers per section.")
    @click.option("--sentences", type=click.IntRange(1, core.MAX_SENTENCES),
                  default=core.SENTENCES, show_default=True, help="Key sentences per paper.")
    @llm_options
    @pass_state
    def review(state: State, node: str, fmt: str, out: Path | None, bibtex: Path | None,
               sections: int, papers: int, sentences: int, llm_url: str | None,
               llm_model: str | None, llm_key: str | None, llm_timeout: float,
               no_llm: bool) -> None:
        """Review topic TREE:NODE (e.g. default:4): its sub-topics, their representative
        papers and key sentences, each cited; with --llm-url and --llm-model a chat model
        writes a paragraph per section from its evidence, every citation checked."""
        llm = llm_settings(llm_url, llm_model, llm_key, llm_timeout, no_llm)
        lib = state.library()
        done = lib.review(node, sections_max=sections, papers_per_section=papers,
                          sentences_per_paper=sentences, llm=llm)
        text = lib.review.render(done, fmt)
        if out is None:
            sys.stdout.write(text)
        else:
            render.write_whole(out, lambda fh: fh.write(text))
            click.echo(f"wrote {out}", err=True)
        if bibtex is not None:
            n = render.write_whole(bibtex, lambda fh: lib.review.bibtex(done, fh))
            click.echo(f"wrote {n} BibTeX entries to {bibtex}", err=True)
