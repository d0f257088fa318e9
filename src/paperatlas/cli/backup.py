"""CLI commands for backups: ``paperatlas backup DEST`` and ``paperatlas restore SRC``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..records.serialize import to_json
from .state import State


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``backup`` and ``restore`` commands to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @click.argument("dest", type=click.Path(path_type=Path))
    @click.option("--wait", type=click.FloatRange(min=0), default=None,
                  help="Seconds to wait for an index job holding the search index "
                       "(default 60); past it the index is left out and rebuilt on restore.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @pass_state
    def backup(state: State, dest: Path, wait: float | None, as_json: bool) -> None:
        """Back up the library into the new folder DEST, safe while it is served."""
        report = state.library().backup(dest, wait=wait)
        if as_json:
            click.echo(json.dumps(to_json(report)))
            return
        click.echo(f"backed up {report.papers} papers (schema {report.schema_version}) to "
                   f"{report.path}: {report.files} files, {report.bytes / 1e6:.1f} MB in "
                   f"{report.seconds:.1f} s")
        if not report.lexical_index:
            click.echo("the search index was busy and is not in the backup: run "
                       "`paperatlas index` after restoring it", err=True)

    @main.command()
    @click.argument("src", type=click.Path(path_type=Path))
    @click.option("--force", is_flag=True, help="Replace the library at --db if there is one "
                  "(stop its server and worker first).")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @pass_state
    def restore(state: State, src: Path, force: bool, as_json: bool) -> None:
        """Restore the backup folder SRC as the library --db (checked first)."""
        from ..library import Library  # here: --help loads no engine

        report = Library.restore(src, state.db, force=force)
        if as_json:
            click.echo(json.dumps(to_json(report)))
            return
        click.echo(f"restored {report.papers} papers (schema {report.schema_version}) from "
                   f"{report.source} to {report.path}; run `paperatlas index` to bring "
                   "the search index up to what changed after it was copied")
