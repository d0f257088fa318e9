"""Tree names: refused when a URL could not carry them, and reachable on the web when odd."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import InvalidOptionError
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from paperatlas.web import WebSettings, create_app
from paperatlas.web.present import tree_url

ODD = "Café topics 2.0 - draft_1"  # letters (not only ASCII), digits, spaces, - _ .
LEGACY = ["a/b", "100% done", "x%2Fy", "~7E~"]  # made before names were checked


@pytest.fixture(scope="module")
def tlib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    tmp = tmp_path_factory.mktemp("names")
    lib = Library(tmp / "n.db", embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_csv(tmp / "in.csv", papers_of("protein", 12) + papers_of("galaxy", 12))])
    lib.trees.build(ODD, min_size=3)
    for name in LEGACY:
        tree = dataclasses.replace(lib.trees.get(ODD), name=name)
        with lib.store.transaction():
            lib.store.trees.save(tree)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def client(tlib: Library) -> TestClient:
    return TestClient(create_app(tlib, WebSettings(secret_key="test-key")))


@pytest.mark.parametrize("name", ["a/b", "/x", "..", ".hidden", " padded", "padded ",
                                  "tab\there", "new\nline", "q?x", "x#1", "a\\b", "",
                                  "x" * 101])
def test_a_build_refuses_names_a_url_cannot_carry(tmp_path: Path, name: str) -> None:
    lib = Library(tmp_path / "l.db", embedding_model=None)
    try:
        with pytest.raises(InvalidOptionError, match="letters, digits, spaces"):
            lib.trees.build(name)  # refused before anything is indexed or embedded
        assert lib.store.search.state("lexical")[0] == 0
    finally:
        lib.close()


def test_the_cli_says_which_names_are_allowed(tmp_path: Path) -> None:
    Library(tmp_path / "c.db", embedding_model=None).close()  # read commands need a library
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "c.db"), "--model", "none",
                                       "tree", "build", "--name", "team/a"])
    assert result.exit_code != 0 and "letters, digits, spaces" in result.output
    assert "Traceback" not in result.output


def test_an_odd_allowed_name_is_reachable(tlib: Library, client: TestClient) -> None:
    tree = tlib.trees.get(ODD)
    node = next(n.id for n in tree.nodes.values() if n.parent == tree.root)
    page = client.get(tree_url(ODD))
    assert page.status_code == 200 and "Café topics 2.0" in page.text
    assert client.get(tree_url(ODD, node)).status_code == 200
    assert client.get("/api" + tree_url(ODD)).json()["tree"] == ODD
    assert client.get("/api" + tree_url(ODD, node)).json()["tree"] == ODD
    assert client.get("/api" + tree_url(ODD) + "/history").status_code == 200
    assert client.get("/feeds" + tree_url(ODD, node) + ".atom").status_code == 200
    assert f'href="{tree_url(ODD)}"' in client.get("/trees").text


@pytest.mark.parametrize("name", LEGACY)
def test_a_legacy_name_is_reachable(tlib: Library, client: TestClient, name: str) -> None:
    tree = tlib.trees.get(name)
    node = next(n.id for n in tree.nodes.values() if n.parent == tree.root)
    page = client.get(tree_url(name))
    assert page.status_code == 200, page.text
    topic = client.get(tree_url(name, node))
    assert topic.status_code == 200 and f'href="{tree_url(name)}"' in topic.text
    assert client.get("/api" + tree_url(name)).json()["tree"] == name
    assert client.get("/api" + tree_url(name, node)).json()["tree"] == name
    assert client.get("/feeds" + tree_url(name, node) + ".rss").status_code == 200
    assert f'href="{tree_url(name)}"' in client.get("/trees").text
    # a link that quoted the name once reaches no tree, and is no server error
    assert client.get("/trees/" + name.replace("/", "%2F")).status_code < 500


def test_a_legacy_tree_can_still_be_rebuilt(tlib: Library) -> None:
    report = tlib.trees.build("a/b", min_size=3)  # named before the rule: kept working
    assert report.name == "a/b" and report.papers == 24
