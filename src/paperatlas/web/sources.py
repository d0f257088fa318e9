"""The remote sources a library follows: the Sources page and ``/api/sources``.

Both are for the library's keepers: the page needs a signed-in user (its forms the CSRF
token too), the API a bearer token. They make the CLI's calls (``paperatlas sources
add|pause|resume|remove``); "run now" queues a ``sync`` job for the job worker, never
fetching inside the request (and a GET never syncs).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import InvalidOptionError
from ..facade.sources import parse_every
from ..library import Library
from ..records.jobs import Job
from ..records.serialize import to_json
from ..records.sources import SOURCE_KINDS, SourceSpec, SourceState
from .auth import SignInRequired, api_writer, flash, page_writer, signed_in
from .context import context

router = APIRouter()

SOURCE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad option; the message lists the valid values."},
    401: {"description": "No API token, or an unknown one."},
    404: {"description": "No such source."},
    409: {"description": "A source with that name exists."},
}
Field = Annotated[str, Form()]
Text = Annotated[str | None, Body()]


def _spec(name: str, kind: str, query: str | None, category: str | None, since: str | None,
          collection: str | None, every: str | None, base_url: str | None) -> SourceSpec:
    """A source as a form or a JSON body gives it (empty fields: not given)."""
    def blank(value: str | None) -> str | None:
        return (value or "").strip() or None

    return SourceSpec(name=name.strip(), kind=kind.strip(), query=blank(query),
                      category=blank(category), since=blank(since),
                      collection=blank(collection),
                      every_seconds=parse_every(blank(every) or "1d"),
                      base_url=blank(base_url))


def _run_now(lib: Library, name: str, user: str) -> Job:
    """Queue a sync of one source for the worker (one queued sync takes the name in)."""
    lib.sources[name]  # a missing source is a 404, not a failed job later
    return lib.jobs.enqueue("sync", {"sources": [name]}, created_by=user)


def _queued(lib: Library) -> dict[str, Job]:
    """The unfinished sync job of each source that has one."""
    out: dict[str, Job] = {}
    for job in lib.jobs.unfinished():
        if job.kind == "sync":
            for name in job.params.get("sources") or []:
                out.setdefault(str(name), job)
    return out


def every_text(seconds: int) -> str:
    """``21600`` as ``6h``, ``86400`` as ``1d``: the largest unit that divides it."""
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- the page -------------------------------------------------------------------------------
@router.get("/sources", response_class=HTMLResponse, include_in_schema=False)
def sources_page(request: Request) -> HTMLResponse:
    """Each source: what it asks, how often, last run, next due, papers added, last error;
    forms to add one, pause, resume, remove, and run now."""
    if signed_in(request) is None:
        raise SignInRequired("sign in to manage the sources", "/sources")
    ctx = context(request)
    with ctx.library() as lib:
        items = lib.sources.all()
        queued = _queued(lib)
        names = [c.name for c in lib.collections.all()]
    return ctx.render(request, "sources.html", {
        "sources": items, "queued": queued, "kinds": SOURCE_KINDS, "collections": names,
        "every_text": every_text})


@router.post("/sources", include_in_schema=False)
def sources_add(request: Request, name: Field = "", kind: Field = "", query: Field = "",
                category: Field = "", since: Field = "", collection: Field = "",
                every: Field = "1d", base_url: Field = "", csrf: Field = "") -> Response:
    page_writer(request, csrf)
    spec = _spec(name, kind, query, category, since, collection, every, base_url)
    with context(request).library() as lib:
        added = lib.sources.add(spec)
    flash(request, f"Source {added.name!r} added: the next update (or Run now) fetches it.")
    return RedirectResponse("/sources", status_code=303)


@router.post("/sources/{name}/{action}", include_in_schema=False)
def sources_act(request: Request, name: str, action: str, csrf: Field = "") -> Response:
    """Pause, resume, remove or run now, from the Sources page."""
    user = page_writer(request, csrf)
    with context(request).library() as lib:
        message = _act(lib, name, action, user)
    flash(request, message)
    return RedirectResponse("/sources", status_code=303)


#: What the page's buttons do.
ACTIONS: tuple[str, ...] = ("pause", "resume", "run", "remove")


def _act(lib: Library, name: str, action: str, user: str) -> str:
    if action not in ACTIONS:
        raise InvalidOptionError("source action", action, ACTIONS)
    if action == "run":
        job = _run_now(lib, name, user)
        return f"Sync of {name!r} queued (job {job.id}): the job worker fetches it."
    if action == "remove":
        lib.sources.remove(name)
        return f"Source {name!r} removed (its papers stay)."
    state = lib.sources.pause(name, action == "pause")
    return f"Source {state.name!r} {'paused' if state.paused else 'resumed'}."


# -- the API --------------------------------------------------------------------------------
def _state_json(state: SourceState, queued: dict[str, Job]) -> dict[str, Any]:
    out = to_json(state)
    job = queued.get(state.name)
    out["queued_job"] = job.id if job is not None else None
    return out


@router.get("/api/sources", tags=["sources"], responses=SOURCE_ERRORS)
def api_sources(request: Request) -> list[dict[str, Any]]:
    """The sources (token needed): ``spec`` (kind, query, category, since, collection,
    every_seconds, base_url), ``paused``, ``cursor``, ``last_run_at``, ``next_due_at``,
    ``runs``, ``records``, ``added``, ``last_error``, ``queued_job`` (a sync waiting)."""
    api_writer(request)
    with context(request).library() as lib:
        queued = _queued(lib)
        return [_state_json(s, queued) for s in lib.sources.all()]


@router.post("/api/sources", tags=["sources"], status_code=201, responses=SOURCE_ERRORS)
def api_sources_add(request: Request, name: Annotated[str, Body()],
                    kind: Annotated[str, Body(description=", ".join(SOURCE_KINDS))],
                    query: Text = None, category: Text = None, since: Text = None,
                    collection: Text = None,
                    every: Annotated[str | None, Body(description="30m, 6h, 1d, 1w")] = None,
                    base_url: Text = None) -> dict[str, Any]:
    """Follow a remote source, as ``paperatlas sources add`` does; the next update (or
    ``POST /api/sources/{name}/run``) fetches it."""
    api_writer(request)
    spec = _spec(name, kind, query, category, since, collection, every, base_url)
    with context(request).library() as lib:
        return _state_json(lib.sources.add(spec), {})


@router.post("/api/sources/{name}/run", tags=["sources"], status_code=202,
             responses=SOURCE_ERRORS)
def api_sources_run(request: Request, name: str) -> dict[str, Any]:
    """Queue a sync of the source for the job worker; follow it at ``/api/jobs/{id}``."""
    user = api_writer(request)
    with context(request).library() as lib:
        job = _run_now(lib, name, user)
    return {"job": to_json(job), "url": f"/api/jobs/{job.id}", "page": f"/jobs/{job.id}"}


@router.post("/api/sources/{name}/{action}", tags=["sources"], responses=SOURCE_ERRORS)
def api_sources_pause(request: Request, name: str, action: str) -> dict[str, Any]:
    """``pause`` or ``resume`` the source's scheduled syncs."""
    api_writer(request)
    if action not in ("pause", "resume"):
        raise InvalidOptionError("source action", action, ("pause", "resume", "run"))
    with context(request).library() as lib:
        return _state_json(lib.sources.pause(name, action == "pause"), _queued(lib))


@router.delete("/api/sources/{name}", tags=["sources"], responses=SOURCE_ERRORS)
def api_sources_remove(request: Request, name: str) -> dict[str, Any]:
    """Stop following the source (its papers stay)."""
    api_writer(request)
    with context(request).library() as lib:
        lib.sources.remove(name)
    return {"removed": name}
