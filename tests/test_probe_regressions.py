"""Defects found by an end-to-end re-probe of issue 15 (a real server and the CLI, tried as
an attacker and a careless user), each reproduced here first."""

from __future__ import annotations

import json
import re
import tracemalloc

from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.web import WebSettings, create_app


def client_at(lib: Library, ip: str) -> TestClient:
    settings = WebSettings(secret_key="k", signin_client_failures=3, token_client_failures=3)
    return TestClient(create_app(lib, settings), client=(ip, 50000))


def csrf_of(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


# -- item 5: one IPv6 host rotates through its /64 to dodge the per-client throttles ------

def test_bad_tokens_from_one_ipv6_64_are_throttled_together(lib: Library) -> None:
    codes = [client_at(lib, f"2001:db8:0:1::{i + 1:x}").get(
        "/api/subscriptions", headers={"Authorization": f"Bearer pa_bad{i}"}).status_code
        for i in range(6)]
    assert codes == [401] * 3 + [429] * 3


def test_failed_sign_ins_from_one_ipv6_64_are_throttled_together(lib: Library) -> None:
    codes = []
    for i in range(6):  # other accounts' names, so only the per-client cap can stop them
        client = client_at(lib, f"2001:db8:0:2::{i + 1:x}")
        codes.append(client.post("/signin", data={
            "csrf": csrf_of(client, "/signin"), "name": f"user{i}", "password": "wrong",
            "next": "/"}).status_code)
    assert codes == [401] * 3 + [429] * 3


# -- item 2: plus-addressing dodges the per-address mail cap -------------------------------

def test_plus_addressed_variants_share_the_address_cap(lib: Library) -> None:
    sent = 0
    for i in range(8):  # another client each time: only the per-address cap can stop them
        client = client_at(lib, f"198.51.100.{i + 1}")
        r = client.post("/subscribe", data={
            "csrf": csrf_of(client, "/subscribe"), "email": f"Victim+{i}@Example.org",
            "search": [f"query {i}"], "frequency": "daily"})
        sent += r.status_code == 200
    assert sent == 3
    assert sum(1 for m in lib.follow.outbox(limit=100) if m.kind == "confirm") == 3


# -- item 10: valid UTF-8 lines mangled when a cp1252 line has more non-UTF-8 bytes -------

def test_valid_utf8_lines_are_never_decoded_as_cp1252(lib: Library, write) -> None:
    lines = [json.dumps({"title": f"\u00c9tude {i}", "abstract": "ok"}, ensure_ascii=False)
             .encode() for i in range(5)]
    lines.append('{"title": "\u00e0\u00e9\u00e8\u00ea\u00eb\u00ee\u00ef\u00f4\u00f6\u00f9'
                 '\u00fb\u00fc\u00e7 \u00e0\u00e9\u00e8\u00ea\u00eb\u00ee\u00ef", '
                 '"abstract": "x"}'.encode("cp1252"))
    path = write("mixed.jsonl", b"\n".join(lines) + b"\n")
    report = lib.ingest([path])
    titles = sorted(p.title for p in lib.papers(limit=50))
    assert titles == [f"\u00c9tude {i}" for i in range(5)]
    assert [r.line for r in report.files[0].rejections] == [6]


# -- item 11: a JSON document of many tiny values costs far more than 300 MB --------------

def test_json_document_of_many_tiny_values_is_refused_before_parsing(
        lib: Library, write) -> None:
    path = write("many.json", "[" + ",".join(["{}"] * 2_000_000) + "]")  # 6 MB of text
    good = write("good.jsonl", '{"title": "A good paper"}\n')
    tracemalloc.start()
    try:
        report = lib.ingest([path, good])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000_000  # parsed, 2M empty dicts alone take ~150 MB
    assert report.files[0].error and "values" in report.files[0].error
    assert [p.title for p in lib.papers(limit=10)] == ["A good paper"]
