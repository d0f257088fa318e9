"""The search fields of ``/search`` and ``/api/search``, read once into a ``SearchQuery``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query

from ..bounds import MAX_YEAR, MIN_YEAR, parse_int
from ..search import MODES, SearchQuery

_YEAR = f"A year ({MIN_YEAR} to {MAX_YEAR}); blank for none."


@dataclass(frozen=True)
class SearchForm:
    """The query parameters both search routes take (``Depends()`` reads them); a blank
    field means "not given", and the page writes them back into its form and links."""

    q: Annotated[str, Query(description="Any text.")] = ""
    mode: Annotated[str, Query(description=f"One of {', '.join(MODES)} (default: hybrid "
                               "when the library has vectors, else lexical).")] = ""
    collection: Annotated[str, Query(description="Only papers of this collection.")] = ""
    year_from: Annotated[str, Query(description=_YEAR)] = ""
    year_to: Annotated[str, Query(description=_YEAR)] = ""
    author: Annotated[str, Query(description="Only papers with this author.")] = ""

    def query(self, *, limit: int, offset: int) -> SearchQuery:
        """The search these fields ask for (checked: a bad mode or year is a 400)."""
        return SearchQuery(self.q, mode=self.mode.strip(), limit=limit, offset=offset,
                           collection=self.collection.strip(),
                           year_from=_year(self.year_from, "year from"),
                           year_to=_year(self.year_to, "year to"), author=self.author.strip())

    def items(self) -> tuple[tuple[str, str], ...]:
        """The fields as ``(name, value)`` pairs, in order (for links to other pages)."""
        return tuple((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))

    @property
    def filtered(self) -> bool:
        """Whether a filter (collection, years, author) is set."""
        return any((self.collection, self.year_from, self.year_to, self.author))


def _year(value: str, name: str) -> int | None:
    """A year from a field: blank means none, anything but a year is an error (ASCII digits
    only: "²" passes ``str.isdigit`` and then ``int`` fails)."""
    text = value.strip()
    return parse_int(name, text, MIN_YEAR, MAX_YEAR) if text else None
