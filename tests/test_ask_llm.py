"""Issue 19, answers with an LLM: ``lib.ask(q, llm=...)``, ``lib.ask.stream`` and ``paperatlas
ask --llm-url``, against a real stand-in chat endpoint on 127.0.0.1 and a real library
(the hashing stand-in embedder)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llm_standin import Chat, ChatStandIn, evidence_of
from paperatlas import Library
from paperatlas.chat import LLMError, LLMSettings
from paperatlas.cli import main
from paperatlas.cli.state import State
from paperatlas.errors import InvalidOptionError
from paperatlas.records.evidence import AnswerEvent, DeltaEvent, EvidenceEvent
from paperatlas.records.serialize import to_json
from test_ask import PAPERS, write_papers
from test_semantic import HashingEmbedder

BEES = "neonicotinoid exposure honey bee colony survival"
NOWHERE = "quantum chromodynamics lattice gauge"


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[Library]:
    library = Library(tmp_path / "l.db", embedding_model=HashingEmbedder("hash-64", 64))
    library.ingest([write_papers(tmp_path / "corpus.jsonl", PAPERS)], collection="c",
                   index=True)
    yield library
    library.close()


def settings(chat: ChatStandIn, timeout: float = 10) -> LLMSettings:
    return LLMSettings(chat.base, "stand-in-7b", timeout=timeout)


def reply(content: str) -> Any:
    return lambda request: Chat(content)


def test_a_correct_cited_answer(lib: Library, chat: ChatStandIn) -> None:
    answer = lib.ask(BEES, llm=settings(chat))
    assert (answer.model, answer.verdict, answer.abstained) == ("stand-in-7b", "SUPPORT", False)
    assert answer.evidence[0].key == "bees" and answer.evidence[0].sentence == 1
    assert len(answer.evidence) > 2  # the model gets more than the no-LLM answer shows
    assert [s.status for s in answer.sentences] == ["cited"]
    assert answer.sentences[0].citations == [1] and answer.citation_precision == 1.0
    assert answer.sentences[0].text.startswith("The library says: Neonicotinoid exposure")
    assert answer.timings["llm"] > 0
    # the model saw only the question and the numbered sentences with their papers' keys
    request = chat.requests[0]
    assert request["model"] == "stand-in-7b" and request["temperature"] == 0.0
    prompt = request["messages"][-1]["content"]
    assert prompt.startswith(f"Question: {BEES}\n")
    given = evidence_of(request)
    assert [(k, t) for _, k, t in given] == [(e.key, e.text) for e in answer.evidence]
    assert "Bee decline" not in prompt  # not even the titles


def test_a_fabricated_citation_is_caught(lib: Library, chat: ChatStandIn) -> None:
    chat.answer = reply("VERDICT: SUPPORT\nNeonicotinoids cut colony survival [1]. "
                        "Wasps declined too [9].")
    answer = lib.ask(BEES, llm=settings(chat))
    assert len(answer.evidence) < 9
    assert answer.citation_precision == 0.5 < 1
    assert [(s.status, s.citations, s.invalid) for s in answer.sentences] == [
        ("cited", [1], []), ("miscited", [], [9])]
    assert "1 sentence flagged" in answer.message


def test_an_uncited_sentence_is_flagged(lib: Library, chat: ChatStandIn) -> None:
    chat.answer = reply("VERDICT: SUPPORT\nNeonicotinoids cut colony survival [1]. "
                        "This is widely known.")
    answer = lib.ask(BEES, llm=settings(chat))
    assert [s.status for s in answer.sentences] == ["cited", "uncited"]
    assert answer.citation_precision == 1.0 and not answer.abstained


def test_the_model_saying_not_enough_evidence_abstains(lib: Library, chat: ChatStandIn) -> None:
    chat.answer = reply("VERDICT: NOT ENOUGH EVIDENCE\nNot enough evidence.")
    answer = lib.ask(BEES, llm=settings(chat))
    assert answer.abstained and answer.verdict == "NOT ENOUGH EVIDENCE"
    assert answer.message.startswith("Not enough evidence: stand-in-7b found no answer")
    assert answer.evidence  # what it was given stays, numbered


def test_no_model_is_asked_when_the_library_does_not_address_it(lib: Library,
                                                                chat: ChatStandIn) -> None:
    answer = lib.ask(NOWHERE, llm=settings(chat))
    assert answer.abstained and answer.evidence == [] and answer.model is None
    events = list(lib.ask.stream(NOWHERE, llm=settings(chat)))
    assert [type(e) for e in events] == [EvidenceEvent, AnswerEvent]
    assert chat.requests == []


def test_stream_yields_evidence_then_deltas_then_the_checked_answer(
        lib: Library, chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat(pieces=["VERDICT: SUPPORT\n", "Colonies ", "fell ",
                                               "[1][2", "]. Wasps too [12]."])
    events = list(lib.ask.stream(BEES, llm=settings(chat)))
    first, *deltas, last = events
    assert isinstance(first, EvidenceEvent) and first.evidence[0].key == "bees"
    assert all(isinstance(d, DeltaEvent) for d in deltas) and len(deltas) == 5
    assert "".join(d.text for d in deltas if isinstance(d, DeltaEvent)).endswith("[12].")
    assert isinstance(last, AnswerEvent)
    assert last.answer.evidence == first.evidence
    assert [s.citations for s in last.answer.sentences] == [[1, 2], []]
    assert last.answer.sentences[1].invalid == [12]
    assert chat.requests[0]["stream"] is True
    shapes = [json.loads(json.dumps(to_json(e))) for e in events]
    assert [s["type"] for s in shapes] == ["evidence"] + ["delta"] * 5 + ["answer"]
    assert shapes[1] == {"type": "delta", "text": "VERDICT: SUPPORT\n"}
    assert shapes[-1]["answer"]["sentences"][0] == {
        "text": "Colonies fell.", "citations": [1, 2], "status": "cited", "invalid": []}
    without = list(lib.ask.stream(BEES))  # no model: evidence, then the answer
    assert [type(e) for e in without] == [EvidenceEvent, AnswerEvent]
    with pytest.raises(InvalidOptionError, match="collection"):
        lib.ask.stream(BEES, llm=settings(chat), collection="nope")  # at the call
    assert len(chat.requests) == 1


def test_a_hanging_endpoint_fails_within_the_timeout(lib: Library, chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat("late", delay=30)
    t0 = time.monotonic()
    with pytest.raises(LLMError, match=re.escape(chat.base) + ".*timed out"):
        lib.ask(BEES, llm=settings(chat, timeout=0.5))
    chat.answer = lambda request: Chat(pieces=["VERDICT: SUPPORT\n", "Colonies"], hang_after=1)
    events = lib.ask.stream(BEES, llm=settings(chat, timeout=0.5))
    assert isinstance(next(events), EvidenceEvent)
    assert isinstance(next(events), DeltaEvent)
    with pytest.raises(LLMError, match="timed out"):
        next(events)
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize(("chat_reply", "says"), [
    (Chat(status=500, body="CUDA out of memory"), "HTTP 500: CUDA out of memory"),
    (Chat(body="<html>gateway</html>"), "reply is not JSON"),
    (Chat(body='{"choices": []}'), "reply has no choices"),
])
def test_endpoint_errors_name_the_url(lib: Library, chat: ChatStandIn, chat_reply: Chat,
                                      says: str) -> None:
    chat.answer = lambda request: chat_reply
    with pytest.raises(LLMError, match=re.escape(f"{chat.base}/chat/completions: {says}")):
        lib.ask(BEES, llm=settings(chat))


@pytest.fixture
def cli(lib: Library, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The CLI on ``lib`` (opened with the hashing embedder), no LLM in the environment."""
    monkeypatch.setattr(State, "library", lambda self: lib)
    monkeypatch.setattr(State, "close", lambda self: None)
    for name in ("URL", "MODEL", "KEY"):
        monkeypatch.delenv(f"PAPERATLAS_LLM_{name}", raising=False)
    return ["--db", str(lib.path), "ask"]


def test_cli_prints_the_answer_sources_and_precision(cli: list[str], chat: ChatStandIn) -> None:
    chat.answer = reply("VERDICT: SUPPORT\nColonies fell [1]. Wasps too [9]. Sure.")
    r = CliRunner().invoke(main, [*cli, BEES, "--llm-url", chat.base, "--llm-model", "m",
                                  "--llm-key", "sk-1"])
    assert r.exit_code == 0, r.output
    assert "verdict: SUPPORT" in r.output and "Colonies fell [1]. Wasps too [9?]. Sure." in r.output
    assert "! cites [9], not among the sources: Wasps too." in r.output
    assert "! uncited: Sure." in r.output
    assert "\n[1] bees:1  Bee decline\n    Neonicotinoid exposure reduced" in r.output
    assert "citation precision: 0.50" in r.output
    assert chat.headers[0]["Authorization"] == "Bearer sk-1"
    r = CliRunner().invoke(main, [*cli, BEES, "--json", "--llm-url", chat.base,
                                  "--llm-model", "m"])
    data = json.loads(r.output)
    assert data["citation_precision"] == 0.5 and data["model"] == "m"
    assert data["sentences"][1]["invalid"] == [9]


def test_cli_reads_the_model_from_the_environment(cli: list[str], chat: ChatStandIn,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERATLAS_LLM_URL", chat.base)
    monkeypatch.setenv("PAPERATLAS_LLM_MODEL", "env-model")
    r = CliRunner().invoke(main, [*cli, BEES, "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["model"] == "env-model"
    r = CliRunner().invoke(main, [*cli, BEES, "--json", "--no-llm"])
    assert r.exit_code == 0 and json.loads(r.output)["model"] is None
    assert len(chat.requests) == 1


def test_cli_errors_exit_non_zero_with_a_clear_message(cli: list[str],
                                                       chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat(status=503, body="loading model")
    r = CliRunner().invoke(main, [*cli, BEES, "--llm-url", chat.base, "--llm-model", "m"])
    assert r.exit_code == 1
    assert f"Error: {chat.base}/chat/completions: HTTP 503: loading model" in r.output
    r = CliRunner().invoke(main, [*cli, BEES, "--llm-url", chat.base])
    assert r.exit_code == 2 and "give --llm-model (or PAPERATLAS_LLM_MODEL)" in r.output
    r = CliRunner().invoke(main, [*cli, BEES, "--llm-url", "localhost:8080", "--llm-model", "m"])
    assert r.exit_code == 1 and "invalid LLM URL 'localhost:8080'" in r.output
    assert len(chat.requests) == 1


def test_cli_batch_with_a_model(cli: list[str], chat: ChatStandIn, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"_id": "1", "text": BEES}) + "\n"
                         + json.dumps({"_id": "2", "text": NOWHERE}) + "\n")
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(main, [*cli, "--questions", str(questions), "--out", str(out),
                                  "--llm-url", chat.base, "--llm-model", "m"])
    assert r.exit_code == 0, r.output
    first, second = [json.loads(line) for line in out.read_text().splitlines()]
    assert list(first) == ["_id", "abstained", "evidence", "answer", "citation_precision",
                           "verdict"]
    assert first["answer"].startswith("The library says: Neonicotinoid") and \
        first["answer"].endswith("[1].")
    assert first["citation_precision"] == 1.0 and first["verdict"] == "SUPPORT"
    assert second["abstained"] is True and second["answer"] == "" and \
        second["citation_precision"] is None
    assert len(chat.requests) == 1
