"""The OpenVINO conversion cache when processes start together on a new library (``serve
--workers 2`` and its job worker): one converts, the others read its files, none dies."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: One process's start: "convert" (slowly, so that the others arrive meanwhile) a tiny
#: model through the cache, note each conversion in a file, and check the model it got.
STARTS = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops
    from paperatlas.embed.openvino import cached_model

    cache, log = Path(sys.argv[1]), Path(sys.argv[2])

    def convert():
        with log.open("a") as out:
            out.write("converted\\n")
        time.sleep(1.0)
        x = ops.parameter([2, 3], np.float32, name="x")
        return ov.Model([ops.relu(x)], [x], "tiny")

    model = cached_model(ov, ov.Core(), cache, convert)
    compiled = ov.Core().compile_model(model, "CPU")
    out = compiled(np.array([[-1, 2, -3], [4, -5, 6]], dtype=np.float32))[0]
    assert out.tolist() == [[0, 2, 0], [4, 0, 6]], out
""")


def test_processes_starting_together_convert_once(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    cache, log = tmp_path / "models" / "tiny-256.xml", tmp_path / "conversions.txt"
    starts = [subprocess.Popen([sys.executable, "-c", STARTS, str(cache), str(log)],
                               stderr=subprocess.PIPE, text=True) for _ in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in starts]
    assert [p.returncode for p in starts] == [0, 0, 0], errors
    assert log.read_text().splitlines() == ["converted"]
    assert sorted(p.name for p in cache.parent.iterdir()) == [
        "tiny-256.bin", "tiny-256.xml", "tiny-256.xml.lock"]


def test_a_cached_model_is_read_not_converted(tmp_path: Path) -> None:
    ov = pytest.importorskip("openvino")
    import numpy as np
    import openvino.opset13 as ops

    from paperatlas.embed.openvino import cached_model

    def tiny() -> object:
        x = ops.parameter([1, 2], np.float32, name="x")
        return ov.Model([ops.relu(x)], [x], "tiny")

    cache = tmp_path / "models" / "tiny.xml"
    cached_model(ov, ov.Core(), cache, tiny)

    def fail() -> object:
        raise AssertionError("converted again")

    again = cached_model(ov, ov.Core(), cache, fail)
    assert again.inputs[0].any_name == "x"
    assert cached_model(ov, ov.Core(), None, tiny).inputs[0].any_name == "x"
