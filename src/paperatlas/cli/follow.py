"""CLI commands to follow the field: ``paperatlas vote`` and ``paperatlas trending``."""

from __future__ import annotations

import json

import click

from ..errors import InvalidOptionError
from ..follow.trending import WINDOWS
from ..follow.trending import parse_node as parse_topic
from ..records.serialize import to_json
from .state import State


def parse_node(value: str | None, option: str = "--node") -> tuple[str | None, int | None]:
    """``TREE:ID`` as ``(tree, id)``; None as ``(None, None)``."""
    try:
        return parse_topic(value)
    except InvalidOptionError as exc:
        raise click.BadParameter(f"{value!r} is not TREE:ID (such as default:3)",
                                 param_hint=option) from exc


def register(main: click.Group, state_type: type[State]) -> None:
    """Add ``vote`` and ``trending`` to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @click.argument("key")
    @click.option("--user", "-u", required=True, help="The user who votes.")
    @click.option("--undo", is_flag=True, help="Take the user's vote back.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @pass_state
    def vote(state: State, key: str, user: str, undo: bool, as_json: bool) -> None:
        """Upvote a paper (by key or identifier) as a user, once; --undo takes it back."""
        lib = state.library()
        result = lib.follow.unvote(key, user) if undo else lib.follow.vote(key, user)
        if as_json:
            click.echo(json.dumps(to_json(result), ensure_ascii=False))
            return
        done = ("voted for" if result.voted else "took back the vote on") if result.changed \
            else ("had already voted for" if result.voted else "had not voted for")
        click.echo(f"{result.user} {done} {result.key} ({result.votes} vote"
                   f"{'s' if result.votes != 1 else ''})")

    @main.command()
    @click.option("--window", "-w", default="week", show_default=True,
                  help=f"Count the votes of the last {' | '.join(WINDOWS)}.")
    @click.option("--collection", "-c", help="Only papers of this collection.")
    @click.option("--node", metavar="TREE:ID", help="Only papers under this topic.")
    @click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
    @pass_state
    def trending(state: State, window: str, collection: str | None, node: str | None,
                 limit: int, as_json: bool) -> None:
        """The most upvoted papers of the window, newer first: votes / (age_hours + 2)^1.8."""
        tree, node_id = parse_node(node)
        result = state.library().follow.trending(window, collection=collection, tree=tree,
                                                 node=node_id, limit=limit)
        if as_json:
            click.echo(json.dumps(to_json(result), indent=2, ensure_ascii=False))
            return
        if not result.papers:
            click.echo(f"no votes in the last {window}", err=True)
        for rank, item in enumerate(result.papers, start=1):
            plural = "s" if item.votes != 1 else ""
            click.echo(f"{rank:>3}. {item.score:9.6f}  {item.votes:>4} vote{plural}  "
                       f"{item.paper.key}  {item.paper.title}")
