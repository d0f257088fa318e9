"""CLI command for the job worker: ``paperatlas worker``."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

import click

from .state import State

if TYPE_CHECKING:
    from ..records.jobs import Job
    from ..update import UpdateReport


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``worker`` command to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @click.option("--once", is_flag=True,
                  help="Run the queued jobs (and those they queue), then exit (for cron).")
    @click.option("--poll", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True,
                  help="Seconds between looks at the queue while idle.")
    @click.option("--update-every", metavar="DURATION",
                  help="Also run `paperatlas update` at start and then this often (6h, 1d): "
                       "sync the due sources, then their jobs, then due digests (when SMTP "
                       "is configured). Off by default.")
    @click.option("--base-url", metavar="URL", hidden=True,
                  help="Where links in the digests of --update-every point (serve's).")
    @pass_state
    def worker(state: State, once: bool, poll: float, update_every: str | None,
               base_url: str | None) -> None:
        """Run the library's jobs: ingest uploads, then index and embed, update the topic
        trees and place new papers on the map. Runs until Ctrl-C or SIGTERM (the running
        job finishes first; a second Ctrl-C stops at once, and the job is taken again by
        the next worker). `serve` starts one."""
        from ..facade.sources import parse_every
        from ..worker import Worker
        from . import settings as settings_file

        every = parse_every(update_every) if update_every else None
        mail = None
        if every:
            digest, smtp, _ = settings_file.for_web(state.settings_path, base_url=base_url)
            mail = (digest, smtp) if smtp is not None else None
        runner = Worker(state.library, poll=poll, on_job=_report,
                        sources=settings_file.sources(state.settings_path),
                        update_every=every, mail=mail, on_update=_updated)
        if once:
            n = runner.run_once()
            click.echo(f"ran {n} job{'s' if n != 1 else ''}", err=True)
            return
        stop = threading.Event()
        _stop_on_signals(stop)
        state.library()  # a missing library fails here, not in the loop
        click.echo(f"worker: running the jobs of {state.db}"
                   + (f", updating every {update_every}" if every else "") + " (Ctrl-C stops)",
                   err=True)
        runner.run_forever(stop)
        click.echo("worker: stopped", err=True)


def _report(job: Job) -> None:
    line = f"job {job.id} {job.kind}: {job.status}"
    click.echo(line + (f": {job.message}" if job.message else ""), err=True)


def _updated(report: UpdateReport) -> None:
    added = sum(s.added for s in report.syncs)
    failed = [f"{s.source}: {s.error}" for s in report.syncs if s.error]
    click.echo(f"worker: update: {len(report.syncs)} sources synced, {added} papers added, "
               f"{len(report.jobs)} jobs run" + "".join(f"\n  failed {f}" for f in failed),
               err=True)


def _stop_on_signals(stop: threading.Event) -> None:
    """The first SIGINT or SIGTERM stops after the running job; the next acts as usual."""
    def handle(signum: int, _frame: Any) -> None:
        stop.set()
        click.echo("worker: stopping after the running job", err=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
