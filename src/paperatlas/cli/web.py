"""CLI command for the web app: ``paperatlas serve``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..chat import LLMSettings
from ..liveness import die_with_parent, end_with_parent
from .llm import llm_options, llm_settings
from .settings import for_web
from .state import State
from .webprocs import listening_socket as listening_socket  # (tests import it from here)
from .webprocs import run_workers

#: Seconds an idle kept-alive connection stays open (uvicorn's default is 5, the same as
#: httpx's pool expiry: a client could send on a connection just as the server closed it).
KEEP_ALIVE_S = 75


def register(main: click.Group, state_type: type[State]) -> None:
    """Add the ``serve`` command to the main group."""
    pass_state = click.make_pass_decorator(state_type)

    @main.command()
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
    @click.option("--private", is_flag=True,
                  help="Reading needs a signed-in user or an API token too.")
    @click.option("--open-signup", is_flag=True,
                  help="Anyone may sign up at /signup; the account exists once its email "
                       "address confirms it (needs a mail server to send the link).")
    @click.option("--max-upload-mb", type=click.IntRange(min=1), default=50, show_default=True,
                  help="Largest file the upload page and /api/uploads take.")
    @click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
                  help="Server processes; each holds the library's vectors in memory. One "
                       "process answers one request at a time, so use about one per core.")
    @click.option("--keep-alive", type=click.IntRange(1, 3600), default=KEEP_ALIVE_S,
                  show_default=True, metavar="SECONDS",
                  help="How long an idle kept-alive connection stays open. Longer than the "
                       "clients' and proxies' own (httpx 5 s, nginx and load balancers "
                       "60 s), so that they close first and never send on a connection "
                       "the server is closing.")
    @click.option("--base-url", default=None, metavar="URL",
                  help="Where links in mail and feeds point (default: the settings file's "
                       "base_url, else http://HOST:PORT).")
    @click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
                  help="Also answer requests for this Host name (a reverse proxy's; "
                       "'*.example.org' for subdomains). Repeatable.")
    @click.option("--no-worker", is_flag=True,
                  help="Start no job worker (run `paperatlas worker` yourself): uploads "
                       "and edits then wait in the queue.")
    @click.option("--update-every", metavar="DURATION",
                  help="Have the job worker run `paperatlas update` at start and then this "
                       "often (6h, 1d): sync the due sources, index, update the trees and "
                       "the map, send due digests. Off by default.")
    @llm_options
    @pass_state
    def serve(state: State, host: str, port: int, private: bool, open_signup: bool,
              max_upload_mb: int, workers: int, keep_alive: int, base_url: str | None,
              allowed_hosts: tuple[str, ...], no_worker: bool, update_every: str | None,
              llm_url: str | None, llm_model: str | None, llm_key: str | None,
              llm_timeout: float, no_llm: bool) -> None:
        """Serve the web app and its JSON API (docs at /docs) until Ctrl-C, with one job
        worker process beside it (`paperatlas worker`: it ingests uploads, indexes, updates
        the topic trees and the map; the server itself never does).

        Sign-in cookies are signed with $PAPERATLAS_SECRET_KEY, else with a random key kept
        in LIBRARY.db.secret. Add users with `paperatlas users add NAME` (or let people
        sign up: --open-signup). Requests for other Host names than the base URL's,
        --host, localhost and --allowed-host are refused (400)."""
        try:
            import uvicorn

            from ..web import WebSettings, create_app
            from ..web.hosts import served_url
        except ImportError as exc:
            raise click.ClickException(
                f"serve needs the web extra ({exc.name} is missing): "
                "pip install 'paperatlas[web]'") from exc
        if update_every:
            from ..facade.sources import parse_every

            parse_every(update_every)  # a bad duration fails here, not in the worker
            if no_worker:
                raise click.UsageError("--update-every runs in the job worker: drop "
                                       "--no-worker (or run `paperatlas worker "
                                       "--update-every ...` yourself)")
        served = served_url(host, port)
        digest, mail, hosts = for_web(state.settings_path, base_url=base_url,
                                      served_url=served)
        settings = WebSettings(host=host, port=port, private=private, open_signup=open_signup,
                               secret_key=secret_key(state.db),
                               max_upload_bytes=max_upload_mb * 1024 * 1024,
                               base_url=digest.base_url,
                               allowed_hosts=(*hosts, *allowed_hosts),
                               **web_llm(llm_settings(llm_url, llm_model, llm_key, llm_timeout,
                                                      no_llm)))
        click.echo(f"serving {state.db} at {served}/ (Ctrl-C stops)", err=True)
        if mail is None:
            click.echo("warning: no mail server is set up (the settings file's [smtp], or "
                       "PAPERATLAS_SMTP_HOST): email subscriptions are saved, but their "
                       "confirmation links and digests wait until one is", err=True)
            if open_signup:
                click.echo("warning: --open-signup without a mail server: sign-ups are "
                           "saved, but their confirmation links wait until one is set up",
                           err=True)
        if settings.base_url == served and host in ("0.0.0.0", "::"):
            click.echo(f"warning: links in mail and feeds point at {served}: set base_url in "
                       "the settings file or --base-url", err=True)
        if workers == 1:
            library = state.library()
            library.search.warm()
            app = create_app(library, settings, digest=digest, mail=mail)
            with job_worker(state, enabled=not no_worker, update_every=update_every,
                            base_url=digest.base_url):
                uvicorn.run(app, host=host, port=port, log_level="info",
                            timeout_keep_alive=keep_alive)
            return
        os.environ[_WORKER_CONFIG] = json.dumps({
            "db": state.db, "model": state.model, "backend": state.backend,
            "threads": max(1, (os.cpu_count() or 1) // workers),
            "settings": dataclasses.asdict(settings), "settings_path": state.settings_path})
        state.library()  # made (and migrated) once, before any process opens it
        with job_worker(state, enabled=not no_worker, update_every=update_every,
                        base_url=digest.base_url):
            serve_workers(uvicorn.Config(f"{__name__}:worker_app", factory=True,
                                         workers=workers, host=host, port=port,
                                         log_level="info", timeout_keep_alive=keep_alive))


#: Seconds ``serve`` gives its job worker to finish the running job when it stops.
WORKER_STOP_WAIT = 10.0


@contextlib.contextmanager
def job_worker(state: State, *, enabled: bool = True, update_every: str | None = None,
               base_url: str | None = None) -> Iterator[subprocess.Popen[bytes] | None]:
    """A ``paperatlas worker`` process for ``state``'s library while the block runs (with
    ``update_every``, it also runs ``paperatlas update`` on that schedule, digest links
    pointing at ``base_url``); at its end the worker gets SIGTERM (it finishes its job)
    and, after :data:`WORKER_STOP_WAIT` seconds, SIGKILL (its job is taken again by the
    next one)."""
    if not enabled or state.db == ":memory:":
        yield None
        return
    command = [sys.executable, "-m", "paperatlas", "--db", state.db,
               "--model", state.model or "none", "--embed-backend", state.backend]
    if state.settings_path:
        command += ["--settings", state.settings_path]
    command.append("worker")
    if update_every:
        command += ["--update-every", update_every]
        if base_url:
            command += ["--base-url", base_url]
    proc = subprocess.Popen(command, preexec_fn=die_with_parent)
    click.echo(f"job worker started (process {proc.pid})", err=True)
    # uvicorn raises the SIGTERM it caught again once it has shut down: end through this
    # block (stopping the worker) instead of dying on the spot.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield proc
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(WORKER_STOP_WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def serve_workers(config: Any) -> None:
    """What ``uvicorn.run`` does for ``workers > 1``, with a listening socket per process
    (``SO_REUSEPORT``: Linux spreads the connections over them) and ``TCP_NODELAY``
    (``cli/webprocs.py``)."""
    run_workers(config, note=lambda line: click.echo(line, err=True))


#: How `serve --workers N` hands its options to the worker processes uvicorn starts.
_WORKER_CONFIG = "PAPERATLAS_SERVE_CONFIG"


def web_llm(llm: LLMSettings | None) -> dict[str, Any]:
    """The web settings' fields for a chat model (none: empty)."""
    if llm is None:
        return {}
    return {"llm_url": llm.url, "llm_model": llm.model, "llm_key": llm.api_key or "",
            "llm_timeout": llm.timeout}


def worker_app() -> Any:
    """The app of one worker process of ``serve --workers N`` (uvicorn calls this in each):
    its own library connection, warmed up, with the options the command was given."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from ..library import Library
    from ..web import WebSettings, create_app

    # A killed ``serve`` leaves its web processes behind: each stops when its parent ends.
    end_with_parent(os.getppid(), signum=signal.SIGTERM)
    config = json.loads(os.environ[_WORKER_CONFIG])
    # The workers share the cores: each keeps to its share, or their thread pools fight.
    threadpool_limits(limits=config["threads"])
    library = Library(config["db"], embedding_model=config["model"],
                      embed_backend=config["backend"], embed_threads=config["threads"])
    library.search.warm()
    settings = WebSettings(**{**config["settings"],  # (JSON made the tuple a list)
                              "allowed_hosts": tuple(config["settings"]["allowed_hosts"])})
    digest, mail, _ = for_web(config.get("settings_path"), base_url=settings.base_url)
    return create_app(library, settings, digest=digest, mail=mail)


def secret_key(db: str) -> str:
    """``$PAPERATLAS_SECRET_KEY``, else a random key kept beside the library in
    ``LIBRARY.db.secret`` (made on first use, readable by its owner only)."""
    key = os.environ.get("PAPERATLAS_SECRET_KEY", "").strip()
    if key:
        return key
    path = Path(db).with_name(Path(db).name + ".secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip()
        if not key:
            raise click.ClickException(f"{path} is empty: delete it to make a new key") from None
        return key
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key
