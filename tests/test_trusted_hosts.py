"""Links in mail and feeds come from the configured base URL (else the address ``serve``
listens on), never from the request's ``Host`` header; unknown hosts are answered 400."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.web import WebSettings, create_app
from test_tree import papers_of, write_csv

EVIL = {"Host": "evil.example"}


def csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/subscribe").text)
    assert found
    return found.group(1)


def mails(lib: Library) -> list[bytes]:
    out = []
    for m in lib.follow.outbox(limit=100):
        body = lib.store.outbox.message(m.message_id)
        assert body is not None
        out.append(body)
    return out


@pytest.fixture
def filled(lib: Library, tmp_path: Path) -> Library:
    lib.ingest([write_csv(tmp_path / "in" / "p.csv", papers_of("protein", 3))])
    return lib


def test_a_forged_host_never_reaches_the_confirmation_mail(lib: Library) -> None:
    client = TestClient(create_app(lib, WebSettings(secret_key="k", host="127.0.0.1",
                                                    port=8123)))
    token = csrf(client)
    r = client.post("/subscribe", headers=EVIL, data={
        "csrf": token, "email": "ada@example.org", "search": ["x"]})
    assert r.status_code == 400 and "evil.example" in r.text
    assert not any(b"evil.example" in body for body in mails(lib))
    # through a trusted name, links still point at the address the server listens on
    r = client.post("/subscribe", data={"csrf": token, "email": "ada@example.org",
                                        "search": ["x"]})
    assert r.status_code == 200
    [body] = mails(lib)
    assert b"http://127.0.0.1:8123/subscriptions/confirm/" in body
    assert b"testserver" not in body


def test_feed_links_use_the_configured_base_url(filled: Library) -> None:
    client = TestClient(create_app(filled, WebSettings(
        base_url="https://papers.example.org/")))
    for fmt in ("atom", "rss"):
        r = client.get(f"/feeds/newest.{fmt}")
        assert r.status_code == 200
        assert "https://papers.example.org/papers/" in r.text
        assert "https://papers.example.org/feeds/newest." in r.text  # the feed's own link
        assert "testserver" not in r.text
    assert client.get("/feeds/newest.atom", headers=EVIL).status_code == 400
    # the base URL's host is trusted
    r = client.get("/feeds/newest.atom", headers={"Host": "papers.example.org"})
    assert r.status_code == 200 and "https://papers.example.org/papers/" in r.text


def test_without_a_base_url_feeds_point_at_the_served_address(filled: Library) -> None:
    client = TestClient(create_app(filled, WebSettings(host="127.0.0.1", port=8123)))
    r = client.get("/feeds/newest.atom", headers={"Host": "localhost:8123"})
    assert r.status_code == 200 and "http://127.0.0.1:8123/papers/" in r.text
    assert "localhost" not in r.text


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "", "127.0.0.1.evil.example",
                                  "[::2]:80", "localhost@evil.example"])
def test_unknown_hosts_are_refused(lib: Library, host: str) -> None:
    client = TestClient(create_app(lib, WebSettings()))
    r = client.get("/", headers={"Host": host})
    assert r.status_code == 400 and "allowed-host" in r.text


@pytest.mark.parametrize("host", ["testserver", "localhost:8000", "127.0.0.1", "[::1]:8000",
                                  "LOCALHOST", "papers.internal", "papers.internal:443",
                                  "a.proxy.example"])
def test_known_and_configured_hosts_pass(lib: Library, host: str) -> None:
    client = TestClient(create_app(lib, WebSettings(
        allowed_hosts=("papers.internal", "*.proxy.example"))))
    assert client.get("/", headers={"Host": host}).status_code == 200


def test_serve_takes_the_base_url_and_allowed_hosts(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    seen: list[dict[str, Any]] = []

    def run(app: Any, **options: Any) -> None:
        """Instead of serving: what the app answers (the library closes when serve ends)."""
        client = TestClient(app)
        hosts = ("papers.internal", "proxy.lan", "papers.example.org", "127.0.0.1",
                 "evil.example")
        seen.append({"options": options, "settings": app.state.paperatlas.settings,
                     "codes": {h: client.get("/", headers={"Host": h}).status_code
                               for h in hosts}})
        client.post("/subscribe", data={"csrf": csrf(client), "email": "b@example.org",
                                        "search": ["y"]})

    monkeypatch.setattr(uvicorn, "run", run)
    conf = tmp_path / "s.toml"
    conf.write_text('base_url = "https://papers.example.org"\n'
                    'allowed_hosts = ["papers.internal"]\n', encoding="utf-8")
    base = ["--db", str(tmp_path / "s.db"), "--model", "none", "--settings", str(conf)]
    r = CliRunner().invoke(main, [*base, "serve", "--port", "8124",
                                  "--allowed-host", "proxy.lan"])
    assert r.exit_code == 0, r.output
    [first] = seen
    assert first["options"]["port"] == 8124
    assert first["codes"] == {"papers.internal": 200, "proxy.lan": 200,
                              "papers.example.org": 200, "127.0.0.1": 200,
                              "evil.example": 400}
    with Library(tmp_path / "s.db", embedding_model=None) as lib:
        [body] = mails(lib)
    assert b"https://papers.example.org/subscriptions/confirm/" in body
    # without a base URL: the address it listens on
    conf.write_text("", encoding="utf-8")
    r = CliRunner().invoke(main, [*base, "serve", "--host", "::1", "--port", "8125"])
    assert r.exit_code == 0, r.output
    assert seen[-1]["settings"].base_url == "http://[::1]:8125"
    assert seen[-1]["codes"]["papers.internal"] == 400
    r = CliRunner().invoke(main, [*base, "serve", "--base-url", "ftp://x"])
    assert r.exit_code != 0 and "http://" in r.output
    conf.write_text("allowed_hosts = 'one'\n", encoding="utf-8")
    r = CliRunner().invoke(main, [*base, "serve"])
    assert r.exit_code != 0 and "allowed_hosts" in r.output
