"""The typed record of a background job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

#: The states of a job, in the order a job goes through them.
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed")


@dataclass
class Job:
    """Background work (ingest, index, tree update, map placement): progress, result and
    per-record errors."""

    json_computed: ClassVar[tuple[str, ...]] = ("finished",)

    id: int
    kind: str
    status: str
    params: dict[str, Any]
    created_at: str
    created_by: str | None = None
    done: int = 0  # progress, in the job's unit (bytes read for an ingest)
    total: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None  # why a failed job failed
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int = 0  # how many times a process took it (more than one: resumed)
    parent: int | None = None  # the job whose end queued it

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")
