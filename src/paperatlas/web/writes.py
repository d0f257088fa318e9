"""What the write routes (forms and ``/api``) share: the nodes an edit form offers, the
upload receiver, and queueing jobs.

An upload is saved into its own folder under the upload directory (``LIBRARY.db.uploads``
unless ``WebSettings.upload_dir`` says otherwise) and kept there, since the papers' sources
point to it; its ingest is queued as a job, which the job worker (``paperatlas worker``,
started by ``serve``) runs, then the index, tree update and map placement it queues in turn.
The server itself never ingests, indexes or embeds; a job's progress is read from the
library.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from ..errors import InvalidOptionError
from ..ingest import FORMAT_NAMES
from ..records.jobs import Job
from ..records.trees import ROOT, UNSORTED, Tree
from ..treeview import display_label
from .context import AppContext, context

log = logging.getLogger(__name__)

#: What a multipart form may add to the size of the file it carries.
FORM_OVERHEAD = 64 * 1024


def install(app: FastAPI) -> None:
    """Where uploads go (their jobs wait in the library for the worker)."""
    ctx: AppContext = app.state.paperatlas
    with ctx.library() as lib:
        root = ctx.settings.upload_dir or str(lib.path.with_name(lib.path.name + ".uploads"))
    app.state.upload_root = Path(root)


# -- tree edits -------------------------------------------------------------------------------
def edit_targets(tree: Tree, node_id: int) -> list[dict[str, Any]]:
    """The nodes an edit form offers to move a topic under or merge it into: every node but
    this one, its descendants and the Unsorted node, with its path as the label."""
    below = set(tree.subtree_ids(node_id)) if node_id in tree.nodes else set()
    out = []
    for node, _ in tree.walk():
        if node.id in below or node.kind == UNSORTED:
            continue
        label = " \u203a ".join(display_label(n.label, n.kind, n.id) for n in tree.path(node.id))
        out.append({"id": node.id, "label": label or "(top level)", "topic": node.kind != ROOT})
    return out


# -- jobs ---------------------------------------------------------------------------------------
def job_of(request: Request, job_id: int) -> Job:
    """A job as it stands now (its progress is written by the process running it)."""
    with context(request).library() as lib:
        return lib.jobs.get(job_id)


@dataclass(frozen=True)
class Upload:
    """A received file, saved, and the form's other fields."""

    path: Path
    size: int
    fields: dict[str, str]

    def options(self) -> dict[str, Any]:
        """The ingest options the form asked for (collection, format, index)."""
        fmt = self.fields.get("format", "").strip() or None
        if fmt is not None and fmt not in FORMAT_NAMES:
            raise InvalidOptionError("format", fmt, list(FORMAT_NAMES))
        index = self.fields.get("index", "").strip().lower() in ("1", "true", "on", "yes")
        return {"collection": self.fields.get("collection", "").strip() or None,
                "format": fmt, "index": index}


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the file is larger than the upload limit of {limit:,} bytes")


async def receive_upload(request: Request) -> Upload:
    """Save the ``file`` of a multipart form into a fresh folder; 413 beyond the limit."""
    limit = context(request).settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_large(limit)  # refused before the body is read
    form = await request.form(max_files=1, max_fields=20)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise InvalidOptionError("upload", "no file", ["a file in the form field 'file'"])
        folder = request.app.state.upload_root / secrets.token_hex(8)
        path, size = await run_in_threadpool(_save, file.file, folder, file.filename, limit)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    finally:
        await form.close()
    return Upload(path, size, fields)


def safe_name(name: str) -> str:
    """A client's file name as a plain file name: its last part, odd characters as ``_``."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[^\w.\-]+", "_", base).lstrip("._")[-120:]
    return cleaned or "upload"


def _save(source: BinaryIO, folder: Path, filename: str, limit: int) -> tuple[Path, int]:
    folder.mkdir(parents=True)
    dest = folder / safe_name(filename)
    size = 0
    with dest.open("wb") as out:
        while chunk := source.read(1 << 20):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        shutil.rmtree(folder, ignore_errors=True)
        raise too_large(limit)
    return dest, size


def queue_ingest(request: Request, upload: Upload, user: str) -> Job:
    """Queue the ingest of a saved upload for the job worker."""
    options = upload.options()
    params = {"file": upload.path.name, "bytes": upload.size, **options}
    params["collection"] = options["collection"] or upload.path.stem
    payload = {"path": str(upload.path)}
    with context(request).library() as lib:
        beside = lib.path.with_name(lib.path.name + ".uploads")
        if upload.path.is_relative_to(beside):  # found again beside a restored library
            payload["upload"] = upload.path.relative_to(beside).as_posix()
        return lib.jobs.enqueue("ingest", params, created_by=user, payload=payload)


def queue_index(request: Request, collection: str) -> None:
    """Queue an index job for a collection's changed papers (so that they reach its search
    filter and its trees); one already queued takes the collection in."""
    with context(request).library() as lib:
        lib.jobs.enqueue("index", {"collections": [collection]})
