"""CLI commands for paper vectors moved in and out: ``paperatlas vectors import|export``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..records.serialize import to_json
from .state import State


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``vectors`` command group to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.group()
    def vectors() -> None:
        """Paper vectors as .npz files (keys, vectors, model): computed elsewhere, or moved."""

    @vectors.command(name="import")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--model", "made_by", help="The model that made them (when the file has no "
                  "'model' array); it must be the library's.")
    @click.option("--switch-model", is_flag=True,
                  help="Drop the library's vectors of another model first.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @pass_state
    def import_(state: State, file: Path, made_by: str | None, switch_model: bool,
                as_json: bool) -> None:
        """Import vectors; the index job then embeds only the papers still without one."""
        report = state.library().import_vectors(file, model=made_by, switch_model=switch_model)
        if as_json:
            click.echo(json.dumps(to_json(report)))
            return
        click.echo(f"imported {report.imported} of {report.rows} vectors ({report.model}, "
                   f"{report.dimension} dimensions); {report.vectors} in the library")
        if report.unknown:
            shown = ", ".join(report.unknown_keys)
            more = ", ..." if report.unknown > len(report.unknown_keys) else ""
            click.echo(f"skipped {report.unknown} keys that name no paper: {shown}{more}",
                       err=True)
        if report.repeated:
            click.echo(f"skipped {report.repeated} rows naming a paper given before", err=True)

    @vectors.command()
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @pass_state
    def export(state: State, file: Path, as_json: bool) -> None:
        """Write every paper's vectors, named by key, to FILE (.npz)."""
        report = state.library().export_vectors(file)
        if as_json:
            click.echo(json.dumps(to_json(report)))
            return
        click.echo(f"exported {report.vectors} vectors ({report.model}, {report.dimension} "
                   f"dimensions) to {report.file}")
