"""Subscriptions end to end: double opt-in and one-click unsubscribe through a real SMTP
server (aiosmtpd, in this process) and the web app, signed tokens, the CLI and settings."""

from __future__ import annotations

import email
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("aiosmtpd")
pytest.importorskip("fastapi")

from aiosmtpd.controller import Controller
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperatlas import InvalidOptionError, Library, NotFoundError
from paperatlas.cli import main
from paperatlas.cli.settings import load
from paperatlas.follow.settings import DigestSettings, MailSettings
from paperatlas.follow.subscriptions import items_from
from paperatlas.follow.tokens import LinkError, make_token, read_token
from paperatlas.web import WebSettings, create_app
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

BASE = "http://testserver"


class Sink:
    """What an SMTP server received; ``reject`` refuses every recipient, ``on_rcpt`` is
    called with the count of recipients so far (before the message's data)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.rcpts = 0
        self.reject = False
        self.on_rcpt: Callable[[int], None] | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.reject:
            return "550 5.1.1 no such mailbox here"
        self.rcpts += 1
        if self.on_rcpt is not None:
            self.on_rcpt(self.rcpts)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    def ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sink() -> Iterator[tuple[Sink, MailSettings]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, MailSettings(host="127.0.0.1", port=port, sender="Papers <papers@example.org>",
                                timeout=10)
    controller.stop()


def settings(**rank: Any) -> DigestSettings:
    from paperatlas.follow.ranking import RankSettings

    return DigestSettings(base_url=BASE, rank=RankSettings(**rank), backoff_seconds=60,
                          max_attempts=3)


def make_library(tmp: Path, *, model: bool = True) -> Library:
    """Papers on proteins and galaxies (collection "old"), added a second before now."""
    lib = Library(tmp / "s.db", embedding_model=HashingEmbedder("hash-128", 128) if model
                  else None)
    lib.ingest([write_csv(tmp / "in" / "old.csv", papers_of("protein", 8) + papers_of("galaxy", 8))],
               collection="old")
    lib.index()
    time.sleep(1.05)  # subscriptions made from now on start after these papers
    return lib


def add_new(lib: Library, tmp: Path, name: str = "new", start: int = 100, n: int = 4) -> None:
    rows = papers_of("protein", n, start) + papers_of("galaxy", n, start)
    lib.ingest([write_csv(tmp / "in" / f"{name}.csv", rows)], collection=name)
    lib.index()


def parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def local(url: str) -> str:
    """A link in a message as a path on the test app."""
    assert url.startswith(BASE + "/"), url
    split = urlsplit(url)
    return split.path + (f"?{split.query}" if split.query else "")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_double_opt_in_and_one_click_unsubscribe(tmp_path: Path, sink: tuple[Sink, MailSettings]) -> None:
    server, mail = sink
    lib = make_library(tmp_path)
    client = TestClient(create_app(lib, WebSettings(secret_key="k"), digest=settings(),
                                   mail=mail))
    form = client.get("/subscribe?q=protein+folding&mode=hybrid")
    assert form.status_code == 200 and 'value="protein folding"' in form.text
    r = client.post("/subscribe", data={"csrf": csrf_of(form.text), "email": "ada@example.org",
                                        "search": ["protein folding"], "mode": "hybrid",
                                        "collection": [""],
                                        "frequency": "daily"})
    assert r.status_code == 200 and "on its way" in r.text
    # the background task sent the confirmation right away
    assert len(server.messages) == 1
    confirm = server.messages[0]
    assert confirm["To"] == "ada@example.org" and confirm["Subject"].startswith("Confirm")
    assert confirm["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(confirm)
    link = re.search(r"(http://testserver/subscriptions/confirm/\S+)", text)
    assert link and link.group(1) in html
    # unconfirmed: no digest even with new papers
    add_new(lib, tmp_path)
    assert lib.follow.digest_run(settings(), mail).queued == 0
    assert client.get("/subscriptions/confirm/1.zzzz.forged").status_code == 400
    page = client.get(local(link.group(1)))
    assert page.status_code == 200 and "Subscription confirmed" in page.text
    assert lib.follow.subscriptions(email="ada@example.org")[0].confirmed
    report = lib.follow.digest_run(settings(), mail)
    assert report.queued == 1 and report.sent == 1 and report.papers >= 1
    digest = server.messages[-1]
    text, html = parts(digest)
    assert digest["Message-ID"] and digest["From"] == "Papers <papers@example.org>"
    assert "protein folding" in text and "Why: search" in text and "Why: search" in html
    papers = re.findall(r"http://testserver/papers/\S+", text)
    assert papers and all("protein" in p for p in papers)
    assert client.get(local(papers[0])).status_code == 200
    header = str(digest["List-Unsubscribe"])
    unsubscribe = header.strip().strip("<>")
    assert unsubscribe in text and unsubscribe in html
    assert "Unsubscribe" in client.get(local(unsubscribe)).text  # GET only asks
    assert lib.follow.subscriptions(email="ada@example.org")
    one_click = client.post(local(unsubscribe), content=b"List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200 and "no more digests" in one_click.text
    assert lib.follow.subscriptions(email="ada@example.org") == []
    again = client.post(local(unsubscribe))
    assert again.status_code == 200 and "already ended" in again.text
    lib.close()


def test_tokens_are_signed_and_expire() -> None:
    secret = b"s" * 32
    now = time.time()
    token = make_token(secret, "unsubscribe", 7, now)
    assert read_token(secret, "unsubscribe", token, now + 300 * 86400) == 7
    with pytest.raises(LinkError, match="expired"):
        read_token(secret, "unsubscribe", token, now + 367 * 86400)
    with pytest.raises(LinkError, match="not made by this library"):
        read_token(secret, "confirm", token, now)  # another purpose
    with pytest.raises(LinkError, match="not made by this library"):
        read_token(b"t" * 32, "unsubscribe", token, now)
    forged = token.replace("7.", "8.", 1)
    with pytest.raises(LinkError):
        read_token(secret, "unsubscribe", forged, now)
    with pytest.raises(LinkError, match="cut short"):
        read_token(secret, "unsubscribe", token[:5], now)
    with pytest.raises(LinkError, match="expired"):
        read_token(secret, "confirm", make_token(secret, "confirm", 7, now), now + 8 * 86400)


def test_subscribe_checks_what_it_follows(tmp_path: Path) -> None:
    lib = make_library(tmp_path, model=False)
    st, mail = settings(), MailSettings()
    with pytest.raises(InvalidOptionError, match="email address"):
        lib.follow.subscribe("not an address", items_from(searches=["x"]), st, mail)
    with pytest.raises(InvalidOptionError, match="nothing to follow"):
        lib.follow.subscribe("a@example.org", [], st, mail)
    with pytest.raises(InvalidOptionError, match="frequency"):
        lib.follow.subscribe("a@example.org", items_from(searches=["x"]), st, mail, frequency="hourly")
    with pytest.raises(NotFoundError, match="no paper"):
        lib.follow.subscribe("a@example.org", items_from(seeds=["nope"]), st, mail)
    with pytest.raises(NotFoundError, match="no collection"):
        lib.follow.subscribe("a@example.org", items_from(collections=["nope"]), st, mail)
    with pytest.raises(InvalidOptionError, match="TREE:NODE_ID"):
        lib.follow.subscribe("a@example.org", items_from(nodes=["tree-without-id"]), st, mail)
    with pytest.raises(NotFoundError, match="no topic"):
        lib.follow.subscribe("a@example.org", items_from(nodes=["t:1"]), st, mail)
    with pytest.raises(InvalidOptionError, match="search mode"):
        lib.follow.subscribe("a@example.org", items_from(searches=["x"], mode="fuzzy"), st, mail)
    key = next(lib.papers()).key
    sub = lib.follow.subscribe(" a@example.org ", items_from(seeds=[key], searches=["x", "x"]), st, mail)
    assert sub.email == "a@example.org" and len(sub.items) == 2 and not sub.confirmed
    assert [m.kind for m in lib.follow.outbox()] == ["confirm"]
    lib.follow.subscription_remove(sub.id)
    assert lib.follow.outbox()[0].state == "cancelled"
    with pytest.raises(NotFoundError):
        lib.follow.subscription_remove(sub.id)
    lib.close()


def test_cli_subscriptions_and_settings(tmp_path: Path) -> None:
    lib = make_library(tmp_path, model=False)
    key = next(lib.papers()).key
    lib.close()
    db = str(tmp_path / "s.db")
    conf = tmp_path / "paperatlas.toml"
    conf.write_text('base_url = "https://papers.example.org"\n[smtp]\nhost = "mail.example.org"\n'
                    'port = 2525\nsecurity = "starttls"\nfrom = "P <p@example.org>"\n'
                    '[digest]\nmax_papers = 5\nmin_score = 0.2\n', encoding="utf-8")
    run = CliRunner().invoke
    base = ["--db", db, "--model", "none", "--settings", str(conf)]
    r = run(main, [*base, "subscriptions", "add", "b@example.org", "--search", "galaxy",
                   "--seed", key, "--collection", "old", "--author", "Ada Lovelace",
                   "--frequency", "weekly", "--json"])
    assert r.exit_code == 0, r.output
    made = json.loads(r.stdout)
    assert made["confirmed"] is False and {i["kind"] for i in made["items"]} == {
        "search", "seed", "collection", "author"}
    r = run(main, [*base, "subscriptions", "add", "c@example.org", "--node", "x:1"])
    assert r.exit_code == 1 and "no topic 1" in r.output
    r = run(main, [*base, "subscriptions", "list"])
    assert r.exit_code == 0 and "b@example.org" in r.output and "unconfirmed\tweekly" in r.output
    r = run(main, [*base, "digest", "outbox", "--json"])
    [message] = json.loads(r.stdout)
    assert message["kind"] == "confirm" and message["state"] == "pending"
    with Library(db, embedding_model=None) as again:
        body = again.store.outbox.message(message["message_id"])
    assert body is not None and b"https://papers.example.org/subscriptions/confirm/" in body
    r = run(main, [*base, "digest", "outbox", "--state", "lost"])
    assert r.exit_code == 2 and "lost" in r.output
    r = run(main, [*base, "subscriptions", "remove", str(made["id"])])
    assert r.exit_code == 0 and run(main, [*base, "subscriptions", "list"]).output == ""
    conf.write_text("[smtp]\nport = 'many'\n", encoding="utf-8")
    r = run(main, [*base, "digest", "run"])
    assert r.exit_code == 1 and "port" in r.output
    conf.write_text("[smtp\n", encoding="utf-8")
    assert "not valid TOML" in run(main, [*base, "digest", "run"]).output


def test_settings_file_and_environment(tmp_path: Path) -> None:
    conf = tmp_path / "s.toml"
    conf.write_text('base_url = "https://x.example"\n[smtp]\nhost = "a"\nport = 25\n'
                    'user = "u"\npassword = "p"\n[digest]\nmax_attempts = 7\n', encoding="utf-8")
    digest, mail = load(str(conf), {"PAPERATLAS_SMTP_HOST": "b", "PAPERATLAS_SMTP_PORT": "465",
                                    "PAPERATLAS_SMTP_SECURITY": "ssl",
                                    "PAPERATLAS_MAIL_FROM": "Me <me@x.example>"})
    assert (mail.host, mail.port, mail.security, mail.user, mail.password, mail.sender) == (
        "b", 465, "ssl", "u", "p", "Me <me@x.example>")
    assert digest.base_url == "https://x.example" and digest.max_attempts == 7
    with pytest.raises(InvalidOptionError, match="none, starttls, ssl"):
        load(None, {"PAPERATLAS_SMTP_SECURITY": "tls"})
    conf.write_text("[smtp]\nhots = 'a'\n", encoding="utf-8")
    with pytest.raises(InvalidOptionError, match="hots"):
        load(str(conf), {})
    assert load(None, {})[1] == MailSettings()


def test_web_pages_and_api_for_users(tmp_path: Path) -> None:
    pytest.importorskip("argon2")
    lib = make_library(tmp_path)
    lib.people.add("alice", "correct horse battery")
    token = lib.people.token_create("alice").token
    client = TestClient(create_app(lib, WebSettings(secret_key="k", private=True)))
    assert client.get("/subscriptions", follow_redirects=False).status_code == 303
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/subscriptions", headers=auth, json={"items": [
        {"kind": "search", "value": "galaxy telescope"}]})
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["user"] == "alice" and sub["email"] is None and sub["confirmed"]
    assert client.post("/api/subscriptions", json={"items": []}).status_code == 401
    assert client.post("/api/subscriptions", headers=auth,
                       json={"items": "x"}).status_code == 400
    add_new(lib, tmp_path)
    preview = client.get(f"/api/subscriptions/{sub['id']}/preview", headers=auth).json()
    assert preview["papers"] and all("galaxy" in p["title"].lower() for p in preview["papers"])
    assert [s["id"] for s in client.get("/api/subscriptions", headers=auth).json()] == [sub["id"]]
    # pages: sign in, list, preview, remove
    page = client.get("/signin")
    client.post("/signin", data={"name": "alice", "password": "correct horse battery",
                                 "csrf": csrf_of(page.text), "next": "/subscriptions"})
    mine = client.get("/subscriptions")
    assert mine.status_code == 200 and "galaxy telescope" in mine.text
    shown = client.get(f"/subscriptions/{sub['id']}/preview")
    assert shown.status_code == 200 and "why: search" in shown.text
    # another user's subscription is not found
    other = lib.follow.subscribe("z@example.org", items_from(authors=["Z"]), settings(), MailSettings())
    assert client.get(f"/subscriptions/{other.id}/preview").status_code == 404
    # confirmation and unsubscribe links work in private mode without a session
    anonymous = TestClient(create_app(lib, WebSettings(secret_key="k", private=True)))
    confirm = lib.follow.service.subscriptions.token("confirm", other.id)
    assert anonymous.get(f"/subscriptions/confirm/{confirm}").status_code == 200
    unsub = lib.follow.service.subscriptions.token("unsubscribe", other.id)
    r = anonymous.post("/api/unsubscribe", json={"token": unsub})
    assert r.json() == {"unsubscribed": other.id, "already": False}
    r = client.post(f"/subscriptions/{sub['id']}/remove", data={"csrf": csrf_of(mine.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and lib.follow.subscriptions(user="alice") == []
    assert client.post(f"/subscriptions/{sub['id']}/remove",
                       data={"csrf": "wrong"}).status_code == 403
    lib.close()


def test_links_expire_with_the_clock(tmp_path: Path) -> None:
    lib = make_library(tmp_path, model=False)
    sub = lib.follow.subscribe("e@example.org", items_from(authors=["E"]), settings(), MailSettings())
    token = lib.follow.service.subscriptions.token("confirm", sub.id)
    later = datetime.now(UTC) + timedelta(days=8)
    lib.follow.set_clock(lambda: later)
    with pytest.raises(LinkError, match="expired"):
        lib.follow.subscription_confirm(token)
    lib.follow.set_clock()
    assert lib.follow.subscription_confirm(token).confirmed
    assert lib.follow.subscription_confirm(token).confirmed  # twice: no change
    lib.close()
