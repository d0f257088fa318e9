"""A property test over every route of the web app (issue 15, item 7): random values in
every query parameter, path segment, form field and JSON body never get a 5xx.

The routes are found in ``create_app(...).routes`` when the tests are collected, so routes
added later are covered without editing this file. Each route is tried signed out and
signed in (session cookie, the session's CSRF token in every form and ``X-CSRF-Token``,
and an API token under ``/api``), so that handlers behind sign-in are reached too.
``PAPERATLAS_FUZZ_EXAMPLES=N`` tries N random examples per route and variant instead of the
fixed (derandomized) few that CI runs.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("argon2")

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperatlas import Library
from paperatlas.follow.tokens import PURPOSES, link_secret, make_token
from paperatlas.web import WebSettings, create_app
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

PASSWORD = "correct horse battery"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
EXAMPLES = int(os.environ.get("PAPERATLAS_FUZZ_EXAMPLES", "0"))
#: Routes that would end the signed-in variant's session (tried signed out only).
SIGNED_OUT_ONLY = {("POST", "/signout"), ("POST", "/signin")}

# Values that broke (or nearly broke) a parser once: huge and negative numbers, digits
# that str.isdigit() accepts and int() refuses, blanks, NUL, long strings, paths.
SPECIALS = [
    "", " ", "0", "1", "2", "-1", "10001", "2000000000", "1000000000000",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809",
    "99999999999999999999999", "1e3", "1.5", "nan", "inf", "true", "null", "\u00b2",
    "\u0663", "\u0661\u0662", "\u00b9\u00b2\u00b3", "1_000", "+1", "\x00", "a\x00b", "t",
    "t:1", "t:0", "plain:\u00b2", "t:\u00b2", "t:99999999999999999999", "main", "lexical",
    "semantic", "hybrid", "week", "trending", "rss", "atom", "x.rss", "main.atom",
    "\u00b2.abc.def", "1.\u00b2.def", "1.abc.def", "99999999999999999999999.a.b", "..",
    "../../etc/passwd", "/", "//", "a/b", "%", "<script>", "'\"", "\u00e9", "\U0001f600",
    "a" * 3000, "\u00b2" * 300,
]
#: Percent-escapes sent as they are: a UTF-8 surrogate, invalid and overlong UTF-8.
RAW = ["%ED%A0%80", "%FF", "%C0%AF", "%00", "%2e%2e%2f", "%F0%90%80", "%C2%B2", "%"]
#: What every parameter of every route gets once (the random examples may miss them).
SHARP: list[tuple[bool, str]] = [(False, v) for v in (
    "", "-1", "1000000000000", "99999999999999999999999", "-99999999999999999999",
    "9223372036854775808",
    "\u00b2", "plain:\u00b2", "t:\u00b2", "\u00b2.abc.def", "1.\u00b2.def", "\x00",
    "a" * 3000)] + [(True, "%ED%A0%80"), (True, "%FF")]

text_values = st.one_of(
    st.sampled_from(SPECIALS),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.text(max_size=20),
)
#: (raw, text): raw values go into URLs and form bodies without quoting.
values = st.one_of(st.tuples(st.just(False), text_values),
                   st.tuples(st.just(True), st.sampled_from(RAW)))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**25), max_value=10**25),
              st.floats(allow_nan=False), text_values,
              st.sampled_from(["\ud800", "a\udfffb"])),  # lone surrogates: JSON only
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(text_values, inner, max_size=3)),
    max_leaves=6)
body_keys = st.one_of(st.sampled_from([
    "op", "node", "nodes", "into", "parent", "label", "paper", "items", "email",
    "frequency", "kind", "value", "mode", "token", "name", "keys"]), st.text(max_size=5))


def routes_of(app: FastAPI) -> Iterator[Any]:
    """Every route with a ``dependant`` (API routes, also those of included routers)."""
    for route in app.routes:
        nested = getattr(route, "effective_route_contexts", None)
        for r in nested() if nested else [route]:
            if getattr(r, "dependant", None) is not None:
                yield r


def _route_ids() -> list[tuple[str, str]]:
    """(method, path) of every route, from an app around a throwaway empty library."""
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp) / "routes.db", embedding_model=None)
        try:
            app = create_app(lib, WebSettings(secret_key="routes"))
            found = {(m, r.path) for r in routes_of(app) for m in r.methods if m in METHODS}
        finally:
            lib.close()
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


ROUTES = _route_ids()


class Fuzz:
    """The app, a library with a tree, a user and a token, and the two clients."""

    def __init__(self, tmp: Path) -> None:
        self.lib = Library(tmp / "f.db", embedding_model=HashingEmbedder("hash-64", 64))
        rows = papers_of("protein", 8) + papers_of("graph", 8)
        self.lib.ingest([write_csv(tmp / "in" / "main.csv", rows)], collection="main")
        self.lib.trees.build("t", collection="main", min_size=3)
        self.lib.map.build()
        self.lib.people.add("alice", PASSWORD)
        self.token = self.lib.people.token_create("alice", "fuzz").token
        job = self.lib.jobs.create("ingest", {"file": "x.csv"}, "alice")
        self.app = create_app(self.lib, WebSettings(secret_key="fuzz", page_size=5))
        self.routes = {(m, r.path): r for r in routes_of(self.app) for m in r.methods}
        self.anonymous = TestClient(self.app, raise_server_exceptions=False)
        self.anonymous_csrf = _csrf(self.anonymous.get("/signin").text)
        self.member = TestClient(self.app, raise_server_exceptions=False)
        page = self.member.get("/signin").text
        r = self.member.post("/signin", data={"name": "alice", "password": PASSWORD,
                                              "csrf": _csrf(page), "next": "/collections"},
                             follow_redirects=False)
        assert r.status_code == 303, r.text
        self.csrf = _csrf(self.member.get("/collections").text)
        r = self.member.post("/api/subscriptions", headers={
            "Authorization": f"Bearer {self.token}"}, json={
                "items": [{"kind": "search", "value": "protein"}]})
        sub = r.json().get("id") if r.status_code < 300 else None
        tree = self.lib.trees.get("t")
        nodes = [str(n) for n in sorted(tree.nodes)[:4]]
        keys = [p.key for p in self.lib.papers(limit=3)]
        secret = link_secret(self.lib.store)
        tokens = [make_token(secret, purpose, int(sub or 1), time.time())
                  for purpose in PURPOSES]
        #: Values that get past the first check of a handler, by parameter name.
        self.hints: dict[str, list[str]] = {
            "name": ["t", "main", "main.rss"], "tree": ["t"], "collection": ["main"], "node": nodes + [
                f"t:{n}" for n in nodes], "nodes": [" ".join(nodes[:2])], "into": nodes,
            "parent": nodes, "key": keys, "paper": keys, "keys": keys, "seed": keys,
            "fmt": ["rss", "atom"], "mode": ["lexical", "semantic", "hybrid"],
            "window": ["day", "week", "month"], "tab": ["newest", "trending"],
            "order": ["recent", "id"], "q": ["protein", "graph study"], "search": ["protein"],
            "job_id": [str(job.id)], "sub_id": [str(sub or 1)], "token": tokens,
            "limit": ["1", "5", "200"], "offset": ["0", "3"], "page": ["1", "2"],
            "similar": ["0", "3"], "year_from": ["2000"], "year_to": ["2030"],
            "op": ["rename", "move", "merge", "pin", "unpin", "lock", "delete"],
            "label": ["A topic"], "email": ["someone@example.org"],
            "frequency": ["daily", "weekly"], "undo": ["", "1"], "back": ["/", "/trees"],
            "author": ["Ada Lovelace"]}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    f = Fuzz(tmp_path_factory.mktemp("fuzz"))
    yield f
    f.lib.close()


def _encoded(value: tuple[bool, str], safe: str = "") -> str:
    raw, text = value
    return text if raw else quote(text, safe=safe)


def _request(route: Any, draw: Any, fuzz: Fuzz,
             signed_in: bool) -> tuple[str, dict[str, str], bytes | None]:
    """A URL, headers and body for ``route`` with drawn values in every parameter (about
    half of them from ``fuzz.hints``, so that handlers get past their first check)."""
    dependant = route.dependant
    path = route.path
    csrf = fuzz.csrf if signed_in else fuzz.anonymous_csrf

    def value(name: str) -> tuple[bool, str]:
        hint = fuzz.hints.get(name)
        if hint and draw(st.sampled_from([True, True, False])):
            return False, draw(st.sampled_from(hint))
        return draw(values)

    for p in dependant.path_params:
        drawn = value(p.name)
        pattern = re.compile(r"\{" + re.escape(p.name) + r"(:[a-z]+)?\}")
        spec = pattern.search(path)
        safe = "/" if spec and spec.group(1) == ":path" else ""
        path = pattern.sub(lambda _m, v=drawn, s=safe: _encoded(v, s) or "x", path)
    query = []
    for p in dependant.query_params:
        if draw(st.booleans()):
            query.append(f"{quote(p.alias or p.name)}={_encoded(value(p.name))}")
    url = path + ("?" + "&".join(query) if query else "")
    headers: dict[str, str] = {"X-CSRF-Token": csrf}
    if signed_in and path.startswith("/api/"):
        headers["Authorization"] = f"Bearer {fuzz.token}"
    forms = [p for p in dependant.body_params if type(p.field_info).__name__ == "Form"]
    bodies = [p for p in dependant.body_params if p not in forms]
    if forms or (not bodies and route.methods & {"POST", "PUT", "PATCH"}):
        fields = [f"csrf={quote(csrf)}"] if draw(st.sampled_from([True] * 5 + [False])) else []
        for p in forms:
            if p.name != "csrf":
                fields += [f"{quote(p.name)}={_encoded(value(p.name))}"
                           for _ in range(draw(st.integers(0, 2)))]
        if not forms:  # a handler that reads the form itself (uploads)
            fields += [f"{_encoded(draw(values))}={_encoded(draw(values))}"
                       for _ in range(draw(st.integers(0, 2)))]
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return url, headers, "&".join(fields).encode()
    if bodies:
        embed = len(bodies) > 1 or bool(getattr(bodies[0].field_info, "embed", False))
        if embed:
            doc: Any = {p.alias or p.name: draw(st.one_of(json_values, st.sampled_from(
                fuzz.hints.get(p.name, [""])))) for p in bodies if draw(st.integers(0, 4))}
        else:
            shape = draw(st.sampled_from(["hinted", "hinted", "random", "any"]))
            doc = _hinted_dict(fuzz, draw) if shape == "hinted" else draw(
                st.dictionaries(body_keys, json_values, max_size=4) if shape == "random"
                else json_values)
        headers["Content-Type"] = "application/json"
        return url, headers, json.dumps(doc).encode()
    return url, headers, None


def _hinted_dict(fuzz: Fuzz, draw: Any) -> dict[str, Any]:
    """A JSON object with an ``op``, a ``node`` and other keys that have hints, most values
    from the hints (node ids also as numbers): tree edits and subscriptions."""
    keys = ["op", "node", *draw(st.lists(st.sampled_from(sorted(fuzz.hints)), max_size=3))]
    doc: dict[str, Any] = {}
    for key in keys:
        hinted = draw(st.sampled_from([True, True, False]))
        doc[key] = draw(st.sampled_from(fuzz.hints[key])) if hinted else draw(json_values)
        if isinstance(doc[key], str) and doc[key].isdigit() and draw(st.booleans()):
            doc[key] = int(doc[key])
    if draw(st.booleans()):
        doc["items"] = [{"kind": draw(st.sampled_from(["search", "seed", "node", "collection",
                                                        "author", "x"])),
                         "value": draw(st.sampled_from(fuzz.hints["node"] + fuzz.hints["key"]))}]
    return doc


def _sharp_requests(route: Any, fuzz: Fuzz) -> Iterator[tuple[str, dict[str, str], bytes | None]]:
    """Signed-in requests that put each :data:`SHARP` value in one parameter (path, query,
    form field, JSON field) at a time, the others holding a hint that gets them through."""
    dependant = route.dependant
    forms = [p for p in dependant.body_params if type(p.field_info).__name__ == "Form"]
    bodies = [p for p in dependant.body_params if p not in forms]
    plain = {p.name: (False, fuzz.hints.get(p.name, ["x"])[0]) for p in dependant.path_params}
    targets = [("path", p.name) for p in dependant.path_params] + [
        ("query", p.alias or p.name) for p in dependant.query_params] + [
        ("form", p.name) for p in forms if p.name != "csrf"] + [
        ("json", p.alias or p.name) for p in bodies]
    for (where, name), sharp in ((t, v) for t in targets for v in SHARP):
        path = route.path
        for p in dependant.path_params:
            chosen = sharp if (where, name) == ("path", p.name) else plain[p.name]
            spec = re.search(r"\{" + re.escape(p.name) + r"(:[a-z]+)?\}", path)
            assert spec is not None
            safe = "/" if spec.group(1) == ":path" else ""
            path = path.replace(spec.group(0), _encoded(chosen, safe) or "x")
        query = [(q.alias or q.name, (False, fuzz.hints[q.name][0]))
                 for q in dependant.query_params if q.name in fuzz.hints]
        query = [(k, sharp if (where, name) == ("query", k) else v) for k, v in query]
        if where == "query" and name not in dict(query):
            query.append((name, sharp))
        url = path + ("?" + "&".join(f"{quote(k)}={_encoded(v)}" for k, v in query)
                      if query else "")
        headers = {"X-CSRF-Token": fuzz.csrf}
        if path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {fuzz.token}"
        body: bytes | None = None
        if forms or (not bodies and route.methods & {"POST", "PUT", "PATCH"}):
            fields = [f"csrf={quote(fuzz.csrf)}"] + [
                f"{quote(p.name)}={quote(fuzz.hints.get(p.name, ['x'])[0])}" for p in forms
                if p.name not in ("csrf", name)]
            if where == "form":
                fields.append(f"{quote(name)}={_encoded(sharp)}")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = "&".join(fields).encode()
        elif bodies:
            text = "\ud800" if sharp[0] else sharp[1]  # a lone surrogate, in JSON
            doc = {p.alias or p.name: text if p.name == name else fuzz.hints.get(
                p.name, ["x"])[0] for p in bodies}
            embed = len(bodies) > 1 or bool(getattr(bodies[0].field_info, "embed", False))
            if not embed:  # a whole object (tree edits, subscriptions): sharpen each field
                node = fuzz.hints["node"][1]
                doc = [{"op": "rename", "node": text, "label": "x"},
                       {"op": "move", "node": node, "parent": text},
                       {"op": "merge", "nodes": [text], "into": node},
                       {"op": "pin", "paper": text, "node": node},
                       {"op": text, "node": node},
                       {"items": [{"kind": "node", "value": text}]},
                       {"items": [{"kind": "seed", "value": text}], "frequency": text},
                       {"email": text, "items": [{"kind": "search", "value": text}]},
                       ][SHARP.index(sharp) % 8]
            headers["Content-Type"] = "application/json"
            body = json.dumps(doc).encode()
        if where != "json" or bodies:
            yield url, headers, body


def test_every_kind_of_route_is_found() -> None:
    """The walk over ``app.routes`` still sees into included routers (FastAPI changes how
    it keeps them), so the tests below are not silently empty."""
    for expected in (("GET", "/api/search"), ("GET", "/search"), ("POST", "/signin"),
                     ("GET", "/feeds/trending.{fmt}"), ("POST", "/api/unsubscribe"),
                     ("GET", "/api/jobs/{job_id}"), ("POST", "/trees/{name}/edits")):
        assert expected in ROUTES
    assert len(ROUTES) >= 50


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_sharp_values_never_answer_5xx(fuzz: Fuzz, method: str, path: str) -> None:
    if (method, path) in SIGNED_OUT_ONLY:
        pytest.skip("would end the signed-in session")
    failures = []
    for url, headers, body in _sharp_requests(fuzz.routes[(method, path)], fuzz):
        r = fuzz.member.request(method, url, headers=headers, content=body,
                                follow_redirects=False)
        if r.status_code >= 500:
            failures.append((url[:200], body and body[:200], r.status_code))
    assert not failures, failures


@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_no_route_answers_5xx(fuzz: Fuzz, method: str, path: str, signed_in: bool) -> None:
    if signed_in and (method, path) in SIGNED_OUT_ONLY:
        pytest.skip("would end the signed-in session")
    route = fuzz.routes[(method, path)]
    client = fuzz.member if signed_in else fuzz.anonymous

    @settings(max_examples=EXAMPLES or 10, deadline=None, database=None,
              derandomize=not EXAMPLES,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        url, headers, body = _request(route, data.draw, fuzz, signed_in)
        r = client.request(method, url, headers=headers, content=body,
                           follow_redirects=False)
        assert r.status_code < 500, (method, url, body and body[:300], r.status_code,
                                     r.text[:300])

    check()
