"""Exceptions raised by the paperatlas core.

Every error a user can cause is a :class:`PaperatlasError`; the CLI and web
edges turn them into a message and a non-zero exit (or a 4xx answer; a 409 when the
library lacks something a call needs, a 502 when an outside service failed).
"""

from __future__ import annotations


class PaperatlasError(Exception):
    """Base class of every error the core raises on purpose."""


class ParseError(PaperatlasError):
    """A file could not be parsed; names the file and, when known, the line."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        where = path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class UnknownFormatError(PaperatlasError):
    """A format name that does not exist, or a file whose format cannot be detected."""


class InvalidOptionError(PaperatlasError):
    """A bad option value; the message lists the valid ones."""

    def __init__(self, option: str, value: object, valid: list[str] | tuple[str, ...]) -> None:
        self.option = option
        self.value = value
        self.valid = list(valid)
        super().__init__(
            f"invalid {option} {value!r}; valid values are: {', '.join(self.valid)}"
        )


class NotFoundError(PaperatlasError):
    """A paper, collection or other named object does not exist."""


class StoreError(PaperatlasError):
    """The database cannot be opened or is from a newer paperatlas."""


class LibraryWriteError(StoreError):
    """The library cannot be written: its disk is full, or it (or its folder) is
    read-only. Nothing committed before is lost."""


class AuthError(PaperatlasError):
    """A wrong user name, password or API token (the message never says which)."""


class ConflictError(PaperatlasError):
    """Something with that name already exists (a user, a collection)."""


class TooManyRequestsError(PaperatlasError):
    """Too many attempts in a while (sign-ins, tokens, confirmation mails); the web edge
    answers 429 with ``Retry-After: retry_after`` (whole seconds, at least 1)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(message)


class PreconditionError(PaperatlasError):
    """The library lacks something the call needs (a map, vectors, a tree, an embedding
    model); the message names the command that makes it. The web edge answers 409."""


class UpstreamError(PaperatlasError):
    """An outside service (a chat model endpoint, an SMTP server) failed or refused; the
    web edge answers 502."""


class OutOfRangeError(InvalidOptionError):
    """A number (offset, page, limit, year, id) outside its bounds; names the valid range."""

    def __init__(self, option: str, value: object, low: int, high: int) -> None:
        shown = value if len(str(value)) <= 40 else f"{str(value)[:40]}..."
        super().__init__(option, shown, [f"{low} to {high}"])
        self.value, self.low, self.high = value, low, high
