"""Confirmation mails are capped: a pending one is not sent again (until its cool-down), and
at most so many go to one address and are asked for by one client, counted in the library
(so the caps hold across ``serve --workers N`` and restarts); refusals are logged."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.errors import TooManyRequestsError
from paperatlas.follow.settings import DigestSettings, MailLimits, MailSettings
from paperatlas.follow.subscriptions import items_from
from paperatlas.web import WebSettings, create_app

VICTIM = "victim@example.org"


def confirmations(lib: Library, address: str | None = None) -> int:
    """Confirmation messages in the outbox (to one address, or to anyone)."""
    return sum(1 for m in lib.follow.outbox(limit=1000)
               if m.kind == "confirm" and (address is None or m.recipient == address))


def client_of(lib: Library, ip: str = "203.0.113.7") -> TestClient:
    return TestClient(create_app(lib, WebSettings(secret_key="k")), client=(ip, 50000))


def post(client: TestClient, email: str, query: str = "protein folding") -> int:
    form = client.get("/subscribe")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found
    r = client.post("/subscribe", data={"csrf": found.group(1), "email": email,
                                        "search": [query], "frequency": "daily"})
    return r.status_code


def test_the_same_subscription_25_times_mails_once(lib: Library) -> None:
    client = client_of(lib)
    codes = [post(client, VICTIM) for _ in range(25)]
    assert set(codes) == {200}  # the same answer every time: nothing to tell apart
    assert confirmations(lib, VICTIM) == 1
    assert len(lib.follow.subscriptions(email=VICTIM)) == 1


def test_one_address_gets_at_most_three_a_day(lib: Library,
                                              caplog: pytest.LogCaptureFixture) -> None:
    # other queries each time (no dedupe), from other clients (no client cap)
    codes = []
    with caplog.at_level(logging.WARNING, logger="paperatlas.follow.subscriptions"):
        for i in range(25):
            codes.append(post(client_of(lib, f"198.51.100.{i}"), VICTIM, f"query {i}"))
    assert confirmations(lib, VICTIM) == 3
    assert codes[:3] == [200] * 3 and set(codes[3:]) == {429}
    refusals = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(refusals) == 22 and not any(r.exc_info for r in refusals)
    assert all(VICTIM not in r.getMessage() and "per-address cap" in r.getMessage()
               and "client 198.51.100." in r.getMessage() for r in refusals)


def test_one_client_asks_for_at_most_ten_an_hour(lib: Library) -> None:
    client = client_of(lib)
    codes = [post(client, f"person{i}@example.org") for i in range(25)]
    assert confirmations(lib) == 10
    assert codes[:10] == [200] * 10 and set(codes[10:]) == {429}
    page = client.post("/subscribe", data={})  # no CSRF token: refused before any mail
    assert page.status_code == 403
    # another client still can
    assert post(client_of(lib, "192.0.2.1"), "someone@example.org") == 200


def test_the_caps_hold_across_processes_and_restarts(tmp_path: Path) -> None:
    """Two libraries on one database (two workers, or a restart) share the counts."""
    first = Library(tmp_path / "lib.db", embedding_model=None)
    second = Library(tmp_path / "lib.db", embedding_model=None)
    a, b = client_of(first), client_of(second)
    for i in range(6):
        post(a if i % 2 else b, VICTIM, f"query {i}")
    assert confirmations(first, VICTIM) == 3
    first.close()
    second.close()
    with Library(tmp_path / "lib.db", embedding_model=None) as third:
        assert post(client_of(third, "192.0.2.9"), VICTIM, "another") == 429
        assert confirmations(third, VICTIM) == 3


def test_a_pending_confirmation_is_resent_after_its_cool_down(lib: Library) -> None:
    from datetime import UTC, datetime, timedelta

    limits = MailLimits(resend_after=3600)
    st, mail = DigestSettings(), MailSettings()
    items = items_from(searches=["galaxies"])
    first = lib.follow.subscribe(VICTIM, items, st, mail, client="c", limits=limits)
    again = lib.follow.subscribe(VICTIM, items, st, mail, client="c", limits=limits)
    assert again.id == first.id and confirmations(lib) == 1
    later = datetime.now(UTC) + timedelta(hours=2)
    lib.follow.set_clock(lambda: later)
    assert lib.follow.subscribe(VICTIM, items, st, mail, client="c", limits=limits).id == first.id
    assert confirmations(lib) == 2
    lib.follow.set_clock()


def test_the_api_answers_429_with_retry_after(lib: Library) -> None:
    pytest.importorskip("argon2")
    lib.people.add("alice", "correct horse battery")
    auth = {"Authorization": f"Bearer {lib.people.token_create('alice').token}"}
    client = client_of(lib)
    answers = [client.post("/api/subscriptions", headers=auth, json={
        "email": VICTIM, "items": [{"kind": "search", "value": f"q{i}"}]}) for i in range(5)]
    assert [r.status_code for r in answers] == [201, 201, 201, 429, 429]
    refused = answers[-1]
    assert refused.json()["error"]["type"] == "TooManyRequestsError"
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    assert VICTIM not in refused.text
    assert confirmations(lib, VICTIM) == 3


def test_limits_are_checked_and_off_without_them(lib: Library) -> None:
    from paperatlas import InvalidOptionError

    with pytest.raises(InvalidOptionError, match="per_address"):
        MailLimits(per_address=0)
    with pytest.raises(InvalidOptionError, match="7 days"):
        MailLimits(address_window=30 * 86400)
    st, mail = DigestSettings(), MailSettings()
    # the CLI (an administrator) passes no limits: only the dedupe applies
    for i in range(5):
        lib.follow.subscribe(VICTIM, items_from(searches=[f"q{i}"]), st, mail)
    assert confirmations(lib, VICTIM) == 5
    with pytest.raises(TooManyRequestsError) as caught:
        lib.follow.subscribe(VICTIM, items_from(searches=["q9"]), st, mail, client="c",
                      limits=MailLimits())
    assert caught.value.retry_after >= 1


def test_limits_come_from_the_settings_file(tmp_path: Path) -> None:
    from paperatlas import InvalidOptionError
    from paperatlas.cli.settings import for_web, load

    conf = tmp_path / "s.toml"
    conf.write_text("[mail_limits]\nper_address = 5\nclient_window = 600\n", encoding="utf-8")
    limits = load(str(conf), {})[0].limits
    assert (limits.per_address, limits.client_window, limits.per_client) == (5, 600.0, 10)
    assert for_web(str(conf), {})[0].limits == limits  # what serve hands the web app
    conf.write_text("[mail_limits]\nper_adress = 5\n", encoding="utf-8")
    with pytest.raises(InvalidOptionError, match="per_address"):
        load(str(conf), {})


def test_the_refusal_page_says_why_in_a_sentence(lib: Library) -> None:
    from paperatlas.web.subscribe import as_sentence

    client = client_of(lib)
    for i in range(10):
        assert post(client, f"person{i}@example.org") == 200
    form = client.get("/subscribe")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found
    page = client.post("/subscribe", data={"csrf": found.group(1), "email": "x@example.org",
                                           "search": ["q"], "frequency": "daily"})
    assert page.status_code == 429
    assert "Too many confirmation messages were asked for; try again in" in page.text
    # names keep their case (str.capitalize lowered them)
    assert as_sentence("no mail for Ada.Lovelace@Example.org") == \
        "No mail for Ada.Lovelace@Example.org."
    assert as_sentence("Done.") == "Done."
