"""The binary body of ``GET /api/map/points``: a window of the map as typed arrays.

Layout (little-endian): the 4 bytes ``PAM1``; a uint32, the length ``H`` of a JSON header
(UTF-8, padded with spaces so that ``8 + H`` is a multiple of 8); the header; then
``count`` float32 x, ``count`` float32 y, ``count`` uint32 paper ids and ``count`` int16
topic indexes (into the header's ``topics``; -1 none), each array starting where the one
before ends (every offset a multiple of 4, so a browser views them in place with
``Float32Array``, ``Uint32Array`` and ``Int16Array``). The header holds the window's other
fields (``method``, ``model``, ``collection``, ``tree``, ``papers``, ``points``,
``bounds``, ``box``, ``budget``, ``complete``, ``count``, ``topics``) and ``columns``,
the arrays' names and types in order.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from ..records.maps import MapWindow
from ..records.serialize import to_json

MAGIC = b"PAM1"
COLUMNS = (("x", "<f4"), ("y", "<f4"), ("paper", "<u4"), ("topic", "<i2"))


def pack(window: MapWindow) -> bytes:
    """``window`` in the layout above."""
    header = to_json(window)
    header["columns"] = [[name, np.dtype(kind).name] for name, kind in COLUMNS]
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    parts = [MAGIC, struct.pack("<I", len(text)), text]
    parts += [np.ascontiguousarray(getattr(window, name), dtype=kind).tobytes()
              for name, kind in COLUMNS]
    return b"".join(parts)


def unpack(body: bytes) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    """The header and the arrays of a body made by :func:`pack` (for tests and clients)."""
    if body[:4] != MAGIC:
        raise ValueError("not a map window (no PAM1 mark)")
    (size,) = struct.unpack("<I", body[4:8])
    header = json.loads(body[8:8 + size])
    n, at, arrays = int(header["count"]), 8 + size, {}
    for name, kind in COLUMNS:
        width = np.dtype(kind).itemsize * n
        arrays[name] = np.frombuffer(body[at:at + width], dtype=kind)
        at += width
    return header, arrays
