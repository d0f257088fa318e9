"""The registry of input formats and auto-detection."""

from __future__ import annotations

from ..errors import InvalidOptionError, UnknownFormatError
from .arxivrss import ArxivRssParser
from .arxivxml import ArxivAtomParser, ArxivOaiParser
from .base import Parser
from .bibtex import BibtexParser
from .biorxivjson import BiorxivParser
from .crossref import CrossrefParser
from .csljson import CslJsonParser
from .csvfmt import CsvParser, TsvParser
from .dailypapers import DailyPapersParser
from .hfdaily import HfDailyParser
from .jsonfmt import BeirParser, JsonDocumentParser, JsonLinesParser
from .kaggle import ArxivSnapshotParser
from .mapping import FieldMap
from .openalex import OpenAlexParser
from .pubmedxml import PubmedXmlParser
from .ris import RisParser
from .s2 import SemanticScholarParser
from .source import InputFile

#: Formats in detection order: the most specific sniffers first.
PARSERS: tuple[type[Parser], ...] = (
    DailyPapersParser,
    ArxivAtomParser,
    ArxivOaiParser,
    BeirParser,
    PubmedXmlParser,
    HfDailyParser,
    OpenAlexParser,
    SemanticScholarParser,
    CrossrefParser,
    BiorxivParser,
    ArxivRssParser,
    ArxivSnapshotParser,
    CslJsonParser,
    JsonLinesParser,
    JsonDocumentParser,
    TsvParser,
    CsvParser,
    BibtexParser,
    RisParser,
)
FORMAT_NAMES: tuple[str, ...] = tuple(p.name for p in PARSERS)


def parser_class(name: str) -> type[Parser]:
    """The parser for a format name; a bad name lists the valid ones."""
    for cls in PARSERS:
        if cls.name == name:
            return cls
    raise InvalidOptionError("format", name, FORMAT_NAMES)


def detect(file: InputFile) -> type[Parser]:
    """Pick a parser from the file's content, then its name's suffix."""
    for cls in PARSERS:
        if cls.sniff(file):
            return cls
    suffix = file.path.suffix.lower()
    for cls in PARSERS:
        if suffix in cls.suffixes and cls.fits(file):
            return cls
    raise UnknownFormatError(
        f"{file.path}: cannot detect the format; pass --format with one of: "
        + ", ".join(FORMAT_NAMES))


def make_parser(file: InputFile, fmt: str | None, mapping: FieldMap | None) -> Parser:
    """The parser to use for ``file``: the one named, else the detected one."""
    cls = parser_class(fmt) if fmt else detect(file)
    return cls(mapping)
