"""CLI commands for the 2-D map: ``paperatlas map build|info``."""

from __future__ import annotations

import json

import click

from ..mapview import METHODS
from ..records.serialize import to_json
from .state import State


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``map`` command group to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.group(name="map")
    def map_() -> None:
        """The 2-D map of the papers shown by the web app (/map)."""

    @map_.command()
    @click.option("--method", type=click.Choice(METHODS),
                  help="Projection (default: the map's, else pca; umap needs umap-learn).")
    @click.option("--rebuild", is_flag=True, help="Refit the projection on every paper.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @pass_state
    def build(state: State, method: str | None, rebuild: bool, as_json: bool) -> None:
        """Fit the map once; later runs place new papers on it without refitting. Maps the
        papers that have vectors (`paperatlas index` makes them)."""
        report = state.library().map.build(method=method, rebuild=rebuild)
        if as_json:
            click.echo(json.dumps(to_json(report)))
            return
        what = "fitted on" if report.refitted else "placed"
        click.echo(f"map ({report.method} of {report.model} vectors): {what} {report.placed} "
                   f"papers, {report.points} on the map ({report.seconds:.1f} s)")
        if report.without_vectors:
            click.echo(f"{report.without_vectors} papers have no vector yet and are not on the "
                       "map: `paperatlas index` embeds them, the next `map build` places them")

    @map_.command()
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @pass_state
    def info(state: State, as_json: bool) -> None:
        """How the map was made and how many papers wait to be placed."""
        found = state.library().map.info()
        if as_json:
            click.echo(json.dumps(to_json(found) if found else None))
            return
        if found is None:
            raise click.ClickException("no map yet: run `paperatlas map build`")
        click.echo(f"{found.method} of {found.model} vectors, fitted on {found.fitted} papers "
                   f"({found.built_at}); {found.points} on the map, {found.unplaced} to place "
                   f"(updated {found.updated_at})")
