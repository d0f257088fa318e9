"""CLI commands for subscriptions: ``paperatlas subscriptions add|list|remove``."""

from __future__ import annotations

import json

import click

from ..follow.subscriptions import items_from
from ..records.follow import FREQUENCIES, Subscription
from ..records.serialize import to_json
from ..search import MODES
from .settings import load
from .state import State


def describe(sub: Subscription) -> str:
    """One line per subscription: id, address or user, state, frequency, what it follows."""
    who = sub.email or f"user {sub.user}"
    state = "confirmed" if sub.confirmed else "unconfirmed"
    follows = "; ".join(item.describe() for item in sub.items)
    owner = f" (user {sub.user})" if sub.user and sub.email else ""
    return f"#{sub.id}\t{who}{owner}\t{state}\t{sub.frequency}\t{follows}"


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``subscriptions`` command group to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.group()
    def subscriptions() -> None:
        """Who gets email digests of new papers, and what each follows."""

    @subscriptions.command()
    @click.argument("email")
    @click.option("--search", "searches", multiple=True, metavar="TEXT",
                  help="A saved search (repeatable).")
    @click.option("--mode", type=click.Choice(MODES), help="Mode of the saved searches.")
    @click.option("--seed", "seeds", multiple=True, metavar="KEY",
                  help="A paper to find more like (key or identifier; repeatable).")
    @click.option("--node", "nodes", multiple=True, metavar="TREE:ID",
                  help="A topic and the topics under it (repeatable).")
    @click.option("--collection", "collections", multiple=True, metavar="NAME",
                  help="A collection (repeatable).")
    @click.option("--author", "authors", multiple=True, metavar="NAME",
                  help="An author (repeatable).")
    @click.option("--frequency", type=click.Choice(FREQUENCIES), default="daily",
                  show_default=True)
    @click.option("--user", help="The user it belongs to (their votes refine the ranking).")
    @click.option("--confirmed", is_flag=True,
                  help="Skip the confirmation email (an administrator vouches for the address).")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def add(state: State, email: str, searches: tuple[str, ...], mode: str | None,
            seeds: tuple[str, ...], nodes: tuple[str, ...], collections: tuple[str, ...],
            authors: tuple[str, ...], frequency: str, user: str | None, confirmed: bool,
            as_json: bool) -> None:
        """Subscribe EMAIL to digests; without --confirmed a confirmation message is queued
        (sent by the next `digest run` or `digest send`)."""
        items = items_from(searches=searches, seeds=seeds, nodes=nodes, collections=collections,
                           authors=authors, mode=mode or "")
        settings, mail = load(state.settings_path)
        sub = state.library().follow.subscribe(email, items, settings, mail, user=user,
                                               frequency=frequency, confirmed=confirmed)
        if as_json:
            click.echo(json.dumps(to_json(sub), ensure_ascii=False))
        else:
            click.echo(describe(sub))
            if not sub.confirmed:
                click.echo("a confirmation message is in the outbox", err=True)

    @subscriptions.command(name="list")
    @click.option("--email", help="Only this address's subscriptions.")
    @click.option("--user", help="Only this user's subscriptions.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def list_(state: State, email: str | None, user: str | None, as_json: bool) -> None:
        """The subscriptions: id, address, state, frequency and what each follows."""
        items = state.library().follow.subscriptions(email=email, user=user)
        if as_json:
            click.echo(json.dumps([to_json(s) for s in items], ensure_ascii=False))
            return
        for sub in items:
            click.echo(describe(sub))

    @subscriptions.command()
    @click.argument("sub_id", metavar="ID", type=int)
    @pass_state
    def remove(state: State, sub_id: int) -> None:
        """Remove a subscription, its record of sent papers and its unsent messages."""
        state.library().follow.subscription_remove(sub_id)
        click.echo(f"removed subscription {sub_id}")
