"""The HTML pages and forms that write: tree edits, collections, uploads and their jobs.

Every form posts its session's CSRF token and needs a signed-in user; each makes the same
library call as the CLI and ``/api``, then sends the browser back to a page (303).
"""

from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..bounds import MAX_LIST, max_page, page_offset
from ..ingest import FORMAT_NAMES
from ..organize.edit_types import focus, parse_edit
from ..urls import SITE
from . import present
from .auth import SignInRequired, check_csrf, flash, local_url, page_writer, signed_in
from .context import context
from .writes import job_of, queue_index, queue_ingest, receive_upload

router = APIRouter(include_in_schema=False)

Field = Annotated[str, Form()]


def _back(url: str, default: str = "/") -> RedirectResponse:
    return RedirectResponse(local_url(url, default), status_code=303)


@router.post("/trees/{name}/edits")
def tree_edit(request: Request, name: str, op: Field = "", csrf: Field = "", node: Field = "",
              label: Field = "", parent: Field = "", into: Field = "",
              paper: Field = "") -> Response:
    """Rename, move or merge a topic, or pin a paper to it, from the topic page."""
    page_writer(request, csrf)
    name = present.tree_name(name)
    raw = {"node": node, "label": label, "parent": parent, "into": into, "paper": paper}
    if op == "merge":
        raw["nodes"] = raw.pop("node")
    edit = parse_edit(op, raw)
    with context(request).library() as lib:
        message = lib.trees.edit(name, edit)
    flash(request, message[:1].upper() + message[1:] + ".")
    return _back(present.tree_url(name, focus(edit)))


@router.get("/collections", response_class=HTMLResponse)
def collections(request: Request) -> HTMLResponse:
    """The collections, with a form to make one."""
    ctx = context(request)
    with ctx.library() as lib:
        items = lib.collections.all()
    return ctx.render(request, "collections.html", {"collections": items})


@router.post("/collections")
def collection_create(request: Request, name: Field = "", csrf: Field = "") -> Response:
    page_writer(request, csrf)
    with context(request).library() as lib:
        made = lib.collections.create(name)
    flash(request, f"Collection {made.name!r} created.")
    return _back(collection_url(made.name))


@router.post("/collections/add")
def collection_add(request: Request, collection: Field = "", key: Field = "",
                   csrf: Field = "", back: Field = "") -> Response:
    """Put a paper (by key or identifier) in a collection."""
    page_writer(request, csrf)
    with context(request).library() as lib:
        added = lib.collections.add(collection, [key.strip()])
    if added:
        queue_index(request, collection)
    flash(request, f"Added to {collection!r}." if added else f"Already in {collection!r}.")
    return _back(back, collection_url(collection))


@router.post("/collections/remove")
def collection_remove(request: Request, collection: Field = "", key: Field = "",
                      csrf: Field = "", back: Field = "") -> Response:
    """Take a paper out of a collection (it stays in the library)."""
    page_writer(request, csrf)
    with context(request).library() as lib:
        removed = lib.collections.remove(collection, [key])
    if removed:
        queue_index(request, collection)
    flash(request, f"Removed from {collection!r}.")
    return _back(back, collection_url(collection))


@router.get("/collections/{name:path}", response_class=HTMLResponse)
def collection(request: Request, name: str,
               page: Annotated[int, Query(ge=1)] = 1) -> HTMLResponse:
    """A collection's papers, newest first, with forms to add and remove papers."""
    ctx = context(request)
    size = ctx.settings.page_size
    with ctx.library() as lib:
        total = lib.papers.count(name)
        papers = list(lib.papers(collection=name, limit=size,
                                 offset=page_offset(page, size, MAX_LIST), order="recent"))
    return ctx.render(request, "collection.html", {
        "name": name, "papers": papers, "total": total,
        "pager": present.Pager(page, size, total, limit=max_page(size, MAX_LIST))})


@router.get("/uploads", response_class=HTMLResponse)
def uploads(request: Request) -> HTMLResponse:
    """The upload form and the recent jobs (uploads and the work they queued)."""
    ctx = context(request)
    with ctx.library() as lib:
        items = lib.jobs.recent(20)
        names = [c.name for c in lib.collections.all()]
        pending = lib.search.pending()
    return ctx.render(request, "uploads.html", {
        "jobs": items, "pending": pending, "formats": FORMAT_NAMES,
        "collections": names, "limit": ctx.settings.max_upload_bytes})


@router.post("/uploads")
async def upload(request: Request) -> Response:
    """Save the file, queue its ingest and show the job's page."""
    user = await run_in_threadpool(signed_in, request)
    if user is None:  # refused before the file is read
        raise SignInRequired("sign in to upload", "/uploads")
    received = await receive_upload(request)
    try:
        check_csrf(request, received.fields.get("csrf"))
    except Exception:
        shutil.rmtree(received.path.parent, ignore_errors=True)
        raise
    job = await run_in_threadpool(queue_ingest, request, received, user)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job(request: Request, job_id: int) -> HTMLResponse:
    """A job's progress, counts and per-record errors (the page reloads until it ends)."""
    found = job_of(request, job_id)
    return context(request).render(request, "job.html", {"job": found})


def collection_url(name: str) -> str:
    return SITE.collection(name)
