"""Named choices as string enums: text from the edges is coerced once, at the boundary, and
a value outside the choices is an :class:`InvalidOptionError` listing the valid ones."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from .errors import InvalidOptionError

E = TypeVar("E", bound=StrEnum)


def values(kind: type[StrEnum]) -> tuple[str, ...]:
    """The valid values of ``kind``, in order (for messages, ``click.Choice`` and templates)."""
    return tuple(member.value for member in kind)


def choose(kind: type[E], option: str, value: str | E) -> E:
    """``value`` as a member of ``kind`` (a member, or its text); anything else is an
    :class:`InvalidOptionError` naming ``option`` and the valid values."""
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except (ValueError, TypeError):
        raise InvalidOptionError(option, value, values(kind)) from None
