"""paperatlas.chat.ChatClient against a real local stand-in chat completions endpoint:
whole and streamed answers, and every failure an LLMError naming the URL in bounded time."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from llm_standin import Chat, ChatStandIn
from paperatlas.chat import ChatClient, LLMError, LLMSettings, completions_url
from paperatlas.errors import InvalidOptionError, UpstreamError
from paperatlas.organize import llm as organize_llm

MESSAGES = [{"role": "user", "content": "Say hi."}]


def test_complete_sends_model_messages_params_and_key(chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat("hello there")
    client = ChatClient(chat.base, "m1", api_key="sk-x")
    assert client.url == chat.base + "/chat/completions"
    assert client.complete(MESSAGES, temperature=0.0, max_tokens=5) == "hello there"
    assert chat.requests == [{"model": "m1", "messages": MESSAGES, "temperature": 0.0,
                              "max_tokens": 5}]
    assert chat.headers[0]["Authorization"] == "Bearer sk-x"
    ChatClient(chat.base, "m1").complete(MESSAGES)
    assert "Authorization" not in chat.headers[1]


def test_stream_yields_pieces_in_order(chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat(pieces=["Hel", "lo", "", " world"])
    pieces = list(ChatClient(chat.base, "m").stream(MESSAGES))
    assert pieces == ["Hel", "lo", " world"]  # the role and empty chunks yield nothing
    assert chat.requests[0]["stream"] is True


def test_stream_of_a_server_that_answers_whole(chat: ChatStandIn) -> None:
    """An endpoint that ignores ``stream`` and answers one JSON completion."""
    chat.answer = lambda request: Chat(body=json.dumps(
        {"choices": [{"message": {"content": "all at once"}}]}))
    assert list(ChatClient(chat.base, "m").stream(MESSAGES)) == ["all at once"]


def test_base_urls() -> None:
    assert completions_url("http://h:8080") == "http://h:8080/v1/chat/completions"
    assert completions_url("http://h:8080/") == "http://h:8080/v1/chat/completions"
    assert completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert completions_url("https://h/api/v1") == "https://h/api/v1/chat/completions"
    assert completions_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"
    for bad in ("localhost:8080", "ftp://h/v1", "http://", ""):
        with pytest.raises(InvalidOptionError, match="LLM URL"):
            completions_url(bad)
    with pytest.raises(InvalidOptionError, match="LLM model"):
        ChatClient("http://h", " ")
    settings = LLMSettings("http://h:1", "m", "k", timeout=3)
    client = settings.client()
    assert (client.url, client.model, client.api_key, client.timeout) == (
        "http://h:1/v1/chat/completions", "m", "k", 3)


def test_llm_error_is_one_class_everywhere() -> None:
    assert organize_llm.LLMError is LLMError and issubclass(LLMError, UpstreamError)
    assert organize_llm.completions_url is completions_url


def test_http_500_names_url_status_and_body(chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat(status=500, body="model   exploded\n" + "x" * 900)
    client = ChatClient(chat.base, "m")
    for call in (lambda: client.complete(MESSAGES), lambda: list(client.stream(MESSAGES))):
        with pytest.raises(LLMError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{client.url}: HTTP 500: model exploded xxx")
        assert len(message) < len(client.url) + 230


@pytest.mark.parametrize("body", ["<html>502 Bad Gateway</html>", '{"choices": []}',
                                  '{"choices": [{"message": {"content": 3}}]}'])
def test_malformed_bodies(chat: ChatStandIn, body: str) -> None:
    chat.answer = lambda request: Chat(body=body)
    with pytest.raises(LLMError, match=re.escape(chat.base + "/chat/completions: ")):
        ChatClient(chat.base, "m").complete(MESSAGES)


@pytest.mark.parametrize("chunk", ["not json", '{"choices": [{"delta": {"content": 7}}]}',
                                   '{"error": {"message": "out of memory"}}', '{"x": 1}'])
def test_malformed_stream_chunks(chat: ChatStandIn, chunk: str) -> None:
    chat.answer = lambda request: Chat(pieces=["ok"], raw=[chunk])
    client = ChatClient(chat.base, "m")
    got: list[str] = []
    with pytest.raises(LLMError, match=re.escape(client.url + ": ")):
        for piece in client.stream(MESSAGES):
            got.append(piece)
    assert got == ["ok"]


def test_a_stream_request_answered_with_a_page(chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat(body="<html><body>Log in</body></html>",
                                       content_type="text/html")
    with pytest.raises(LLMError, match="not a stream of server-sent events: '<html>"):
        list(ChatClient(chat.base, "m").stream(MESSAGES))


def test_connection_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(LLMError, match=re.escape(f"{url}/v1/chat/completions: cannot connect")):
        ChatClient(url, "m", timeout=2).complete(MESSAGES)


def test_a_silent_server_fails_within_the_timeout(chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat("late", delay=30)
    client = ChatClient(chat.base, "m", timeout=0.5)
    for call in (lambda: client.complete(MESSAGES), lambda: list(client.stream(MESSAGES))):
        t0 = time.monotonic()
        with pytest.raises(LLMError, match=re.escape(client.url) + ".*timed out"):
            call()
        assert time.monotonic() - t0 < 3


def test_a_stream_that_goes_silent_midway_fails_within_the_timeout(chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat(pieces=["a", "b", "c"], hang_after=2)
    got: list[str] = []
    t0 = time.monotonic()
    with pytest.raises(LLMError, match=r"timed out after 0\.5s"):
        for piece in ChatClient(chat.base, "m", timeout=0.5).stream(MESSAGES):
            got.append(piece)
    assert got == ["a", "b"] and time.monotonic() - t0 < 3


def test_a_trickling_stream_is_cut_at_the_total(chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat(pieces=["x"] * 100, gap=0.05)
    t0 = time.monotonic()
    with pytest.raises(LLMError, match=r"no complete answer after 0\.4s"):
        list(ChatClient(chat.base, "m", timeout=1, total=0.4).stream(MESSAGES))
    assert time.monotonic() - t0 < 3
