"""Every core error class has its own web status; outside failures 502, missing state 409."""

from __future__ import annotations

import importlib
import pkgutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import paperatlas
from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import PaperatlasError, PreconditionError, UpstreamError
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv
from test_tree_llm import TopWordLabeler

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from paperatlas.follow.mail import SmtpTransport
from paperatlas.follow.settings import MailSettings
from paperatlas.organize.base import Group
from paperatlas.organize.llm import LLMLabeler
from paperatlas.web import WebSettings, create_app
from paperatlas.web.errors import STATUS, status_of

#: The status each class answers with, decided one by one.
EXPECTED = {
    "PaperatlasError": 400, "ParseError": 400, "UnknownFormatError": 400,
    "InvalidOptionError": 400, "OutOfRangeError": 400, "NotFoundError": 404,
    "StoreError": 503, "IndexBusyError": 503, "AuthError": 401, "ConflictError": 409,
    "TooManyRequestsError": 429, "PreconditionError": 409, "ModelMismatchError": 409,
    "UpstreamError": 502, "LLMError": 502, "TransportError": 502, "MessageError": 502,
    "EditError": 400, "LinkError": 400, "SourceError": 502, "LibraryWriteError": 503,
}


def core_error_classes() -> set[type[PaperatlasError]]:
    """PaperatlasError and every subclass defined anywhere in the package."""
    for module in pkgutil.walk_packages(paperatlas.__path__, "paperatlas."):
        importlib.import_module(module.name)
    found: set[type[PaperatlasError]] = set()
    todo = [PaperatlasError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    return found


def test_every_core_error_class_is_mapped_explicitly() -> None:
    classes = core_error_classes()
    listed = [cls for cls, _ in STATUS]
    missing = sorted(c.__qualname__ for c in classes - set(listed))
    assert not missing, f"add these to web/errors.py STATUS: {missing}"
    assert len(listed) == len(set(listed))
    for i, (cls, code) in enumerate(STATUS):  # no entry hidden behind an earlier base
        shadows = [base for base in listed[:i] if issubclass(cls, base)]
        assert not shadows, f"{cls.__qualname__} comes after its base {shadows[0].__qualname__}"
        assert status_of(cls.__new__(cls)) == code
    assert {c.__qualname__: status_of(c.__new__(c)) for c in classes} == EXPECTED


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return port


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Library]:
    """Six papers, lexical only (no embedding model)."""
    lib = Library(tmp_path / "plain.db", embedding_model=None)
    lib.ingest([write_csv(tmp_path / "in" / "a.csv", papers_of("ocean", 6))], index=True)
    yield lib
    lib.close()


def test_outside_failures_answer_502(plain: Library) -> None:
    app = create_app(plain, WebSettings())
    port = closed_port()

    def llm() -> None:  # a real failed call to a chat model endpoint
        labeler = LLMLabeler(f"http://127.0.0.1:{port}/v1", "m", keywords=TopWordLabeler(),
                             timeout=5)
        labeler.label([Group(node_id=1, titles=["A paper"], texts=["a paper"])])

    def smtp() -> None:  # a real failed connection to an SMTP server
        SmtpTransport(MailSettings(host="127.0.0.1", port=port, timeout=5)).send(
            "ada@example.org", b"Subject: hi\r\n\r\nhi\r\n")

    app.add_api_route("/api/probe/llm", llm)
    app.add_api_route("/api/probe/smtp", smtp)
    app.add_api_route("/probe/smtp", smtp)
    client = TestClient(app)
    r = client.get("/api/probe/llm")
    assert r.status_code == 502, r.text
    assert r.json()["error"]["type"] == "LLMError"
    assert f"127.0.0.1:{port}" in r.json()["error"]["message"]
    r = client.get("/api/probe/smtp")
    assert r.status_code == 502 and r.json()["error"]["type"] == "TransportError", r.text
    page = client.get("/probe/smtp")
    assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")


def test_missing_state_answers_409(plain: Library) -> None:
    client = TestClient(create_app(plain, WebSettings()))
    r = client.get("/api/map")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["type"] == "PreconditionError"
    assert "`paperatlas map build`" in r.json()["error"]["message"]
    r = client.get("/api/search", params={"q": "ocean", "mode": "semantic"})
    assert r.status_code == 409 and "no embedding model configured" in r.text, r.text
    assert client.get("/api/search", params={"q": "ocean", "mode": "lexical"}).status_code == 200


def test_semantic_search_without_vectors_answers_409(tmp_path: Path) -> None:
    lib = Library(tmp_path / "m.db", embedding_model=HashingEmbedder("hash-64"))
    try:
        lib.ingest([write_csv(tmp_path / "in" / "a.csv", papers_of("ocean", 6))])
        client = TestClient(create_app(lib, WebSettings()))
        r = client.get("/api/search", params={"q": "ocean", "mode": "semantic"})
        assert r.status_code == 409, r.text
        assert "`paperatlas index`" in r.json()["error"]["message"]
        with pytest.raises(PreconditionError, match="no paper vectors yet"):
            lib.search("ocean", mode="semantic")
        lib.index()
        assert lib.search("ocean", mode="semantic").total == 6
    finally:
        lib.close()


def test_cli_exits_non_zero_with_the_message(plain: Library) -> None:
    db = ["--db", str(plain.path), "--model", "none"]
    r = CliRunner().invoke(main, [*db, "search", "ocean", "--mode", "semantic"])
    assert r.exit_code == 1 and "no embedding model configured" in r.output, r.output
    r = CliRunner().invoke(main, [*db, "tree", "build"])
    assert r.exit_code == 1 and "`paperatlas index`" in r.output, r.output
    assert issubclass(PreconditionError, PaperatlasError)
    assert issubclass(UpstreamError, PaperatlasError)
