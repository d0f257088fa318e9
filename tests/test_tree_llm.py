"""LLMLabeler against a real local stand-in for an OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from paperatlas.errors import PaperatlasError
from paperatlas.organize.base import Group, Labeler, NodeLabel
from paperatlas.organize.llm import LLMError, LLMLabeler, clean_label, completions_url

STOPWORDS = {"a", "an", "and", "for", "from", "in", "of", "on", "the", "to", "with", "via"}


class TopWordLabeler(Labeler):
    """Tiny keyword labeler: the most frequent non-stopword of the titles."""

    def __init__(self) -> None:
        self.calls = 0

    def label(self, groups: list[Group], *, parent: str = "") -> list[NodeLabel]:
        self.calls += 1
        result = []
        for group in groups:
            words = [w for t in group.titles for w in re.findall(r"[a-z]+", t.lower())
                     if w not in STOPWORDS]
            top = [w for w, _ in Counter(words).most_common(3)]
            result.append(NodeLabel(top[0].title(), top))
        return result


def topics_for(prompt: str) -> list[dict[str, Any]]:
    """Deterministic answer: for each numbered group, "Topic " + its first keyword."""
    topics = []
    for n, body in re.findall(r"^Group (\d+)\n(.*?)(?=^Group \d+$|\Z)", prompt, re.M | re.S):
        first = re.search(r"^Keywords: ([^,\n]+)", body, re.M)
        assert first, body
        topics.append({"n": int(n), "label": f"Topic {first.group(1).title()}",
                       "description": f"Papers about {first.group(1)}."})
    return topics


def completion(content: str) -> tuple[int, str]:
    return 200, json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})


def default_answer(request: dict[str, Any]) -> tuple[int, str]:
    prompt = request["messages"][-1]["content"]
    return completion(json.dumps({"topics": topics_for(prompt)}))


@dataclass
class StandIn:
    """The running server: its base URL, what it received, and how it answers."""

    base: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], tuple[int, str]] = default_answer


@pytest.fixture
def server() -> Iterator[StandIn]:
    state = StandIn(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length))
            state.requests.append(request)
            state.headers.append(dict(self.headers))
            state.paths.append(self.path)
            if self.path != "/v1/chat/completions":
                status, body = 404, "not found"
            else:
                status, body = state.answer(request)
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


GROUPS = [
    Group(1, ["Graph neural networks for molecules", "Scalable graph transformers",
              "Graph pooling revisited"], []),
    Group(2, ["Diffusion models for video", "Latent diffusion at scale"], []),
    Group(3, ["Reward models for alignment", "Reward hacking in RLHF", "Preference data"], []),
]
for _g in GROUPS:
    _g.texts = list(_g.titles)


def labeler(server: StandIn, **kwargs: Any) -> LLMLabeler:
    return LLMLabeler(server.base, "test-model", keywords=TopWordLabeler(), **kwargs)


def test_happy_path_request_shape_and_labels(server: StandIn) -> None:
    keywords = TopWordLabeler()
    llm = LLMLabeler(server.base, "test-model", keywords=keywords, api_key="sk-test",
                     max_titles=2, temperature=0.3)
    labels = llm.label(GROUPS, parent="Machine Learning")

    assert [x.label for x in labels] == ["Topic Graph", "Topic Diffusion", "Topic Reward"]
    assert labels[0].keywords == ["graph", "neural", "networks"]
    assert labels[1].description == "Papers about diffusion."
    assert keywords.calls == 1
    assert len(server.requests) == 1  # one request for all siblings
    request, headers = server.requests[0], server.headers[0]
    assert server.paths == ["/v1/chat/completions"]
    assert set(request) == {"model", "messages", "temperature"}
    assert request["model"] == "test-model" and request["temperature"] == 0.3
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert headers["Authorization"] == "Bearer sk-test"
    assert headers["Content-Type"] == "application/json"
    prompt = request["messages"][1]["content"]
    assert "Machine Learning" in prompt
    assert "Scalable graph transformers" in prompt
    assert "Graph pooling revisited" not in prompt  # cut at max_titles=2
    assert "Group 3" in prompt and "Group 4" not in prompt


def test_no_api_key_sends_no_auth_and_full_url_is_accepted(server: StandIn) -> None:
    llm = LLMLabeler(server.base + "/chat/completions/", "m", keywords=TopWordLabeler())
    assert llm.label(GROUPS[:1])[0].label == "Topic Graph"
    assert "Authorization" not in server.headers[0]
    assert server.paths == ["/v1/chat/completions"]
    assert "Parent topic" not in server.requests[0]["messages"][1]["content"]


def test_completions_url() -> None:
    assert completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert completions_url("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"


def test_fenced_json(server: StandIn) -> None:
    def fenced(request: dict[str, Any]) -> tuple[int, str]:
        topics = topics_for(request["messages"][-1]["content"])
        return completion("```json\n" + json.dumps({"topics": topics}, indent=2) + "\n```")

    server.answer = fenced
    assert [x.label for x in labeler(server).label(GROUPS)] == [
        "Topic Graph", "Topic Diffusion", "Topic Reward"]


def test_prose_around_json(server: StandIn) -> None:
    def chatty(request: dict[str, Any]) -> tuple[int, str]:
        topics = topics_for(request["messages"][-1]["content"])
        return completion("Sure! Here are the names {as asked}:\n"
                          + json.dumps({"topics": topics}) + "\nHope this helps.")

    server.answer = chatty
    assert [x.label for x in labeler(server).label(GROUPS)] == [
        "Topic Graph", "Topic Diffusion", "Topic Reward"]


def test_missing_group_falls_back(server: StandIn) -> None:
    def drop_second(request: dict[str, Any]) -> tuple[int, str]:
        topics = [t for t in topics_for(request["messages"][-1]["content"]) if t["n"] != 2]
        return completion(json.dumps({"topics": topics}))

    server.answer = drop_second
    labels = labeler(server).label(GROUPS)
    assert [x.label for x in labels] == ["Topic Graph", "Diffusion", "Topic Reward"]
    assert labels[1].keywords == ["diffusion", "models", "video"]


def test_duplicate_and_parent_labels_fall_back(server: StandIn) -> None:
    def same(request: dict[str, Any]) -> tuple[int, str]:
        topics = [{"n": 1, "label": "Learning Systems"}, {"n": 2, "label": "learning  systems."},
                  {"n": 3, "label": "'Machine Learning'"}]
        return completion(json.dumps({"topics": topics}))

    server.answer = same
    labels = labeler(server).label(GROUPS, parent="Machine Learning")
    assert [x.label for x in labels] == ["Learning Systems", "Diffusion", "Reward"]


def test_long_label_cut_to_six_words_and_cleaned(server: StandIn) -> None:
    def wordy(request: dict[str, Any]) -> tuple[int, str]:
        topics = [{"n": 1, "label": '"Graph   neural networks for molecules and proteins at scale."'},
                  {"n": 2, "label": "Video Diffusion."}, {"n": 3, "label": "   "}]
        return completion(json.dumps({"topics": topics}))

    server.answer = wordy
    labels = labeler(server).label(GROUPS)
    assert [x.label for x in labels] == [
        "Graph neural networks for molecules and", "Video Diffusion", "Reward"]
    assert clean_label("  'A  b'. ") == "A b"


def test_http_500_raises_naming_url(server: StandIn) -> None:
    server.answer = lambda request: (500, "upstream exploded " + "x" * 500)
    llm = labeler(server)
    with pytest.raises(LLMError) as info:
        llm.label(GROUPS)
    message = str(info.value)
    assert message.startswith(f"{server.base}/chat/completions: HTTP 500: upstream exploded")
    assert len(message) < len(server.base) + 260  # body cut to 200 characters
    assert isinstance(info.value, PaperatlasError)


def test_connection_refused_raises() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(LLMError, match=re.escape(f"{url}/chat/completions: cannot connect")):
        LLMLabeler(url, "m", keywords=TopWordLabeler(), timeout=5).label(GROUPS)


def test_timeout_raises(server: StandIn) -> None:
    def slow(request: dict[str, Any]) -> tuple[int, str]:
        time.sleep(1.0)
        return default_answer(request)

    server.answer = slow
    with pytest.raises(LLMError, match=re.escape(server.base)):
        labeler(server, timeout=0.2).label(GROUPS)


@pytest.mark.parametrize("body", ["<html>502 Bad Gateway</html>", '{"error": "no choices"}',
                                  '{"choices": []}'])
def test_garbage_or_choiceless_body_raises(server: StandIn, body: str) -> None:
    server.answer = lambda request: (200, body)
    with pytest.raises(LLMError, match=re.escape(f"{server.base}/chat/completions: reply")):
        labeler(server).label(GROUPS)


def test_answer_without_any_json_raises(server: StandIn) -> None:
    server.answer = lambda request: completion("I cannot help with that.")
    with pytest.raises(LLMError, match="no JSON object"):
        labeler(server).label(GROUPS)


def test_no_groups_sends_nothing(server: StandIn) -> None:
    assert labeler(server).label([]) == []
    assert server.requests == []
