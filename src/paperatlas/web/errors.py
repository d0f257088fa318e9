"""Errors as answers: core exceptions become typed 4xx/5xx, JSON under ``/api``, else a page.

The JSON body is always ``{"error": {"type": ..., "message": ...}}``; no error is ever
answered with status 200.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from ..errors import (
    AuthError,
    ConflictError,
    InvalidOptionError,
    LibraryWriteError,
    NotFoundError,
    OutOfRangeError,
    PaperatlasError,
    ParseError,
    PreconditionError,
    StoreError,
    TooManyRequestsError,
    UnknownFormatError,
    UpstreamError,
)
from ..follow.mail import MessageError, TransportError
from ..follow.tokens import LinkError
from ..organize.edits import EditError
from ..organize.llm import LLMError
from ..search.lexical import IndexBusyError
from ..sources.http import SourceError
from ..vectors import ModelMismatchError
from .context import context

#: HTTP status of each core exception, every class named (tests/test_errors.py walks
#: them all); the first matching class wins, so a subclass comes before its base.
STATUS: tuple[tuple[type[PaperatlasError], int], ...] = (
    (NotFoundError, 404),
    (AuthError, 401),  # a wrong password or API token
    (ConflictError, 409),  # the name is taken
    (ModelMismatchError, 409),  # the vectors are another model's: re-embed first
    (PreconditionError, 409),  # no map, vectors, tree or model yet: the message says how
    (TooManyRequestsError, 429),  # with Retry-After
    (OutOfRangeError, 400),
    (InvalidOptionError, 400),
    (UnknownFormatError, 400),
    (ParseError, 400),
    (EditError, 400),  # an edit this tree cannot take
    (LinkError, 400),  # a forged, cut or expired mail link
    (LLMError, 502),  # the chat model endpoint failed
    (TransportError, 502),  # the SMTP server cannot be reached
    (MessageError, 502),  # the SMTP server refused a message
    (SourceError, 502),  # a remote source failed (sync)
    (UpstreamError, 502),
    (IndexBusyError, 503),  # another process holds the index writer
    (LibraryWriteError, 503),  # the disk is full or the library read-only
    (StoreError, 503),  # the library is busy or cannot be opened
    (PaperatlasError, 400),
)


def status_of(exc: PaperatlasError) -> int:
    return next(code for cls, code in STATUS if isinstance(exc, cls))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


def error_response(request: Request, status: int, kind: str, message: str) -> Response:
    """The answer to a failed request: JSON for the API, an HTML page otherwise."""
    if _wants_json(request):
        return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)
    return context(request).render(
        request, "error.html",
        {"status": status, "phrase": _phrase(status), "kind": kind, "message": message},
        status_code=status)


async def _core_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PaperatlasError)
    response = error_response(request, status_of(exc), type(exc).__name__, str(exc))
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequestsError):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    phrase = _phrase(exc.status_code)
    message = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else {
        404: f"nothing at {request.url.path}"}.get(exc.status_code, phrase)
    response = error_response(request, exc.status_code, phrase.replace(" ", ""), message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return error_response(request, 400, "InvalidParameter", "; ".join(problems))


async def _lone_surrogate(request: Request, exc: Exception) -> Response:
    # JSON may spell a lone surrogate ("\\ud800"), which no UTF-8 text (SQLite's, a
    # page's) can hold: the request's fault. Any other encoding error is the server's.
    assert isinstance(exc, UnicodeEncodeError)
    if exc.reason != "surrogates not allowed":
        raise exc
    return error_response(request, 400, "InvalidText", "the request holds text with a lone "
                          "surrogate (such as \\ud800), which is not valid Unicode text")


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The server still logs the exception with its traceback.
    return error_response(request, 500, "InternalError",
                          "something went wrong on the server; the log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Answer core, HTTP, validation and unexpected errors in the app's one error format."""
    app.add_exception_handler(PaperatlasError, _core_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(UnicodeEncodeError, _lone_surrogate)
    app.add_exception_handler(Exception, _unexpected)
