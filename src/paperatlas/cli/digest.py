"""CLI commands for email digests: ``paperatlas digest run|send|preview|outbox``."""

from __future__ import annotations

import json
import sys

import click

from ..records.follow import FREQUENCIES, OUTBOX_STATES, Digest, DigestReport
from ..records.serialize import to_json
from .settings import load
from .state import State


def _report(report: DigestReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(to_json(report), ensure_ascii=False))
        return
    if report.skipped:
        click.echo(f"nothing done: {report.skipped}", err=True)
        return
    for d in report.digests:
        _digest(d)
    verb = "would queue" if report.dry_run else "queued"
    click.echo(f"{report.due} due, {verb} {report.queued} digests ({report.papers} papers), "
               f"{report.empty} with nothing new; sent {report.sent}, retrying "
               f"{report.retrying}, failed {report.failed}  [rank {report.rank_seconds:.2f} s, "
               f"queue {report.queue_seconds:.2f} s, send {report.send_seconds:.2f} s]")


def _digest(d: Digest) -> None:
    sub = d.subscription
    click.echo(f"#{sub.id} {sub.email or sub.user}: {len(d.picks)} of {d.considered} new "
               f"papers since {d.since}")
    for p in d.picks:
        click.echo(f"  {p.score:.2f}  {p.key}  {p.title}\n        why: {p.reason}")


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``digest`` command group to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.group()
    def digest() -> None:
        """Email digests of new papers, and the outbox they are sent from."""

    @digest.command()
    @click.option("--frequency", type=click.Choice(FREQUENCIES),
                  help="Only subscriptions of this frequency (default: every due one).")
    @click.option("--dry-run", is_flag=True, help="Show the digests; write and send nothing.")
    @click.option("--since", metavar="DATE",
                  help="Rank the papers added since DATE (UTC) instead of each "
                       "subscription's window (papers already sent stay out).")
    @click.option("--no-send", is_flag=True, help="Queue the digests only.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def run(state: State, frequency: str | None, dry_run: bool, since: str | None,
            no_send: bool, as_json: bool) -> None:
        """Queue the due digests and send the outbox; safe to run from cron (a run that
        finds another one running does nothing). Exits 1 when a message failed for good or
        the SMTP server could not be reached (or did not answer in time)."""
        settings, mail = load(state.settings_path)
        report = state.library().follow.digest_run(settings, mail, frequency=frequency, since=since,
                                                   dry_run=dry_run, send=not no_send)
        _report(report, as_json)
        _stopped(report)

    @digest.command()
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def send(state: State, as_json: bool) -> None:
        """Send the outbox's due messages only (confirmations, retries)."""
        settings, mail = load(state.settings_path)
        report = state.library().follow.digest_send(settings, mail)
        _report(report, as_json)
        _stopped(report)

    @digest.command()
    @click.argument("email")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def preview(state: State, email: str, as_json: bool) -> None:
        """What the next digests of EMAIL's subscriptions would hold (nothing is written)."""
        settings, _ = load(state.settings_path)
        digests = state.library().follow.digest_preview(settings, email=email)
        if as_json:
            click.echo(json.dumps([to_json(d) for d in digests], ensure_ascii=False))
            return
        if not digests:
            click.echo(f"no subscriptions for {email}", err=True)
        for d in digests:
            _digest(d)

    @digest.command()
    @click.option("--state", "which", type=click.Choice(OUTBOX_STATES),
                  help="Only messages in this state.")
    @click.option("--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def outbox(state: State, which: str | None, limit: int, as_json: bool) -> None:
        """Messages in the outbox, newest first: state, attempts, last error."""
        items = state.library().follow.outbox(which, limit)
        if as_json:
            click.echo(json.dumps([to_json(m) for m in items], ensure_ascii=False))
            return
        for m in items:
            when = m.sent_at or f"next {m.next_attempt_at}"
            error = f"\t{m.last_error}" if m.last_error else ""
            click.echo(f"#{m.id}\t{m.state}\t{m.kind}\t{m.recipient}\t{m.papers} papers\t"
                       f"{m.attempts} attempts\t{when}\t{m.message_id}{error}")


def _stopped(report: DigestReport) -> None:
    """Exit 1 when a message failed for good or sending stopped on the server."""
    if report.error:
        click.echo(f"error: sending stopped: {report.error}; the unsent messages wait in "
                   "the outbox for the next run", err=True)
    if report.failed or report.error:
        sys.exit(1)
