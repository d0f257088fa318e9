"""Embedding on a local Ray cluster: the same vectors as the in-process path, resumable."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import PaperatlasError
from paperatlas.search.ray_embed import RayOptions

#: Small blocks, so that a run of ~70 papers writes several batches.
OPTIONS = RayOptions(actors=2, batch=16)


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def keyed(lib: Library, *, titles: bool) -> dict[str, np.ndarray]:
    ids = lib.vectors.ids()
    keys = {pid: key for pid, (key, _, _) in lib.store.papers.texts(ids).items()}
    return {keys[pid]: v for pid, v in lib.vectors.get(ids, titles=titles).items()}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory,
               seed_file: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The vectors (text, title) of the seed papers, embedded in this process."""
    with Library(tmp_path_factory.mktemp("local") / "a.db") as lib:
        lib.ingest([seed_file])
        lib.index()
        return keyed(lib, titles=False), keyed(lib, titles=True)


def unembedded(folder: Path, seed_file: Path) -> Library:
    lib = Library(folder / "r.db")
    lib.ingest([seed_file])
    lib.index(embed=False)
    return lib


def test_ray_vectors_match_the_in_process_ones(
        cluster: None, tmp_path: Path, seed_file: Path,
        in_process: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
    texts, titles = in_process
    with unembedded(tmp_path, seed_file) as lib:
        report = lib.index(ray=OPTIONS).embedding
        assert report is not None and report.embedded == len(texts) >= 50
        for mine, theirs in ((keyed(lib, titles=False), texts),
                             (keyed(lib, titles=True), titles)):
            assert mine.keys() == theirs.keys()
            cosines = [float(mine[k] @ theirs[k]) / float(np.linalg.norm(mine[k])
                                                          * np.linalg.norm(theirs[k]))
                       for k in mine]
            assert min(cosines) >= 0.999
        titled = {k for k, v in keyed(lib, titles=True).items()
                  if not np.array_equal(v, keyed(lib, titles=False)[k])}
        assert titled == {k for k in texts if not np.array_equal(titles[k], texts[k])}
        again = lib.index(ray=OPTIONS).embedding
        assert again is not None and (again.embedded, again.unchanged) == (0, 0)
        assert lib.search.service.pending("semantic") == 0


class Stop(Exception):
    pass


def test_a_stopped_run_resumes_without_embedding_twice(
        cluster: None, tmp_path: Path, seed_file: Path,
        in_process: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
    texts, _ = in_process
    with unembedded(tmp_path, seed_file) as lib:
        writes = []

        def stop_after_two(done: int, total: int) -> None:
            writes.append(done)
            if len(writes) == 2:
                raise Stop

        with pytest.raises(Stop):
            lib.index(ray=OPTIONS, progress=stop_after_two)
        first = keyed(lib, titles=False)
        assert len(first) == 2 * OPTIONS.batch  # two batches committed, nothing else
        report = lib.index(ray=OPTIONS).embedding
        assert report is not None
        assert report.embedded == len(texts) - len(first)  # each paper embedded once
        assert report.vectors == len(texts)
        after = keyed(lib, titles=False)
        assert all(np.array_equal(after[k], v) for k, v in first.items())  # not redone


def test_ray_options_are_checked() -> None:
    with pytest.raises(PaperatlasError, match="ray batch"):
        RayOptions(batch=0)
    with pytest.raises(PaperatlasError, match="ray wave"):
        RayOptions(batch=100, wave=10)


def test_without_ray_the_command_says_how_to_install_it(
        tmp_path: Path, seed_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as when not installed
    db = tmp_path / "n.db"
    Library(db, embedding_model=None).ingest([seed_file])
    result = CliRunner().invoke(main, ["--db", str(db), "index", "--ray"])
    assert result.exit_code == 1
    assert "pip install 'paperatlas[ray]'" in result.output
