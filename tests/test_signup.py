"""Open sign-up (issue 20, item 7): pending sign-ups on real SQLite, their confirmation
message in the outbox (sent by the digest sender, cancelled once the sign-up is gone), the
link's expiry and single use, throttling, the migration to schema 20, and the web pages
(off by default; the form, the confirm page that only reads, the button that signs in)."""

from __future__ import annotations

import email
import re
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("argon2")
pytest.importorskip("fastapi")
pytest.importorskip("aiosmtpd")

from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import (
    AuthError,
    ConflictError,
    InvalidOptionError,
    TooManyRequestsError,
)
from paperatlas.follow.outbox import send_due
from paperatlas.follow.settings import DigestSettings, MailSettings
from paperatlas.follow.subscriptions import items_from
from paperatlas.follow.tokens import LinkError
from paperatlas.records.follow import DigestReport
from paperatlas.signups import SignupLimits
from paperatlas.store.migrations import MIGRATIONS
from paperatlas.store.migrations_late import m020_signups
from paperatlas.web import WebSettings, create_app
from test_subscriptions import sink  # noqa: F401 (the SMTP server fixture)

from conftest import schema_at

BASE = "http://testserver"
SENDER = "Papers <papers@example.org>"
PASSWORD = "correct horse battery"
DIGEST = DigestSettings(base_url=BASE, site_title="Atlas")


def token_in(message: bytes | EmailMessage) -> str:
    """The token of the confirmation link in a message."""
    msg = message if isinstance(message, EmailMessage) else email.message_from_bytes(
        message, policy=default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(("plain",))
    assert body is not None
    found = re.search(r"/signup/confirm\?token=(\S+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def mail_to(lib: Library, address: str) -> bytes:
    """The newest outbox message to ``address``, read through the library."""
    newest = next(m for m in lib.follow.outbox(limit=1000) if m.recipient == address)
    raw = lib.store.outbox.message(newest.message_id)
    assert raw is not None
    return raw


def sign_up(lib: Library, name: str = "ada", address: str = "ada@example.org", **kw: Any):
    return lib.signups.signup(name, address, PASSWORD, DIGEST, SENDER, **kw)


class Collect:
    """A transport that keeps what it was handed."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def send(self, recipient: str, message: bytes) -> None:
        self.sent.append((recipient, message))

    def close(self) -> None:
        pass


def send_all(lib: Library) -> tuple[DigestReport, Collect]:
    transport, report = Collect(), DigestReport(dry_run=False)
    send_due(lib.store, transport, DIGEST, lambda: datetime.now(UTC), report)
    return report, transport


# -- the core ----------------------------------------------------------------------------------
def test_a_sign_up_waits_for_its_link_and_confirming_makes_the_user(lib: Library) -> None:
    pending = sign_up(lib, "Ada.L")
    assert (pending.name, pending.email) == ("Ada.L", "ada@example.org")
    assert pending.expires_at > pending.created_at
    assert lib.people.all() == []  # no account until the address confirms
    stored = lib.store.conn.execute("SELECT password_hash, secret_hash FROM signups").fetchone()
    assert stored[0].startswith("$argon2id$") and PASSWORD not in stored[0]
    raw = mail_to(lib, "ada@example.org")
    token = token_in(raw)
    assert token.split(".")[1] not in stored[1]  # only the secret's hash is kept
    assert PASSWORD.encode() not in raw
    row = lib.store.conn.execute("SELECT subscription_id, signup_id, kind FROM outbox").fetchone()
    assert tuple(row) == (None, pending.id, "confirm")
    msg = email.message_from_bytes(raw, policy=default)
    assert msg["To"] == "ada@example.org" and "Confirm your account" in str(msg["Subject"])
    assert f"{BASE}/signup/confirm?token=" in msg.get_body(("plain",)).get_content()

    assert lib.signups.pending(token) == pending  # reads only
    assert lib.people.all() == [] and len(lib.signups.all()) == 1
    user = lib.signups.confirm(token)
    assert user.name == "Ada.L"
    assert [u.name for u in lib.people.all()] == ["Ada.L"] and lib.signups.all() == []
    assert lib.people.check("ada.l", PASSWORD).name == "Ada.L"  # the password signed up with
    with pytest.raises(AuthError):
        lib.people.check("Ada.L", "another password")
    with pytest.raises(LinkError, match="already used"):
        lib.signups.confirm(token)
    with pytest.raises(LinkError, match="already used"):
        lib.signups.pending(token)


def test_a_broken_or_forged_link_is_refused(lib: Library) -> None:
    sign_up(lib)
    token = token_in(mail_to(lib, "ada@example.org"))
    signup_id, secret = token.split(".")
    for bad in ("", "nonsense", signup_id, f"{signup_id}.{secret[:8]}", f"0.{secret}"):
        with pytest.raises(LinkError, match="cut short"):
            lib.signups.confirm(bad)
    forged = f"{signup_id}.{'A' * len(secret)}"
    with pytest.raises(LinkError, match="not made by this library"):
        lib.signups.confirm(forged)
    with pytest.raises(LinkError, match="already used"):
        lib.signups.confirm(f"{int(signup_id) + 1}.{secret}")
    assert lib.people.all() == []
    assert lib.signups.confirm(f" {token}\n").name == "ada"  # pasted with blanks


def test_an_expired_link_says_so_and_its_name_can_be_signed_up_again(lib: Library) -> None:
    start = time.time()
    lib.people.clock = lambda: start
    sign_up(lib, limits=SignupLimits(lifetime_s=3600))
    old = token_in(mail_to(lib, "ada@example.org"))
    with pytest.raises(ConflictError, match="waits for its confirmation"):
        sign_up(lib, "ADA", "someone@example.org")  # the name is held while it waits
    lib.people.clock = lambda: start + 3601
    with pytest.raises(LinkError, match="expired: sign up again"):
        lib.signups.pending(old)
    with pytest.raises(LinkError, match="expired"):
        lib.signups.confirm(old)
    assert lib.people.all() == []
    again = sign_up(lib, "ADA", "someone@example.org")  # an expired one may be replaced
    assert [p.name for p in lib.signups.all()] == ["ADA"]
    with pytest.raises(LinkError, match="already used \\(or its sign-up was replaced\\)"):
        lib.signups.confirm(old)
    assert lib.signups.confirm(token_in(mail_to(lib, "someone@example.org"))).name == "ADA"
    assert again.name == "ADA"


def test_names_addresses_and_passwords_are_checked(lib: Library) -> None:
    lib.people.add("alice", PASSWORD)
    with pytest.raises(ConflictError, match="a user named 'ALICE' already exists"):
        sign_up(lib, "ALICE")
    for name in ("", "-dash", "a b", "x" * 65, "名前"):
        with pytest.raises(InvalidOptionError, match="user name"):
            sign_up(lib, name)
    for address in ("", "no-at-sign", "a@b", "a@b.c\nBcc: x@y.z"):
        with pytest.raises(InvalidOptionError, match="email address"):
            sign_up(lib, "bob", address)
    with pytest.raises(InvalidOptionError, match="password"):
        lib.signups.signup("bob", "bob@example.org", "short", DIGEST, SENDER)
    assert lib.signups.all() == [] and lib.follow.outbox() == []
    sign_up(lib, " bob ")  # the name is trimmed
    assert [p.name for p in lib.signups.all()] == ["bob"]
    with pytest.raises(ConflictError, match="waits for its confirmation"):
        sign_up(lib, "Bob", "other@example.org")


def test_a_user_made_meanwhile_wins_over_the_sign_up(lib: Library) -> None:
    sign_up(lib, "carol")
    lib.people.add("Carol", PASSWORD)  # `paperatlas users add` while it waited
    with pytest.raises(ConflictError, match="was made since you signed up"):
        lib.signups.confirm(token_in(mail_to(lib, "ada@example.org")))
    assert [u.name for u in lib.people.all()] == ["Carol"]


def test_sign_ups_per_client_and_mails_per_address_are_capped(lib: Library) -> None:
    limits = SignupLimits(per_client=3, per_address=2)
    for i in range(3):  # every try counts, a refused one too
        if i == 1:
            with pytest.raises(ConflictError):
                sign_up(lib, "u0", f"u{i}@example.org", client="203.0.113.7", limits=limits)
        else:
            sign_up(lib, f"u{i}", f"u{i}@example.org", client="203.0.113.7", limits=limits)
    with pytest.raises(TooManyRequestsError, match="too many sign-ups from your address") as e:
        sign_up(lib, "u9", "u9@example.org", client="203.0.113.7", limits=limits)
    assert e.value.retry_after > 3000
    sign_up(lib, "v1", "v@example.org", client="198.51.100.1", limits=limits)  # another client
    # two mails to one mailbox, then no more (a +tag or other case is the same mailbox)
    sign_up(lib, "v2", "V+x@Example.org", client="198.51.100.2", limits=limits)
    with pytest.raises(TooManyRequestsError, match="confirmation messages"):
        sign_up(lib, "v3", "v@example.org", client="198.51.100.3", limits=limits)
    assert "v3" not in [p.name for p in lib.signups.all()]
    assert sum(m.recipient.lower().startswith("v") for m in lib.follow.outbox()) == 2


def test_subscription_and_sign_up_confirmations_share_the_cap(lib: Library) -> None:
    mail = MailSettings(sender=SENDER)
    for query in ("protein folding", "galaxies", "graphs"):
        lib.follow.subscribe("eve@example.org", items_from(searches=[query]), DIGEST, mail,
                             client="192.0.2.1", limits=DIGEST.limits)
    with pytest.raises(TooManyRequestsError, match="confirmation messages"):
        sign_up(lib, "eve", "eve@example.org", client="192.0.2.2",
                limits=SignupLimits.from_mail(DIGEST.limits))


def test_the_sender_delivers_a_sign_up_mail_and_cancels_one_whose_sign_up_is_gone(
        lib: Library) -> None:
    sign_up(lib, "ada", "ada@example.org")
    report, transport = send_all(lib)
    assert report.sent == 1 and [r for r, _ in transport.sent] == ["ada@example.org"]
    token = token_in(transport.sent[0][1])
    assert lib.signups.confirm(token).name == "ada"
    # a sign-up confirmed (or replaced) before its mail went: the mail is cancelled
    sign_up(lib, "bob", "bob@example.org")
    lib.signups.confirm(token_in(mail_to(lib, "bob@example.org")))
    report, transport = send_all(lib)
    assert report.sent == 0 and transport.sent == []
    states = {m.recipient: m.state for m in lib.follow.outbox()}
    assert states == {"ada@example.org": "sent", "bob@example.org": "cancelled"}


def test_users_list_shows_only_real_users(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    with Library(db, embedding_model=None) as lib:
        lib.people.add("alice", PASSWORD)
        sign_up(lib, "pending-pat", "pat@example.org")
    r = CliRunner().invoke(main, ["--db", str(db), "--model", "none", "users", "list"])
    assert r.exit_code == 0, r.output
    assert "alice" in r.output and "pending-pat" not in r.output


def test_serve_open_signup_warns_without_mail(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app))
    monkeypatch.delenv("PAPERATLAS_SMTP_HOST", raising=False)
    monkeypatch.delenv("PAPERATLAS_SETTINGS", raising=False)
    db = str(tmp_path / "s.db")
    r = CliRunner().invoke(main, ["--db", db, "--model", "none", "serve", "--no-worker"])
    assert r.exit_code == 0, r.output
    assert not seen["app"].state.paperatlas.settings.open_signup and "--open-signup" not in r.output
    r = CliRunner().invoke(main, ["--db", db, "--model", "none", "serve", "--no-worker",
                                  "--open-signup"])
    assert r.exit_code == 0, r.output
    assert seen["app"].state.paperatlas.settings.open_signup
    assert "warning: --open-signup without a mail server" in r.output


def test_a_library_at_schema_19_upgrades_to_20(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = schema_at(path, 19)
    now = "2024-01-01T00:00:00Z"
    conn.execute("INSERT INTO subscriptions (email, created_at) VALUES ('s@example.org', ?)",
                 (now,))
    conn.execute("INSERT INTO outbox (subscription_id, kind, message_id, recipient, subject,"
                 " message, next_attempt_at, created_at) VALUES (1, 'confirm', '<m1@x>',"
                 " 's@example.org', 'Confirm', x'00', ?, ?)", (now, now))
    conn.execute("INSERT INTO outbox (subscription_id, kind, message_id, recipient, subject,"
                 " message, next_attempt_at, created_at) VALUES (NULL, 'digest', '<m2@x>',"
                 " 'gone@example.org', 'Digest', x'00', ?, ?)", (now, now))
    conn.close()
    with Library(path, embedding_model=None) as lib:
        assert MIGRATIONS[19] is m020_signups
        assert lib.store.schema_version == len(MIGRATIONS) >= 20
        columns = {r[1] for r in lib.store.conn.execute("PRAGMA table_info(outbox)")}
        assert "signup_id" in columns
        m020_signups(lib.store.conn)  # re-runnable
        report, transport = send_all(lib)  # the old messages keep their behaviour
        assert report.sent == 1 and [r for r, _ in transport.sent] == ["s@example.org"]
        assert {m.recipient: m.state for m in lib.follow.outbox()} == {
            "s@example.org": "sent", "gone@example.org": "cancelled"}
        sign_up(lib)
        assert lib.signups.confirm(token_in(mail_to(lib, "ada@example.org"))).name == "ada"


# -- the web -----------------------------------------------------------------------------------
def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def client_for(lib: Library, *, open_signup: bool = True, mail: MailSettings | None = None,
               ip: str = "203.0.113.9", private: bool = False) -> TestClient:
    app = create_app(lib, WebSettings(secret_key="k", open_signup=open_signup,
                                      private=private),
                     digest=DIGEST, mail=mail)
    return TestClient(app, client=(ip, 50000))


def post_signup(client: TestClient, name: str = "ada", address: str = "ada@example.org",
                password: str = PASSWORD, again: str | None = None) -> Any:
    csrf = csrf_of(client.get("/signup").text)
    return client.post("/signup", data={"csrf": csrf, "name": name, "email": address,
                                        "password": password,
                                        "again": password if again is None else again})


def test_sign_up_is_off_by_default(lib: Library) -> None:
    client = client_for(lib, open_signup=False)
    assert 'href="/signup"' not in client.get("/").text
    assert "paperatlas users add" in client.get("/signin").text
    assert client.get("/signup").status_code == 404
    assert client.post("/signup", data={"name": "x"}).status_code == 404
    assert client.get("/signup/confirm?token=1.abc").status_code == 404
    assert client.post("/signup/confirm", data={"token": "1.abc"}).status_code == 404
    assert lib.signups.all() == []


def test_the_form_refuses_bad_input_with_the_error(lib: Library) -> None:
    lib.people.add("alice", PASSWORD)
    client = client_for(lib)
    home = client.get("/").text
    assert 'href="/signup"' in home and "Sign in" in home
    assert 'href="/signup"' in client.get("/signin").text
    assert client.post("/signup", data={"name": "x", "email": "x@example.org",
                                        "password": PASSWORD, "again": PASSWORD}
                       ).status_code == 403  # no CSRF token
    cases = [({"name": "a b"}, 400, "Invalid user name &#39;a b&#39;"),
             ({"address": "nope"}, 400, "Invalid email address"),
             ({"password": "short"}, 400, "Invalid password"),
             ({"again": "something else"}, 400, "The two passwords differ"),
             ({"name": "ALICE"}, 409, "A user named &#39;ALICE&#39; already exists")]
    for fields, status, message in cases:
        r = post_signup(client, **fields)
        assert r.status_code == status and message in r.text, (fields, r.status_code)
        assert 'role="alert"' in r.text and 'action="/signup"' in r.text
    assert 'value="ada@example.org"' in post_signup(client, name="a b").text  # kept
    assert lib.signups.all() == [] and lib.follow.outbox() == []


def test_a_private_library_with_open_sign_up_lets_strangers_sign_up(lib: Library) -> None:
    client = client_for(lib, private=True)
    assert client.get("/", follow_redirects=False).status_code in (302, 303)  # to /signin
    assert client.get("/signup").status_code == 200
    r = post_signup(client)
    assert r.status_code == 200 and "Sign-up saved" in r.text
    token = token_in(mail_to(lib, "ada@example.org"))
    assert client.get(f"/signup/confirm?token={token}").status_code == 200
    closed = client_for(lib, open_signup=False, private=True)
    assert closed.get("/signup", follow_redirects=False).status_code == 404


def test_without_mail_the_page_says_it_could_not_be_sent(lib: Library) -> None:
    client = client_for(lib)
    assert "no mail set up yet" in client.get("/signup").text
    r = post_signup(client)
    assert r.status_code == 200 and "Sign-up saved" in r.text
    assert "could not be sent now" in r.text and "Check your inbox" not in r.text
    assert [m.state for m in lib.follow.outbox()] == ["pending"]  # queued for later


def test_sign_up_confirm_and_end_signed_in_through_real_mail(
        lib: Library, sink: Any) -> None:  # noqa: F811
    received, mail = sink
    client = client_for(lib, mail=mail)
    assert "no mail set up yet" not in client.get("/signup").text
    r = post_signup(client, name="grace", address="grace@example.org")
    assert r.status_code == 200 and "Check your inbox" in r.text and "grace@example.org" in r.text
    assert len(received.messages) == 1  # sent right away (a background task)
    token = token_in(received.messages[0])
    assert [m.state for m in lib.follow.outbox()] == ["sent"]

    visitor = client_for(lib, mail=mail)  # the link may open in another browser
    page = visitor.get(f"/signup/confirm?token={token}")
    assert page.status_code == 200 and "Create my account" in page.text and "grace" in page.text
    assert lib.people.all() == []  # the GET wrote nothing
    assert visitor.post("/signup/confirm", data={"token": token}).status_code == 403  # CSRF
    done = visitor.post("/signup/confirm", data={"token": token, "csrf": csrf_of(page.text)},
                        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"
    home = visitor.get("/").text
    assert 'title="signed in">grace<' in home and "Welcome, grace" in home
    assert [u.name for u in lib.people.all()] == ["grace"]
    again = visitor.get(f"/signup/confirm?token={token}")
    assert again.status_code == 400 and "already used" in again.text


def test_the_web_caps_sign_ups_per_client(lib: Library) -> None:
    client = client_for(lib, ip="198.51.100.77")
    codes = [post_signup(client, name=f"n{i}", address=f"n{i}@example.org").status_code
             for i in range(11)]
    assert codes == [200] * 10 + [429]
    r = post_signup(client, name="late", address="late@example.org")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many sign-ups from your address" in r.text
    assert post_signup(client_for(lib, ip="192.0.2.5"), name="other",
                       address="o@example.org").status_code == 200


def test_the_json_api_signs_up_and_confirms_with_a_token_for_the_new_account(
        lib: Library, sink: Any) -> None:  # noqa: F811
    received, mail = sink
    closed = client_for(lib, open_signup=False)
    assert closed.post("/api/signup", json={"name": "x", "email": "x@example.org",
                                            "password": PASSWORD}).status_code == 404
    client = client_for(lib, mail=mail, private=True)  # private: strangers may still sign up
    r = client.post("/api/signup", json={"name": "lin", "email": "lin@example.org",
                                         "password": PASSWORD})
    assert r.status_code == 202, r.text
    assert r.json()["name"] == "lin" and r.json()["mail"] == "sent"
    assert r.json()["expires_at"].endswith("Z")
    bad = client.post("/api/signup", json={"name": "a b", "email": "a@example.org",
                                           "password": PASSWORD})
    assert bad.status_code == 400 and "invalid user name" in bad.json()["error"]["message"].lower()
    taken = client.post("/api/signup", json={"name": "LIN", "email": "l2@example.org",
                                             "password": PASSWORD})
    assert taken.status_code == 409
    assert client.post("/api/signup", json={"name": "z"}).status_code == 400  # fields missing
    token = token_in(received.messages[0])
    assert client.post("/api/signup/confirm", json={"token": "1.abc"}).status_code == 400
    done = client.post("/api/signup/confirm", json={"token": token})
    assert done.status_code == 201 and done.json()["name"] == "lin"
    api_token = done.json()["token"]
    assert lib.people.token_check(api_token).name == "lin"
    assert client.post("/api/signup/confirm", json={"token": token}).status_code == 400  # used
    page = client.get("/api/search", params={"q": "x"},
                      headers={"Authorization": f"Bearer {api_token}"})
    assert page.status_code == 200  # the private library reads with the new token
