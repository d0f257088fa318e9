"""Vectors in and out of a library (``paperatlas vectors import|export``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import ParseError
from paperatlas.search import npzfile
from paperatlas.vectors import ModelMismatchError
from test_ray_embed import keyed
from test_semantic import HashingEmbedder


def library(path: Path, seed_file: Path, model: str = "hash-64", dim: int = 64) -> Library:
    lib = Library(path, embedding_model=HashingEmbedder(model, dim))
    lib.ingest([seed_file])
    lib.index(embed=False)
    return lib


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, seed_file: Path,
             ) -> tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]]:
    folder = tmp_path_factory.mktemp("export")
    with library(folder / "a.db", seed_file) as lib:
        lib.index()
        report = lib.export_vectors(folder / "v.npz")
        assert (report.model, report.dimension, report.vectors) == ("hash-64", 64, 73)
        return folder / "v.npz", keyed(lib, titles=False), keyed(lib, titles=True)


def test_round_trip_and_the_index_job_embeds_nothing_again(
        tmp_path: Path, seed_file: Path,
        exported: tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
    path, texts, titles = exported
    with library(tmp_path / "b.db", seed_file) as lib:
        report = lib.import_vectors(path)
        assert (report.imported, report.unknown, report.repeated, report.vectors) == \
            (73, 0, 0, 73)
        for mine, theirs in ((keyed(lib, titles=False), texts),
                             (keyed(lib, titles=True), titles)):
            assert mine.keys() == theirs.keys()
            assert all(np.array_equal(mine[k], theirs[k]) for k in mine)
        embedder = lib.search.service.embedder
        assert isinstance(embedder, HashingEmbedder)
        # No paper is embedded again (sentence vectors are not imported: left aside here).
        again = lib.index(sentences=False).embedding
        assert again is not None and (again.embedded, again.unchanged) == (0, 73)
        assert embedder.calls == 0


def save(path: Path, keys: list[str], vectors: np.ndarray, model: str | None = "hash-64",
         **more: np.ndarray) -> Path:
    arrays = {"keys": np.array(keys), "vectors": vectors, **more}
    if model is not None:
        arrays["model"] = np.array(model)
    with open(path, "wb") as out:
        np.savez(out, **arrays)
    return path


def test_a_file_is_read_in_blocks_stored_or_compressed(
        tmp_path: Path, seed_file: Path, monkeypatch: pytest.MonkeyPatch,
        exported: tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
    monkeypatch.setattr(npzfile, "BLOCK", 5)  # 73 rows: 15 blocks, the last one short
    path, texts, titles = exported
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    packed = tmp_path / "packed.npz"
    np.savez_compressed(packed, **arrays)
    for source in (path, packed):
        with library(tmp_path / f"{source.stem}.db", seed_file) as lib:
            assert lib.import_vectors(source).imported == 73
            assert keyed(lib, titles=False).keys() == texts.keys()
            assert all(np.array_equal(v, texts[k]) for k, v in keyed(lib, titles=False).items())
            assert all(np.array_equal(v, titles[k]) for k, v in keyed(lib, titles=True).items())
    late = dict(arrays, vectors=arrays["vectors"].copy())
    late["vectors"][71] = 0  # in the last block: nothing is written
    np.savez(tmp_path / "late.npz", **late)
    with library(tmp_path / "late.db", seed_file) as lib:
        with pytest.raises(ParseError, match=r"row 71 .* is zero"):
            lib.import_vectors(tmp_path / "late.npz")
        assert lib.vectors.count() == 0


def test_unknown_keys_are_skipped_and_named_and_vectors_normalized(
        tmp_path: Path, seed_file: Path) -> None:
    with library(tmp_path / "b.db", seed_file) as lib:
        known = [p.key for p in lib.papers(limit=3)]
        keys = [known[0], "nope-1", known[1], "nope-2", known[2]]
        vectors = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float16) * 3
        path = save(tmp_path / "v.npz", keys, vectors, model=None)
        result = CliRunner().invoke(main, ["--db", str(tmp_path / "b.db"), "--model", "none",
                                           "vectors", "import", str(path), "--model",
                                           "hash-64", "--json"])
        assert result.exit_code == 0, result.output
        assert '"imported": 3' in result.output and '"unknown": 2' in result.output
        assert '"unknown_keys": ["nope-1", "nope-2"]' in result.output
        stored = keyed(lib, titles=False)
        assert sorted(stored) == sorted(known)
        assert all(abs(float(np.linalg.norm(v)) - 1) < 1e-3 for v in stored.values())


def test_another_model_is_refused_naming_both(tmp_path: Path, seed_file: Path) -> None:
    with library(tmp_path / "b.db", seed_file) as lib:
        key = next(iter(lib.papers(limit=1))).key
        other = save(tmp_path / "o.npz", [key], np.ones((1, 64), np.float32), "e5-small")
        with pytest.raises(ModelMismatchError, match=r"'e5-small'.*'hash-64'"):
            lib.import_vectors(other)
        short = save(tmp_path / "s.npz", [key], np.ones((1, 32), np.float32))
        with pytest.raises(ModelMismatchError, match=r"32 dimensions.*have 64"):
            lib.import_vectors(short)
        assert lib.vectors.count() == 0


def test_switching_model_drops_the_other_models_vectors(tmp_path: Path,
                                                         seed_file: Path) -> None:
    library(tmp_path / "b.db", seed_file).close()
    with Library(tmp_path / "b.db", embedding_model=HashingEmbedder("hash-64")) as lib:
        lib.index()
    with Library(tmp_path / "b.db", embedding_model=HashingEmbedder("hash-32", 32)) as lib:
        keys = [p.key for p in lib.papers(limit=2)]
        path = save(tmp_path / "v.npz", keys, np.ones((2, 32), np.float32), "hash-32")
        with pytest.raises(ModelMismatchError, match="hash-64"):
            lib.import_vectors(path)
        report = lib.import_vectors(path, switch_model=True)
        assert (report.imported, report.vectors, lib.vectors.models()) == (2, 2, ["hash-32"])


def bad_files(folder: Path, key: str) -> dict[str, tuple[Path, str]]:
    text = folder / "text.npz"
    text.write_text("keys,vectors\n")
    npy = folder / "one.npy"
    np.save(npy, np.ones((1, 64), np.float32))
    one = np.ones((1, 64), np.float32)
    unnamed = folder / "nv.npz"
    with open(unnamed, "wb") as out:
        np.savez(out, keys=np.array([key]), vecs=one, model=np.array("hash-64"))
    return {
        "not npz": (text, "not an .npz archive"),
        "npy": (npy, "not an .npz archive"),
        "missing": (folder / "missing.npz", "no such file"),
        "no vectors": (unnamed, "missing array vectors"),
        "shape": (save(folder / "sh.npz", [key, key + "x"], one), "a row per key"),
        "dtype": (save(folder / "dt.npz", [key], one.astype(np.float64)), "float16 or"),
        "nan": (save(folder / "nan.npz", [key], np.full((1, 64), np.nan, np.float32)),
                "not finite"),
        "zero": (save(folder / "zero.npz", [key], np.zeros((1, 64), np.float32)), "zero"),
        "repeated": (save(folder / "rep.npz", [key, key], np.ones((2, 64), np.float32)),
                     "keys repeat"),
        "model": (save(folder / "m.npz", [key], one, model=None), "missing array model"),
    }


def test_bad_files_are_rejected_whole_naming_the_file(tmp_path: Path, seed_file: Path) -> None:
    with library(tmp_path / "b.db", seed_file) as lib:
        key = next(iter(lib.papers(limit=1))).key
        for name, (path, message) in bad_files(tmp_path, key).items():
            with pytest.raises(ParseError, match=message) as caught:
                lib.import_vectors(path)
            assert str(caught.value).startswith(str(path)), name
        assert lib.vectors.count() == 0
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "b.db"), "vectors", "import",
                                       str(tmp_path / "text.npz")])
    assert result.exit_code == 1 and f"{tmp_path / 'text.npz'}: not an .npz" in result.output
