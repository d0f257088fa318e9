"""End to end in Chromium (see ``test_e2e``): open sign-up (issue 20, item 7). A visitor
follows the header's "Sign up" link, signs up, opens the confirmation link that the
library queued in its outbox (no mail server here: the page says it waits), confirms, and
ends signed in as the new user."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default

import pytest

from test_e2e import ARTIFACTS, browser, page, served, shot  # noqa: F401 (fixtures; skips without a browser)

pytest.importorskip("uvicorn")
pytest.importorskip("argon2")
from playwright.sync_api import Page, expect

from paperatlas import Library
from test_tree import papers_of, write_csv


@pytest.fixture(scope="module")
def signup_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Library]]:
    """A small lexical library served with open sign-up and no mail server."""
    tmp = tmp_path_factory.mktemp("e2e-signup")
    lib = Library(tmp / "s.db", embedding_model=None)
    lib.ingest([write_csv(tmp / "in" / "p.csv", papers_of("protein", 6))])
    try:
        with served(lib, open_signup=True) as base:
            yield base, lib
    finally:
        lib.close()


def shot_path(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


def confirmation_link(lib: Library, address: str) -> str:
    """The link in the newest outbox message to ``address``, read through the library."""
    newest = next(m for m in lib.follow.outbox() if m.recipient == address)
    raw = lib.store.outbox.message(newest.message_id)
    assert raw is not None and newest.state == "pending"
    msg = email.message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(("plain",))
    assert body is not None
    found = re.search(r"http://\S+/signup/confirm\?token=\S+", body.get_content())
    assert found
    return found.group(0)


def test_sign_up_confirm_by_the_mailed_link_and_end_signed_in(
        signup_site: tuple[str, Library], page: Page) -> None:  # noqa: F811
    base, lib = signup_site
    page.goto(base + "/")
    expect(page.locator(".usermenu a", has_text="Sign in")).to_be_visible()
    page.locator(".usermenu").screenshot(path=shot_path("29-signup-link"))
    page.locator(".usermenu a", has_text="Sign up").click()
    page.wait_for_url("**/signup")
    expect(page.locator("h1")).to_have_text("Sign up")
    expect(page.locator(".notice")).to_contain_text("no mail set up yet")
    page.fill("input[name=name]", "grace")
    page.fill("input[name=email]", "grace@example.org")
    page.fill("input[name=password]", "correct horse battery")
    page.fill("input[name=again]", "correct horse battery")
    shot(page, "30-signup")
    page.click("form.stack button[type=submit]")
    expect(page.locator("h1")).to_have_text("Sign-up saved")
    expect(page.locator("main")).to_contain_text("could not be sent now")
    shot(page, "31-signup-saved")
    assert lib.people.all() == []

    link = confirmation_link(lib, "grace@example.org")
    assert link.startswith(base + "/signup/confirm?token=")
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Confirm your account")
    expect(page.locator("main")).to_contain_text("grace@example.org")
    shot(page, "32-signup-confirm")
    assert lib.people.all() == []  # opening the link made nothing
    page.locator("button", has_text="Create my account").click()
    page.wait_for_url(base + "/")
    expect(page.locator(".usermenu")).to_contain_text("grace")
    expect(page.locator(".flash")).to_contain_text("Welcome, grace")
    expect(page.locator(".usermenu button", has_text="Sign out")).to_be_visible()
    shot(page, "33-signed-up")
    assert [u.name for u in lib.people.all()] == ["grace"]
