"""Name sibling topic nodes through an OpenAI-compatible chat completions endpoint.

One request per :meth:`LLMLabeler.label` call names all siblings together, so their
names can differ; a keyword labeler runs first, its output serves as hints in the
prompt and as the fallback for any group the model does not name usefully.
"""

from __future__ import annotations

import json
import re
from typing import Any

from paperatlas.chat import ChatClient
from paperatlas.chat import LLMError as LLMError  # where it was first; one class
from paperatlas.chat import completions_url as completions_url
from paperatlas.organize.base import Corpus, Group, Labeler, NodeLabel
from paperatlas.organize.phrases import clean

SYSTEM_PROMPT = (
    "You name the topics of a research paper collection. You are given sibling groups "
    "of papers; give each group a distinct, specific name of 2-6 words and a one-sentence "
    "description. Answer with JSON only, no prose, in exactly this form: "
    '{"topics": [{"n": 1, "label": "2-6 word name", "description": "one sentence"}, ...]}'
)

MAX_WORDS = 6
_QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb"


class LLMLabeler(Labeler):
    """Names sibling nodes with a chat model, falling back to a keyword labeler."""

    def __init__(self, url: str, model: str, *, keywords: Labeler, api_key: str | None = None,
                 timeout: float = 60.0, max_titles: int = 12,
                 temperature: float = 0.0) -> None:
        self.chat = ChatClient(url, model, api_key=api_key, timeout=timeout)
        self.url = self.chat.url
        self.model = model
        self.keywords = keywords
        self.max_titles = max_titles
        self.temperature = temperature

    def fit(self, corpus: Corpus) -> None:
        self.keywords.fit(corpus)

    def label(self, groups: list[Group], *, parent: str = "") -> list[NodeLabel]:
        """One :class:`NodeLabel` per group: the model's name, else the keyword one."""
        fallbacks = self.keywords.label(groups, parent=parent)
        if not groups:
            return []
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": build_prompt(groups, fallbacks, parent=parent,
                                                     max_titles=self.max_titles)},
        ]
        content = self._complete(messages)
        topics = parse_topics(content, len(groups))
        if topics is None:
            raise LLMError(f"{self.url}: no JSON object in the model's answer: "
                           f"{content[:200]!r}")
        return merge_labels(topics, fallbacks, parent=parent)

    def _complete(self, messages: list[dict[str, str]]) -> str:
        """POST the messages and return ``choices[0].message.content``."""
        return self.chat.complete(messages, temperature=self.temperature)


def build_prompt(groups: list[Group], hints: list[NodeLabel], *, parent: str = "",
                 max_titles: int = 12) -> str:
    """The user message: per numbered group its keyword hints and up to ``max_titles`` titles."""
    lines: list[str] = []
    if parent:
        lines += [f"Parent topic: {parent}", "All groups below are subtopics of it; "
                  "do not reuse the parent's name.", ""]
    lines.append(f"Name each of these {len(groups)} sibling groups of papers.")
    for n, (group, hint) in enumerate(zip(groups, hints, strict=True), start=1):
        words = hint.keywords or group.keywords
        lines += ["", f"Group {n}"]
        if hint.label:
            lines.append(f"Suggested name: {hint.label}")
        if words:
            lines.append(f"Keywords: {', '.join(words)}")
        titles = [t for t in group.titles if t.strip()]  # untitled papers: their openings
        shown = titles or [" ".join(text.split()[:30]) for text in group.texts]
        lines.append("Titles:" if titles else "Paper openings:")
        lines += [f"- {' '.join(title.split())}" for title in shown[:max_titles]]
    lines += ["", 'Reply with JSON only: {"topics": [{"n": 1, "label": "2-6 word name", '
              '"description": "one sentence"}, ...]} with one entry per group, '
              "numbered as above; the names must differ from each other."]
    return "\n".join(lines)


def extract_json(text: str) -> dict[str, Any] | None:
    """The first ``{...}`` object in ``text`` (fenced, surrounded by prose, or bare)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def parse_topics(content: str, count: int) -> dict[int, tuple[str, str]] | None:
    """Group number (1-based) -> (raw label, description); ``None`` if no JSON object."""
    data = extract_json(content)
    if data is None:
        return None
    topics = data.get("topics")
    if not isinstance(topics, list):
        return {}
    found: dict[int, tuple[str, str]] = {}
    for position, item in enumerate(topics, start=1):
        if not isinstance(item, dict):
            continue
        number = _as_int(item.get("n", position))
        label = item.get("label")
        description = item.get("description")
        if number is None or not 1 <= number <= count or number in found:
            continue
        if not isinstance(label, str):
            continue
        found[number] = (label, description.strip() if isinstance(description, str) else "")
    return found


def clean_label(label: str) -> str:
    """Strip markup and quotes and trailing periods, read literal ``\\uXXXX`` escapes,
    collapse whitespace, keep at most six words (see :func:`~.phrases.clean`)."""
    text = " ".join(clean(label).split()).strip(_QUOTES + " ").rstrip(". ")
    text = text.strip(_QUOTES + " ")
    return " ".join(text.split()[:MAX_WORDS]).rstrip(",;:-")


def merge_labels(topics: dict[int, tuple[str, str]], fallbacks: list[NodeLabel], *,
                 parent: str = "") -> list[NodeLabel]:
    """The model's cleaned names where usable (distinct, not the parent's), else fallbacks;
    the keyword names are the alternatives a tree's duplicate takes."""
    taken = {parent.strip().casefold()} if parent.strip() else set()
    result: list[NodeLabel] = []
    for n, fallback in enumerate(fallbacks, start=1):
        raw, description = topics.get(n, ("", ""))
        label = clean_label(raw)
        if not label or label.casefold() in taken:
            label = fallback.label
        others = [a for a in (fallback.label, *fallback.alternatives) if a != label]
        chosen = NodeLabel(label, list(fallback.keywords), description or fallback.description,
                           alternatives=others)
        taken.add(chosen.label.casefold())
        result.append(chosen)
    return result


def _as_int(value: object) -> int | None:
    """``value`` as an int when it is one or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
