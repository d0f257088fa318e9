"""CLI command for the job worker: ``paperatlas worker``."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

import click

from .state import State

if TYPE_CHECKING:
    from ..records.jobs import Job


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``worker`` command to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @click.option("--once", is_flag=True,
                  help="Run the queued jobs (and those they queue), then exit (for cron).")
    @click.option("--poll", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True,
                  help="Seconds between looks at the queue while idle.")
    @pass_state
    def worker(state: State, once: bool, poll: float) -> None:
        """Run the library's jobs: ingest uploads, then index and embed, update the topic
        trees and place new papers on the map. Runs until Ctrl-C or SIGTERM (the running
        job finishes first; a second Ctrl-C stops at once, and the job is taken again by
        the next worker). `serve` starts one."""
        from ..worker import Worker

        runner = Worker(state.library, poll=poll, on_job=_report)
        if once:
            n = runner.run_once()
            click.echo(f"ran {n} job{'s' if n != 1 else ''}", err=True)
            return
        stop = threading.Event()
        _stop_on_signals(stop)
        state.library()  # a missing library fails here, not in the loop
        click.echo(f"worker: running the jobs of {state.db} (Ctrl-C stops)", err=True)
        runner.run_forever(stop)
        click.echo("worker: stopped", err=True)


def _report(job: Job) -> None:
    line = f"job {job.id} {job.kind}: {job.status}"
    click.echo(line + (f": {job.message}" if job.message else ""), err=True)


def _stop_on_signals(stop: threading.Event) -> None:
    """The first SIGINT or SIGTERM stops after the running job; the next acts as usual."""
    def handle(signum: int, _frame: Any) -> None:
        stop.set()
        click.echo("worker: stopping after the running job", err=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
