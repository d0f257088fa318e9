"""Open an input file robustly: fingerprint, encoding detection, counted reading."""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import ParseError

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

    @classmethod
    def inspect(cls, path: str | Path) -> InputFile:
        """Read the file once to fingerprint it and settle its encoding."""
        p = Path(path)
        try:
            fh = p.open("rb")
        except OSError as exc:
            raise ParseError(f"cannot read file: {exc.strerror or exc}", path=str(p)) from exc
        digest = hashlib.sha256()
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8_ok = True
        first = b""
        size = 0
        newlines = 0
        blank = True
        with fh:
            try:
                while chunk := fh.read(_CHUNK):
                    if not size:
                        first = chunk[:8192]
                    if blank and (_strip_bom(chunk) if not size else chunk).strip(_BLANK_BYTES):
                        blank = False
                    size += len(chunk)
                    newlines += chunk.count(b"\n")
                    digest.update(chunk)
                    if utf8_ok:
                        try:
                            decoder.decode(chunk)
                        except UnicodeDecodeError:
                            utf8_ok = False
            except OSError as exc:
                raise ParseError(f"cannot read file: {exc}", path=str(p)) from exc
        encoding = next((enc for bom, enc in _BOMS if first.startswith(bom)), None)
        if encoding is None:
            if utf8_ok:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError as exc:
                    raise ParseError("the file ends inside a UTF-8 character (truncated?)",
                                     path=str(p), line=newlines + 1) from exc
            encoding = "utf-8" if utf8_ok else "cp1252"
        head = _decode(first, encoding)
        return cls(path=p, size=size, sha256=digest.hexdigest(), encoding=encoding,
                   head=head, blank=blank)

    def open_text(self, on_bytes: Callable[[int], None] | None = None) -> io.TextIOWrapper:
        """Open for reading as text; ``on_bytes`` is told how many bytes were read."""
        _register_fallback()
        try:
            raw: BinaryIO = self.path.open("rb")
        except OSError as exc:
            raise ParseError(f"cannot read file: {exc.strerror or exc}",
                             path=str(self.path)) from exc
        if on_bytes is not None:
            raw = _CountingReader(raw, on_bytes)  # type: ignore[assignment]
        errors = _FALLBACK_ERRORS if self.encoding == "cp1252" else "strict"
        return io.TextIOWrapper(raw, encoding=self.encoding, errors=errors, newline=None)


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


def numbered_lines(fh: io.TextIOWrapper, path: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` without newlines; decoding errors become ParseError."""
    n = 0
    try:
        for n, line in enumerate(fh, 1):
            yield n, line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise ParseError(f"cannot decode text: {exc.reason}", path=path, line=n + 1) from exc
