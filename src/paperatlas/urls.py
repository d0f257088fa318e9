"""The site's URLs, written in one place for pages, feeds and mail.

``Urls()`` writes them relative to the site (``/papers/KEY``), for pages and redirects;
``Urls("https://papers.example.org")`` writes the same paths absolute, for feeds and mail,
which are read away from the site. A paper key is quoted whole (keys may hold ``/``, ``:``,
``?``; the routes take the rest of the path). A tree name is quoted whole after a ``/``,
``%`` or ``~`` in it (only names made before they were refused have one) is written
``~2F``, ``~25``, ``~7E``: servers decode ``%2F`` before routing (so it would split the
path) and some decode twice; :func:`tree_name` turns the path segment back into the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

#: Characters a tree's path segment writes as ``~XX`` (see :meth:`Urls.tree`).
_TREE_ESCAPED = "%/~"


def tree_name(segment: str) -> str:
    """The tree name in a path segment written by :meth:`Urls.tree` (as routers decode it)."""
    return re.sub(r"~(25|2F|7E)", lambda m: chr(int(m.group(1), 16)), segment,
                  flags=re.IGNORECASE)


@dataclass(frozen=True)
class Urls:
    """The URLs of one site; ``base`` (``http(s)://host[/prefix]``, a trailing ``/``
    dropped) makes them absolute, empty leaves them relative to the site."""

    base: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.base.rstrip("/"))

    def url(self, path: str) -> str:
        """A path of the site (``/...``) as this builder writes URLs."""
        return self.base + path

    def home(self) -> str:
        return self.url("/")

    def paper(self, key: str) -> str:
        """A paper's page (``/api`` before the path: its JSON)."""
        return self.url("/papers/" + quote(key, safe=""))

    def tree(self, name: str, node: int | None = None) -> str:
        """The explorer page of a tree, or of one of its topics."""
        escaped = "".join(f"~{ord(c):02X}" if c in _TREE_ESCAPED else c for c in name)
        path = "/trees/" + quote(escaped, safe="~")
        return self.url(path if node is None else f"{path}/nodes/{node}")

    def collection(self, name: str) -> str:
        return self.url("/collections/" + quote(name, safe=""))

    def sentence(self, key: str, index: int) -> str:
        """A sentence of a paper's abstract (``index`` from 0), on the paper's page."""
        return f"{self.paper(key)}#s{index}"

    def ask(self, question: str = "", **scope: str) -> str:
        """The Ask page, with a question and a scope (``collection``, ``node``,
        ``papers``) filled in."""
        fields = {k: v for k, v in {"q": question, **scope}.items() if v}
        return self.url("/ask" + ("?" + urlencode(fields) if fields else ""))

    def search(self, query: str, mode: str | None = None) -> str:
        return self.url("/search?" + _search_params(query, mode))

    def export(self, fmt: str, **scope: str) -> str:
        """A download of papers as ``fmt`` (``bibtex``, ``ris``, ``csljson``, ...): one of
        ``collection``, ``q``, ``node`` (``TREE:ID``) or ``paper`` (a key)."""
        return self.url("/api/export?" + urlencode({"format": fmt, **{
            k: v for k, v in scope.items() if v}}))

    def feed(self, page: str) -> str:
        """The feed that follows a page of the site, given as its path (a collection's, a
        topic's, a search's): ``/feeds`` before it."""
        return self.url("/feeds" + page)

    def search_feed(self, query: str, mode: str | None = None) -> str:
        return self.url("/feeds/search?" + _search_params(query, mode))

    def subscriptions(self) -> str:
        return self.url("/subscriptions")

    def confirm(self, token: str) -> str:
        """Where a confirmation message's link goes."""
        return self.url("/subscriptions/confirm/" + quote(token, safe=""))

    def unsubscribe(self, token: str) -> str:
        """The one-click unsubscribe link of every message (and its ``List-Unsubscribe``)."""
        return self.url("/unsubscribe/" + quote(token, safe=""))


def _search_params(query: str, mode: str | None) -> str:
    return urlencode({"q": query, **({"mode": mode} if mode else {})})


#: URLs relative to the site.
SITE = Urls()
