"""CLI commands for accounts: ``paperatlas users add|list|passwd|remove|token``."""

from __future__ import annotations

import json
import sys

import click

from .state import State


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``users`` command group to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.group()
    def users() -> None:
        """People who may sign in to the web app and write, and their API tokens."""

    @users.command()
    @click.argument("name")
    @click.option("--password-stdin", is_flag=True,
                  help="Read the password from the first line of standard input.")
    @pass_state
    def add(state: State, name: str, password_stdin: bool) -> None:
        """Add a user (the password is asked twice unless --password-stdin)."""
        user = state.library().people.add(name, _password("Password", password_stdin))
        click.echo(f"added user {user.name!r}")

    @users.command(name="list")
    @click.option("--json", "as_json", is_flag=True, help="Print the users as JSON.")
    @pass_state
    def list_(state: State, as_json: bool) -> None:
        """The users, when each was added and how many API tokens each has."""
        items = state.library().people.all()
        if as_json:
            click.echo(json.dumps([{"name": u.name, "created_at": u.created_at,
                                    "tokens": u.tokens} for u in items]))
            return
        for u in items:
            click.echo(f"{u.name}\tadded {u.created_at}\t{u.tokens} tokens")

    @users.command()
    @click.argument("name")
    @click.option("--password-stdin", is_flag=True,
                  help="Read the new password from the first line of standard input.")
    @pass_state
    def passwd(state: State, name: str, password_stdin: bool) -> None:
        """Set a user's password; this signs them out everywhere and deletes their API
        tokens (make new ones with `paperatlas users token NAME`)."""
        lib = state.library()
        user = lib.people.get(name)  # an unknown name fails before the password is asked
        ended = lib.people.set_password(user.name, _password("New password", password_stdin))
        click.echo(f"changed the password of {user.name!r}; ended {ended.sessions} web "
                   f"sessions and deleted {ended.tokens} API tokens")

    @users.command()
    @click.argument("name")
    @pass_state
    def remove(state: State, name: str) -> None:
        """Remove a user, their API tokens and web sessions (their edits and uploads stay)."""
        state.library().people.remove(name)
        click.echo(f"removed user {name!r} (their web sessions and API tokens ended)")

    @users.command()
    @click.argument("name")
    @click.option("--label", default="", help="What the token is for (shown in listings).")
    @pass_state
    def token(state: State, name: str, label: str) -> None:
        """Make an API token for a user and print it (once: it cannot be shown again).

        Send it as `Authorization: Bearer TOKEN` to write through /api."""
        made = state.library().people.token_create(name, label)
        click.echo(made.token)
        click.echo(f"token {made.info.id} for {made.info.user!r}: keep it, it is not stored",
                   err=True)


def _password(prompt: str, from_stdin: bool) -> str:
    """The first line of standard input, or a password asked twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return password
