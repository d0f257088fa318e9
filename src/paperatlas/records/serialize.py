"""The one rule that turns records into JSON values (the API, ``--json``, job results).

:func:`to_json` converts a value recursively:

- a dataclass becomes an object of its fields, in declaration order, then of the
  properties its class names in ``json_computed`` (a ``ClassVar`` tuple), in that order;
  a field's :func:`json_field` metadata may leave it out (``omit``), give it another key
  (``key``), round its floats (``digits``), lay a few attributes of its value out as
  keys of the record itself (``flatten``: output key -> attribute) or put it after the
  computed values (``last``: long lists read best at the end);
- an enum becomes its value, a path its text, tuples, lists and sets lists (sets sorted),
  a mapping an object with the same keys, a numpy array or scalar its ``tolist()``;
- ``None``, strings, numbers and booleans stay as they are (``None`` is kept, not dropped).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

#: The key of a field's metadata that holds its :class:`JsonSpec`.
JSON = "json"


@dataclasses.dataclass(frozen=True)
class JsonSpec:
    """How one field of a record appears in JSON (see :func:`json_field`)."""

    key: str | None = None
    omit: bool = False
    digits: int | None = None
    flatten: tuple[tuple[str, str], ...] = ()
    last: bool = False


def json_field(*, key: str | None = None, omit: bool = False, digits: int | None = None,
               flatten: Mapping[str, str] | None = None,
               last: bool = False) -> dict[str, JsonSpec]:
    """Field metadata for :func:`to_json`: ``dataclasses.field(metadata=json_field(...))``."""
    return {JSON: JsonSpec(key, omit, digits, tuple((flatten or {}).items()), last)}


@overload
def to_json(value: DataclassInstance, digits: int | None = None) -> dict[str, Any]: ...


@overload
def to_json(value: object, digits: int | None = None) -> Any: ...


def to_json(value: object, digits: int | None = None) -> Any:
    """``value`` as plain JSON values by the module's rule; ``digits`` rounds its floats."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, float):
        return value if digits is None else round(value, digits)
    if isinstance(value, int):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _record(value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {k: to_json(v, digits) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return [to_json(v, digits) for v in sorted(value)]
    if isinstance(value, list | tuple):
        return [to_json(v, digits) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars, without numpy
    if tolist is not None and hasattr(value, "dtype"):
        return tolist() if digits is None else value.round(digits).tolist()  # type: ignore[attr-defined]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _record(record: DataclassInstance) -> dict[str, Any]:
    out: dict[str, Any] = {}
    last: list[tuple[JsonSpec, str]] = []
    for f in dataclasses.fields(record):
        spec: JsonSpec = f.metadata.get(JSON, _PLAIN)
        if spec.omit:
            continue
        if spec.last:
            last.append((spec, f.name))
        else:
            _put(out, spec, f.name, getattr(record, f.name))
    for name in getattr(record, "json_computed", ()):
        out[name] = to_json(getattr(record, name))
    for spec, name in last:
        _put(out, spec, name, getattr(record, name))
    return out


def _put(out: dict[str, Any], spec: JsonSpec, name: str, value: object) -> None:
    if spec.flatten:
        for key, attr in spec.flatten:
            out[key] = to_json(getattr(value, attr), spec.digits)
    else:
        out[spec.key or name] = to_json(value, spec.digits)


_PLAIN = JsonSpec()
