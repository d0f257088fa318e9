"""CLI command for the web app: ``paperatlas serve``."""

from __future__ import annotations

from typing import Any

import click


def register(main: click.Group, state_type: Any) -> None:
    """Add the ``serve`` command to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
    @pass_state
    def serve(state: Any, host: str, port: int) -> None:
        """Serve the web app and its JSON API (docs at /docs) until Ctrl-C."""
        try:
            import uvicorn

            from ..web import WebSettings, create_app
        except ImportError as exc:
            raise click.ClickException(
                f"serve needs the web extra ({exc.name} is missing): "
                "pip install 'paperatlas[web]'") from exc
        app = create_app(state.library(), WebSettings(host=host, port=port))
        click.echo(f"serving {state.db} at http://{host}:{port}/ (Ctrl-C stops)", err=True)
        uvicorn.run(app, host=host, port=port, log_level="info")
