"""The low-level scanner of BibTeX text (:mod:`.bibtex` maps its entries onto records).

The text is cut into pieces that each start at an ``@type{`` line outside braces
(:func:`pieces`), so memory holds one entry; :class:`Scanner` reads a piece's entries
(``@string`` macros, ``#`` concatenation, braced and quoted values, ``@comment`` and
``@preamble``), their values left as raw LaTeX.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .limits import MAX_LINE_CHARS, MAX_RECORD_CHARS
from .source import Lines

#: An entry's start (``@type{`` or ``@type(``) at the start of a line, spaces allowed.
ENTRY_START = re.compile(r"^[ \t]*@[ \t]*[A-Za-z]+[ \t]*[{(]", re.MULTILINE)
#: Outside entries: a ``%`` comment line (skipped whole) or an ``@``.
_OUTSIDE = re.compile(r"^[ \t]*%[^\n]*|@", re.MULTILINE)
_LINE_AT = re.compile(r"^[ \t]*@", re.MULTILINE)
#: An entry's start at the start of a line: a new piece even inside unbalanced braces.
_FLUSH_START = re.compile(r"^@[ \t]*[A-Za-z]+[ \t]*[{(]")
_NAME = re.compile(r"[A-Za-z0-9_\-:.+/']+")
_KEY = re.compile(r"[^\s,{}()\"#%=]*")
_NUMBER = re.compile(r"\d+")
_SPACE = re.compile(r"\s*")
_BRACES = re.compile(r"[{}]")
_QUOTED = re.compile(r'[{}"]')
_PARENS = re.compile(r"[{}()]")
_SKIPPED_TYPES = frozenset({"comment", "preamble"})


class BibSyntaxError(Exception):
    """A syntax error at an offset of the text (a rejected entry, or a ParseError).
    ``at_end``: the text ended inside the entry (the last one of a file: truncated)."""

    def __init__(self, message: str, pos: int, at_end: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.at_end = at_end


@dataclass
class Entry:
    """One entry as scanned: its type, key, offset in the text and raw fields."""

    kind: str
    key: str
    pos: int
    fields: dict[str, str] = field(default_factory=dict)  # raw LaTeX, names lowercased


class Scanner:
    """Reads the entries of a whole ``.bib`` text; values stay raw LaTeX."""

    def __init__(self, text: str, macros: dict[str, str]) -> None:
        self.text = text
        self.pos = 0
        self.at = 0  # where the entry being read starts
        self.macros = macros  # shared by the pieces of one file

    def entries(self) -> Iterator[Entry]:
        while (at := self._next_at()) >= 0:
            self.pos, self.at = at + 1, at
            kind = self._match(_NAME).lower()
            self._skip_space()
            opener = self._peek()
            if not kind or opener not in ("{", "("):
                line_start = self.text.rfind("\n", 0, at) + 1
                if self.text[line_start:at].strip():
                    continue  # an '@' inside free text (comments between entries)
                raise BibSyntaxError("expected '@type{' (an entry type and a brace)", at)
            close = "}" if opener == "{" else ")"
            self.pos += 1
            if kind in _SKIPPED_TYPES:
                self._skip_balanced(self.pos - 1, close)
            elif kind == "string":
                self._string(close, at)
            else:
                yield self._entry(kind, close, at)

    # -- the pieces of an entry ---------------------------------------------------------

    def _entry(self, kind: str, close: str, at: int) -> Entry:
        self._skip_space()
        start = self.pos
        key = self._match(_KEY)
        self._skip_space()
        if self._peek() == "=":  # an entry without a key
            key, self.pos = "", start
        elif self._peek() == ",":
            self.pos += 1
        elif self._peek() != close:
            raise self._error(f"expected ',' after the entry key {key!r}")
        entry = Entry(kind, key, at)
        while True:
            self._skip_space()
            if self._peek() == close:
                self.pos += 1
                return entry
            name = self._match(_NAME).lower()
            if not name:
                raise self._error(f"expected a field name or '{close}'")
            self._expect("=", f"after the field name {name!r}")
            value = self._value()
            entry.fields.setdefault(name, value)
            self._skip_space()
            if self._peek() == ",":
                self.pos += 1
            elif self._peek() != close:
                raise self._error(f"expected ',' or '{close}' after the field {name!r}")

    def _string(self, close: str, at: int) -> None:
        self._skip_space()
        name = self._match(_NAME).lower()
        if not name:
            raise self._error("expected a macro name in @string")
        self._expect("=", f"after the macro name {name!r}")
        self.macros[name] = self._value()
        self._skip_space()
        if self._peek() == ",":
            self.pos += 1
            self._skip_space()
        self._expect(close, f"to end @string {name!r}")

    def _value(self) -> str:
        parts = [self._piece()]
        self._skip_space()
        while self._peek() == "#":
            self.pos += 1
            parts.append(self._piece())
            self._skip_space()
        return "".join(parts)

    def _piece(self) -> str:
        self._skip_space()
        c = self._peek()
        if c in ('{', '"'):
            start = self.pos
            self._skip_balanced(start, "}" if c == "{" else '"')
            return self.text[start + 1 : self.pos - 1]
        if number := self._match(_NUMBER):
            return number
        if name := self._match(_NAME):
            # An undefined macro (say, a journal abbreviation from another .bib file)
            # keeps its name as its text, as BibTeX does after its warning.
            return self.macros.get(name.lower(), name)
        raise self._error("expected a value ('{...}', '\"...\"', a number or a macro name)")

    # -- low-level scanning -------------------------------------------------------------

    def _next_at(self) -> int:
        for m in _OUTSIDE.finditer(self.text, self.pos):
            if m.group() == "@":
                return m.start()
        return -1

    def _skip_balanced(self, start: int, close: str) -> None:
        """Move past the ``close`` that ends the group opened at ``start`` (braces nest)."""
        pattern = _QUOTED if close == '"' else _PARENS if close == ")" else _BRACES
        depth = 0
        for m in pattern.finditer(self.text, start + 1):
            c = m.group()
            if depth == 0 and c == close:
                self.pos = m.end()
                return
            if c in "{(":
                depth += 1
            elif c in "})":
                depth -= 1
                if depth < 0:
                    raise BibSyntaxError(f"unbalanced {c!r}", m.start())
        raise BibSyntaxError(f"{self.text[start]!r} is never closed (unbalanced braces?)", start,
                           at_end=True)

    def _skip_space(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def _match(self, pattern: re.Pattern[str]) -> str:
        m = pattern.match(self.text, self.pos)
        if not m:
            return ""
        self.pos = m.end()
        return m.group()

    def _peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def _expect(self, char: str, where: str) -> None:
        self._skip_space()
        if self._peek() != char:
            raise self._error(f"expected {char!r} {where}")
        self.pos += 1

    def _error(self, message: str) -> BibSyntaxError:
        found = self._peek()
        what = f"found {found!r}" if found else "the entry ends"
        return BibSyntaxError(f"{message}; {what}", self.pos, at_end=not found)

    def resync(self) -> None:
        """Go on after a broken entry: at the next line that starts with ``@``."""
        m = _LINE_AT.search(self.text, self.at + 1)
        self.pos = m.start() if m else len(self.text)


def pieces(fh: Lines) -> Iterator[tuple[int, str, str | None]]:
    """``(first line, text, problem)``: the file in pieces that each start at an
    ``@type{`` line outside braces, so that one piece holds one entry (or a few).

    A piece over :data:`MAX_RECORD_CHARS`, or with a line over the line limit, comes
    without its text and with the problem; the next piece then starts at the next
    ``@type{`` line whatever the braces (the dropped text may have unbalanced them).
    """
    fh.tolerant = True
    lines: list[str] = []
    first, depth, size = 1, 0, 0
    problem: str | None = None
    for n, text in fh:
        if ((_FLUSH_START.match(text) or (ENTRY_START.match(text) and depth <= 0) or
                (problem and ENTRY_START.match(text))) and (lines or problem)):
            yield first, "\n".join(lines), problem
            lines, first, depth, size, problem = [], n, 0, 0, None
        if not lines and problem is None:
            first = n
        if depth > 0 or not text.lstrip().startswith("%"):
            depth += text.count("{") - text.count("}")
        size += len(text) + 1
        if problem is None and n in fh.long:
            problem = (f"line {n} is {fh.long[n].chars} characters long "
                       f"(more than {MAX_LINE_CHARS})")
        elif problem is None and size > MAX_RECORD_CHARS:
            problem = f"the entry is more than {MAX_RECORD_CHARS} characters long"
        if problem:
            lines = []
        else:
            lines.append(text)
    if lines or problem:
        yield first, "\n".join(lines), problem
