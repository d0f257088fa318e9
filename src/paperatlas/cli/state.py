"""What every command gets: the global options and the library, opened on first use.

Commands type their ``state`` parameter as :class:`State`, so mypy checks each call they
make on the library (a misspelled method is an error, not an ``Any``). The library module
is imported only when a command opens it (and under ``TYPE_CHECKING``): ``--help`` and the
commands that need no engine load none.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotFoundError

if TYPE_CHECKING:
    from ..library import Library


class State:
    """The global options (``--db``, ``--model``, ``--embed-backend``, ``--settings``) and
    the library they name."""

    def __init__(self, db: str, model: str | None, backend: str = "auto",
                 settings_path: str | None = None, *, create: bool = True) -> None:
        self.db = db
        self.create = create  # False: a missing library file is an error, not a new library
        self.settings_path = settings_path  # the TOML settings file (SMTP, digests)
        self.model = model
        self.backend = backend
        self._library: Library | None = None

    def library(self) -> Library:
        """The library, opened (and made, for the commands that may create it) once."""
        if self._library is None:
            if not self.create and self.db != ":memory:" and not Path(self.db).exists():
                raise NotFoundError(f"no library at {self.db}; create one with `paperatlas "
                                    "ingest FILE` (or name another with --db or "
                                    "PAPERATLAS_DB)")
            from ..library import Library  # here, not at the top: --help loads no engine

            self._library = Library(self.db, embedding_model=self.model,
                                    embed_backend=self.backend)
        return self._library

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
