"""Ingest: parse input files into records (one small module per format)."""

from .base import Parser
from .formats import FORMAT_NAMES, PARSERS, detect, make_parser, parser_class
from .mapping import FIELDS, FieldMap
from .source import InputFile, numbered_lines

__all__ = [
    "FIELDS",
    "FORMAT_NAMES",
    "PARSERS",
    "FieldMap",
    "InputFile",
    "Parser",
    "detect",
    "make_parser",
    "numbered_lines",
    "parser_class",
]
