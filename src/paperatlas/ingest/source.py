"""Open an input file robustly: fingerprint, encoding detection, counted reading.

Text comes out in bounded pieces (:class:`Lines`); a file with NUL bytes (binary data,
or UTF-16 without a byte-order mark) is unreadable. A UTF-8 file with stray bytes
(however many) stays UTF-8: each stray byte is kept as a surrogate escape (U+DC80-U+DCFF), and
the record that holds it is rejected (see :func:`.limits.check_record`); only a file
with no valid UTF-8 beyond its stray bytes is read as cp1252.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import ParseError
from .limits import MAX_LINE_CHARS

_CHUNK = 1 << 20
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_FALLBACK_ERRORS = "paperatlas-latin1"
#: Bytes that are whitespace in ASCII-compatible encodings and in UTF-16/32 text.
_BLANK_BYTES = b" \t\r\n\x0b\x0c\x00"
_HIGH_BYTES = bytes(range(0x80, 0x100))
#: Bytes that are not UTF-8, as the 'surrogateescape' error handler decodes them.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_UTF8_ERRORS = "surrogateescape"


def _strip_bom(data: bytes) -> bytes:
    for bom, _ in _BOMS:
        if data.startswith(bom):
            return data[len(bom):]
    return data


def _latin1_fallback(err: UnicodeError) -> tuple[str, int]:
    """Decode the few bytes cp1252 leaves undefined as their Latin-1 characters."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    bad = err.object[err.start : err.end]
    return bytes(bad).decode("latin-1"), err.end


def _register_fallback() -> None:
    try:
        codecs.lookup_error(_FALLBACK_ERRORS)
    except LookupError:
        codecs.register_error(_FALLBACK_ERRORS, _latin1_fallback)


@dataclass(frozen=True)
class InputFile:
    """A file about to be parsed: where it is, its fingerprint and its encoding."""

    path: Path
    size: int
    sha256: str
    encoding: str
    head: str  # the first few KB, decoded, for format detection
    blank: bool  # nothing but whitespace (or nothing at all)
    #: The bytes themselves, for an answer fetched from a source (None: read ``path``).
    data: bytes | None = field(default=None, repr=False)
    #: Where the bytes came from when they are no file (a URL), for provenance.
    origin: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes, name: str, origin: str) -> InputFile:
        """An answer fetched from ``origin`` (a URL), read like a file called ``name``."""
        scan = _Scan()
        for start in range(0, max(len(data), 1), _CHUNK):
            scan.feed(data[start:start + _CHUNK], name)
        return cls._settled(Path(name), scan, data=data, origin=origin)

    @classmethod
    def inspect(cls, path: str | Path) -> InputFile:
        """Read the file once to fingerprint it and settle its encoding.

        NUL bytes outside UTF-16/32 make the file unreadable (found early, without
        reading the rest). Otherwise UTF-8 wins unless the file has stray bytes and no
        valid UTF-8 character beyond ASCII (then it is cp1252): valid UTF-8 is never
        read as cp1252, whatever the number of stray bytes beside it.
        """
        p = Path(path)
        try:
            fh = p.open("rb")
        except OSError as exc:
            raise ParseError(f"cannot read file: {exc.strerror or exc}", path=str(p)) from exc
        scan = _Scan()
        with fh:
            try:
                while chunk := fh.read(_CHUNK):
                    scan.feed(chunk, str(p))
            except OSError as exc:
                raise ParseError(f"cannot read file: {exc}", path=str(p)) from exc
        return cls._settled(p, scan)

    @classmethod
    def _settled(cls, p: Path, scan: _Scan, *, data: bytes | None = None,
                 origin: str | None = None) -> InputFile:
        encoding = scan.bom
        if encoding is None:
            if scan.decoder.decode(b"", final=True) and not scan.invalid:
                raise ParseError("the file ends inside a UTF-8 character (truncated?)",
                                 path=str(p), line=scan.newlines + 1)
            valid = scan.nonascii - scan.invalid
            encoding = "utf-8" if valid or not scan.invalid else "cp1252"
        head = _decode(scan.first, encoding)
        return cls(path=p, size=scan.size, sha256=scan.digest.hexdigest(), encoding=encoding,
                   head=head, blank=scan.blank, data=data, origin=origin)

    def open_text(self, on_bytes: Callable[[int], None] | None = None,
                  offset: int = 0) -> io.TextIOWrapper:
        """Open for reading as text (from byte ``offset``, the start of a line);
        ``on_bytes`` is told how many bytes were read."""
        _register_fallback()
        try:
            raw: BinaryIO = io.BytesIO(self.data) if self.data is not None else self.path.open("rb")
            raw.seek(offset)
        except OSError as exc:
            raise ParseError(f"cannot read file: {exc.strerror or exc}",
                             path=str(self.path)) from exc
        if on_bytes is not None:
            raw = _CountingReader(raw, on_bytes)  # type: ignore[assignment]
        errors = (_FALLBACK_ERRORS if self.encoding == "cp1252" else
                  _UTF8_ERRORS if self.encoding.startswith("utf-8") else "strict")
        return io.TextIOWrapper(raw, encoding=self.encoding, errors=errors, newline=None)


@dataclass
class _Scan:
    """What one pass over a file's bytes learns: hash, size, BOM, blankness, UTF-8 fit."""

    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors=_UTF8_ERRORS))
    first: bytes = b""
    bom: str | None = None
    size: int = 0
    newlines: int = 0
    blank: bool = True
    invalid: int = 0  # bytes that are not UTF-8
    nonascii: int = 0  # characters beyond ASCII, stray bytes included

    def feed(self, chunk: bytes, path: str) -> None:
        if not self.size:
            self.first = chunk[:8192]
            self.bom = next((enc for bom, enc in _BOMS if chunk.startswith(bom)), None)
        if self.bom in (None, "utf-8-sig") and (nul := chunk.find(b"\x00")) >= 0:
            raise ParseError(_nul_problem(chunk, self.size + nul), path=path,
                             line=self.newlines + chunk.count(b"\n", 0, nul) + 1)
        if self.blank and (_strip_bom(chunk) if not self.size else chunk).strip(_BLANK_BYTES):
            self.blank = False
        self.size += len(chunk)
        self.newlines += chunk.count(b"\n")
        self.digest.update(chunk)
        if self.bom is None:
            text = self.decoder.decode(chunk)
            if not text.isascii():
                self.nonascii += len(text) - len(chunk.translate(None, _HIGH_BYTES))
                if _ESCAPED_BYTE.search(text):
                    self.invalid += len(_ESCAPED_BYTE.findall(text))


def _nul_problem(chunk: bytes, offset: int) -> str:
    """Why a file with a NUL byte at ``offset`` (in ``chunk``, read from an even offset)
    is unreadable: UTF-16 without a byte-order mark, or binary data."""
    sample = chunk[:65536]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if max(even, odd) > len(sample) // 6 and min(even, odd) * 10 < max(even, odd):
        order = "little" if odd > even else "big"
        return (f"unreadable: UTF-16 ({order}-endian) text without a byte-order mark; "
                "save it as UTF-8 (or UTF-16 with a BOM)")
    return f"unreadable: NUL bytes (the first at byte {offset}), binary data and not text"


def _decode(data: bytes, encoding: str) -> str:
    _register_fallback()
    errors = _FALLBACK_ERRORS if encoding == "cp1252" else "ignore"
    return codecs.getincrementaldecoder(encoding)(errors=errors).decode(data)


class _CountingReader(io.RawIOBase):
    """A binary reader that reports bytes read, for progress bars."""

    def __init__(self, inner: BinaryIO, on_bytes: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if n:
            self._on_bytes(n)
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


@dataclass(frozen=True)
class LongLine:
    """A line over the limit: where it is, how long it was, how many ``"`` it held."""

    line: int
    chars: int
    quotes: int


class Lines:
    """``(line_number, line)`` of an open text file, newlines removed, read in bounded pieces.

    A line longer than ``max_chars`` is never held whole: it fails the file, unless the
    parser set ``tolerant`` (then it comes as ``""``, listed in ``long``, and the parser
    rejects the record it belongs to). ``final_newline`` says, once read, whether the
    file's last line ended with a line break (a last record without one may be cut).
    """

    def __init__(self, fh: io.TextIOBase, path: str, max_chars: int = MAX_LINE_CHARS) -> None:
        self._fh = fh
        self.path = path
        self.max_chars = max_chars
        self.tolerant = False
        self.long: dict[int, LongLine] = {}
        self.final_newline = True
        self.number = 0

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> tuple[int, str]:
        line = self._read()
        if not line:
            raise StopIteration
        self.number += 1
        if line.endswith("\n"):
            return self.number, line.rstrip("\r\n")
        if len(line) <= self.max_chars:
            self.final_newline = False
            return self.number, line.rstrip("\r")
        chars, quotes = len(line), line.count('"')
        del line  # hold one piece at a time
        while (piece := self._read()) and not piece.endswith("\n"):  # skip to the line's end
            chars, quotes = chars + len(piece), quotes + piece.count('"')
        chars, quotes = chars + len(piece), quotes + piece.count('"')
        self.final_newline = piece.endswith("\n")
        if not self.tolerant:
            raise ParseError(f"line is {chars} characters long (more than {self.max_chars})",
                             path=self.path, line=self.number)
        self.long[self.number] = LongLine(self.number, chars, quotes)
        return self.number, ""

    def _read(self) -> str:
        try:
            return self._fh.readline(self.max_chars + 1)
        except UnicodeDecodeError as exc:
            raise ParseError(f"cannot decode text: {exc.reason}", path=self.path,
                             line=self.number + 1) from exc

    def long_in(self, first: int, last: int) -> LongLine | None:
        """The first over-long line among lines ``first`` to ``last``, if any."""
        if not self.long:
            return None
        return next((self.long[n] for n in range(first, last + 1) if n in self.long), None)

    def read_rest(self, limit: int, too_long: str) -> str:
        """The rest of the file as one text (for formats parsed whole), at most ``limit``
        characters; a longer one fails the file with the message ``too_long``."""
        try:
            text = self._fh.read(limit + 1)
        except UnicodeDecodeError as exc:
            raise ParseError(f"cannot decode text: {exc.reason}", path=self.path) from exc
        if len(text) > limit:
            raise ParseError(too_long, path=self.path)
        return text


def numbered_lines(fh: io.TextIOBase, path: str) -> Lines:
    """The file's lines, numbered, read in bounded pieces (see :class:`Lines`)."""
    return Lines(fh, path)
