"""The JSON API's writes (tree edits, collections, uploads) and jobs.

Every write needs ``Authorization: Bearer TOKEN`` (``paperatlas users token NAME``) and
makes the same library call as the CLI and the forms.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from ..errors import InvalidOptionError
from ..ingest import FORMAT_NAMES
from ..organize.edit_types import parse_edit
from ..records.serialize import to_json
from .auth import api_writer
from .context import context
from .present import tree_name
from .writes import job_of, queue_index, queue_ingest, receive_upload

router = APIRouter(prefix="/api")

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad argument; the message lists the valid values."},
    401: {"description": "No API token, or an unknown one."},
    404: {"description": "No such tree, node, collection or paper."},
}
Keys = Annotated[list[str], Body(embed=True, description="Paper keys or identifiers.")]
UPLOAD_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "collection": {"type": "string", "description": "Default: the file's name."},
        "format": {"type": "string", "enum": list(FORMAT_NAMES),
                   "description": "Default: detected."},
        "index": {"type": "boolean", "description": "Accepted for older clients: new "
                  "papers are always indexed and embedded by the job worker."},
    }}}}}}


@router.post("/trees/{name}/edits", tags=["trees"], responses=WRITE_ERRORS)
def tree_edit(request: Request, name: str,
              body: Annotated[dict[str, Any], Body(examples=[
                  {"op": "rename", "node": 3, "label": "Protein folding"},
                  {"op": "move", "node": 3, "parent": 1},
                  {"op": "merge", "nodes": [4, 5], "into": 3},
                  {"op": "pin", "paper": "2405.00001", "node": 3}])]) -> dict[str, Any]:
    """Correct a tree, as ``paperatlas tree edit`` does: ``op`` (rename, lock, unlock, move,
    merge, split, delete, move-paper, pin, unpin) and its arguments. The edit joins the
    tree's edit log and is replayed after updates and rebuilds."""
    api_writer(request)
    args = dict(body)
    op = args.pop("op", None)
    if not isinstance(op, str):
        raise InvalidOptionError("edit", op, ["a body with 'op' and its arguments"])
    edit = parse_edit(op, args, strict=True)
    name = tree_name(name)
    with context(request).library() as lib:
        message = lib.trees.edit(name, edit)
    return {"tree": name, "op": edit.op, "args": edit.args(), "message": message}


@router.get("/trees/{name}/history", tags=["trees"], responses=WRITE_ERRORS)
def tree_history(request: Request, name: str,
                 limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
    """The tree's change log, newest first: builds, updates and edits."""
    with context(request).library() as lib:
        return lib.trees.history(tree_name(name), limit)


@router.post("/collections", tags=["papers"], status_code=201, responses={
    **WRITE_ERRORS, 409: {"description": "A collection with that name exists."}})
def collection_create(request: Request,
                      name: Annotated[str, Body(embed=True)]) -> dict[str, Any]:
    """Create an empty collection."""
    api_writer(request)
    with context(request).library() as lib:
        return to_json(lib.collections.create(name))


@router.post("/collections/{name:path}/papers", tags=["papers"], responses=WRITE_ERRORS)
def collection_add(request: Request, name: str, keys: Keys) -> dict[str, Any]:
    """Put papers in a collection; ``added`` counts those not already in it."""
    api_writer(request)
    with context(request).library() as lib:
        added = lib.collections.add(name, keys)
        size = lib.papers.count(name)
    if added:
        queue_index(request, name)
    return {"collection": name, "added": added, "papers": size}


@router.delete("/collections/{name:path}/papers", tags=["papers"], responses=WRITE_ERRORS)
def collection_remove(request: Request, name: str, keys: Keys) -> dict[str, Any]:
    """Take papers out of a collection (they stay in the library)."""
    api_writer(request)
    with context(request).library() as lib:
        removed = lib.collections.remove(name, keys)
        size = lib.papers.count(name)
    if removed:
        queue_index(request, name)
    return {"collection": name, "removed": removed, "papers": size}


@router.post("/uploads", tags=["papers"], status_code=202, openapi_extra=UPLOAD_FORM,
             responses={**WRITE_ERRORS, 413: {"description": "The file is over the limit."}})
async def upload(request: Request) -> JSONResponse:
    """Upload a file to ingest (any format ``paperatlas ingest`` reads). The answer comes at
    once with the queued job; follow it at ``/api/jobs/{id}``. The job worker ingests it,
    then indexes, embeds and places the new papers in the topic trees and on the map
    (jobs of their own, listed at ``/api/jobs``)."""
    user = api_writer(request)
    received = await receive_upload(request)
    job = await run_in_threadpool(queue_ingest, request, received, user)
    return JSONResponse({"job": to_json(job), "url": f"/api/jobs/{job.id}",
                         "page": f"/jobs/{job.id}"}, status_code=202)


@router.get("/jobs/{job_id}", tags=["papers"], responses=WRITE_ERRORS)
def job(request: Request, job_id: int) -> dict[str, Any]:
    """A job: ``kind`` (ingest, index, tree_update, map_place), ``status`` (queued, running,
    done, failed), progress as ``done`` of ``total`` (bytes of an ingest, papers of an index,
    trees of a tree update), the work's counts in ``result``, each rejected record in
    ``errors`` (file, line, reason), ``parent`` (the job whose end queued it) and, for a
    failed job, its ``message``."""
    return to_json(job_of(request, job_id))


@router.get("/jobs", tags=["papers"])
def jobs(request: Request,
         limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[dict[str, Any]]:
    """Recent jobs, newest first, as the worker left them (queued and running ones with
    their progress)."""
    with context(request).library() as lib:
        return [to_json(j) for j in lib.jobs.recent(limit)]
