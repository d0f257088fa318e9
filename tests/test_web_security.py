"""Web security of issue 15: sessions end on sign-out (server-side), sign-ins and API tokens
are throttled (429 with Retry-After), and every answer carries security headers (HEAD too)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("argon2")

from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.web import WebSettings, create_app
from paperatlas.web.auth import SESSION_COOKIE
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

PASSWORD = "correct horse battery"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def slib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """Two topics of 12 papers with a tree "t"."""
    tmp = tmp_path_factory.mktemp("security")
    lib = Library(tmp / "s.db", embedding_model=HashingEmbedder("hash-128", 128))
    rows = papers_of("protein", 12) + papers_of("galaxy", 12)
    lib.ingest([write_csv(tmp / "in" / "main.csv", rows)], collection="main")
    lib.trees.build("t", collection="main", min_size=4)
    lib.map.build()
    yield lib
    lib.close()


@pytest.fixture
def clock(slib: Library) -> Iterator[Clock]:
    """A fresh user "bob", no throttle history, and a hand-moved clock for the accounts."""
    fake = Clock()
    slib.people.clock = fake
    slib.store.conn.execute("DELETE FROM throttle_events")
    slib.people.add("bob", PASSWORD)
    yield fake
    slib.people.remove("bob")


def _client(lib: Library, **settings: Any) -> TestClient:
    return TestClient(create_app(lib, WebSettings(secret_key="test-key", **settings)))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def _try(client: TestClient, password: str, name: str = "bob") -> Any:
    csrf = csrf_of(client.get("/signin").text)
    return client.post("/signin", data={"name": name, "password": password, "csrf": csrf,
                                        "next": "/collections"}, follow_redirects=False)


def sign_in(client: TestClient, name: str = "bob") -> str:
    r = _try(client, PASSWORD, name)
    assert r.status_code == 303 and r.headers["location"] == "/collections", r.text
    return csrf_of(client.get("/collections").text)


# -- item 4: sign-out ends the session --------------------------------------------------------

def _signed_out(client: TestClient, csrf: str, lib: Library, collection: str) -> None:
    """Assert the client's session is signed out: no subscriptions page, no writes."""
    r = client.get("/subscriptions", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin"), r.text
    r = client.post("/collections", data={"name": collection, "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code in (303, 401, 403) and collection not in {
        c.name for c in lib.collections.all()}
    assert "Sign out" not in client.get("/").text


def test_a_cookie_kept_from_before_sign_out_is_signed_out(slib: Library, clock: Clock) -> None:
    client = _client(slib)
    csrf = sign_in(client)
    saved = client.cookies[SESSION_COOKIE]
    assert client.get("/subscriptions").status_code == 200
    assert client.post("/signout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    replay = _client(slib)
    replay.cookies.set(SESSION_COOKIE, saved)
    _signed_out(replay, csrf, slib, "made after sign-out")
    assert slib.store.conn.execute("SELECT COUNT(*) FROM web_sessions").fetchone()[0] == 0


def test_two_sessions_end_one_at_a_time(slib: Library, clock: Clock) -> None:
    laptop, phone = _client(slib), _client(slib)
    csrf = sign_in(laptop)
    phone_csrf = sign_in(phone)
    laptop.post("/signout", data={"csrf": csrf})
    assert phone.get("/subscriptions").status_code == 200  # the other session lives on
    r = phone.post("/collections", data={"name": "from the phone", "csrf": phone_csrf},
                   follow_redirects=False)
    assert r.status_code == 303 and "from the phone" in {c.name for c in slib.collections.all()}


def test_a_session_expires(slib: Library, clock: Clock) -> None:
    client = _client(slib, session_days=1)
    csrf = sign_in(client)
    clock.now += 86_400 - 60
    assert client.get("/subscriptions").status_code == 200
    clock.now += 120
    _signed_out(client, csrf, slib, "made after expiry")
    sign_in(_client(slib))  # signing in prunes expired sessions
    assert slib.store.conn.execute("SELECT COUNT(*) FROM web_sessions").fetchone()[0] == 1


def test_a_new_password_ends_sessions_and_tokens(slib: Library, clock: Clock) -> None:
    client = _client(slib)
    csrf = sign_in(client)
    token = slib.people.token_create("bob", "script").token
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/collections", headers=auth).status_code == 200
    ended = slib.people.set_password("bob", "a brand new password")
    assert (ended.sessions, ended.tokens) == (1, 1)
    _signed_out(client, csrf, slib, "made after a new password")
    assert client.get("/api/collections", headers=auth).status_code == 401
    assert slib.people.tokens("bob") == []


def test_removing_a_user_ends_their_sessions(slib: Library, clock: Clock) -> None:
    slib.people.add("carol", PASSWORD)
    client = _client(slib)
    csrf = sign_in(client, "carol")
    slib.people.remove("carol")
    _signed_out(client, csrf, slib, "made by a removed user")
    assert slib.store.conn.execute("SELECT COUNT(*) FROM web_sessions").fetchone()[0] == 0


# -- item 5: throttling -----------------------------------------------------------------------

def test_forty_wrong_passwords_then_the_right_one_is_refused(slib: Library,
                                                             clock: Clock) -> None:
    client = _client(slib)
    codes = [_try(client, f"wrong password {i}").status_code for i in range(40)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    r = _try(client, PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "too many failed sign-ins" in r.text and 'type="password"' in r.text
    assert int(r.headers["retry-after"]) <= 15 * 60
    clock.now += 15 * 60 + 1  # the window has passed
    assert _try(client, PASSWORD).status_code == 303
    # a success clears the account's failures: four more wrong ones are still answered 401
    client = _client(slib)
    assert [_try(client, "wrong again").status_code for _ in range(4)] == [401] * 4


def test_one_client_trying_many_accounts_is_throttled(slib: Library, clock: Clock) -> None:
    client = _client(slib, signin_client_failures=6)
    codes = [_try(client, PASSWORD, f"nobody{i}").status_code for i in range(8)]
    assert codes == [401] * 6 + [429] * 2
    r = _try(client, PASSWORD)  # bob's account is fine, but this client is throttled
    assert r.status_code == 429 and "retry-after" in r.headers


def test_wrong_api_tokens_are_throttled(slib: Library, clock: Clock) -> None:
    client = _client(slib)
    codes = [client.get("/api/collections", headers={
        "Authorization": f"Bearer pa_wrong{i}"}).status_code for i in range(40)]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    token = slib.people.token_create("bob").token
    r = client.get("/api/collections", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 60
    error = r.json()["error"]
    assert error["type"] == "TooManyRequestsError" and "API tokens" in error["message"]
    clock.now += 61
    r = client.get("/api/collections", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


# -- item 6: security headers and HEAD --------------------------------------------------------

def _check_headers(r: Any, what: str) -> None:
    csp = r.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, what
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0], what
    assert r.headers.get("x-content-type-options") == "nosniff", what
    assert r.headers.get("x-frame-options") == "DENY", what
    assert r.headers.get("referrer-policy") == "strict-origin-when-cross-origin", what


def test_security_headers_on_every_kind_of_answer(slib: Library) -> None:
    client = _client(slib)
    key = next(iter(slib.papers(limit=1))).key
    for url, status in (("/", 200), (f"/papers/{key}", 200), ("/api/search?q=protein", 200),
                        ("/static/style.css", 200), ("/static/app.js", 200),
                        ("/nowhere", 404), ("/api/nowhere", 404), ("/api/papers/nope", 404),
                        ("/feeds/newest.atom", 200), ("/openapi.json", 200), ("/docs", 200)):
        r = client.get(url)
        assert r.status_code == status, url
        _check_headers(r, url)
    r = client.post("/collections", data={"name": "x"}, follow_redirects=False)
    _check_headers(r, "a redirect")
    r = client.post("/api/collections", json={"name": "x"})
    assert r.status_code == 401
    _check_headers(r, "a 401")


def test_security_headers_on_an_unexpected_error(slib: Library) -> None:
    app = create_app(slib, WebSettings(secret_key="test-key"))

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/api/boom")
    assert r.status_code == 500 and r.json()["error"]["type"] == "InternalError"
    _check_headers(r, "a 500")


def test_docs_get_their_own_script_hash(slib: Library) -> None:
    r = _client(slib).get("/docs")
    inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    assert len(inline) == 1
    script_src = r.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    assert "'sha256-" in script_src and "'unsafe-inline'" not in script_src


def test_head_answers_like_get_without_a_body(slib: Library) -> None:
    client = _client(slib)
    for url in ("/", "/search?q=protein", "/trees/t", "/api/papers", "/api/trees/t",
                "/static/style.css", "/feeds/newest.atom"):
        got = client.get(url)
        r = client.head(url)
        assert r.status_code == 200, url
        assert r.content == b"", url
        assert r.headers["content-type"] == got.headers["content-type"], url
        _check_headers(r, f"HEAD {url}")
    assert client.head("/nowhere").status_code == 404
    assert client.head("/signout").status_code == 405  # POST only: HEAD is no way around


class _Inline(HTMLParser):
    """Collects inline scripts, event-handler attributes and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k.lower(): v for k, v in attrs}
        self.found += [f"<{tag} {k}=...>" for k in names if k.startswith("on") or k == "style"]
        if any((v or "").strip().lower().startswith("javascript:") for v in names.values()):
            self.found.append(f"<{tag}> with a javascript: URL")
        self._in_script = tag == "script" and "src" not in names

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:40]}")


def test_no_inline_script_or_style_in_any_page(slib: Library, clock: Clock) -> None:
    client = _client(slib)
    tree = slib.trees.get("t")
    node = next(n.id for n in tree.nodes.values() if n.kind == "topic")
    key = next(iter(slib.papers(limit=1))).key
    sign_in(client)
    urls = ["/", "/search?q=protein", f"/papers/{key}", "/trees", "/trees/t",
            f"/trees/t/nodes/{node}", "/map", "/collections", "/collections/main", "/uploads",
            "/subscribe", "/subscriptions", "/nowhere"]
    signed_out = _client(slib)
    for page in [client.get(u) for u in urls] + [signed_out.get("/signin")]:
        parser = _Inline()
        parser.feed(page.text)
        assert page.headers["content-type"].startswith("text/html"), page.url
        assert parser.found == [], (page.url, parser.found)
        assert "<script" in page.text  # the page does load its scripts from /static


def test_bars_draw_without_style_attributes(slib: Library, tmp_path: Path) -> None:
    page = _client(slib).get("/trees/t").text
    assert 'class="bar"' in page and "style=" not in page
