"""Hugging Face Daily Papers answers (``huggingface.co/api/daily_papers``): a JSON list of
``{"paper": {...}, "numComments": ..., ...}``.

Each item is one arXiv paper: its id, title, summary (the abstract), authors (an author
who claimed the paper with their Hugging Face account keeps it as an identifier) and date,
plus what the community says of it, kept as the paper's external signals (upvotes,
comments, GitHub repository, project page, organization, the AI keywords and summary).
Both generations of the answer read alike (the 2024 one lacks the optional fields).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..author_ids import ids_for
from ..records.papers import Record
from ..text import parse_date
from .apijson import add_id, each_record, head_of, put_signals, read_answer, text_of, unexpected
from .base import Parser
from .source import InputFile, Lines

#: An answer is a list of objects with a ``paper`` object that starts with its arXiv id.
_HEAD = re.compile(r'^\[\s*\{')
_PAPER = re.compile(r'"paper"\s*:\s*\{\s*"id"\s*:\s*"')
_WHAT = "a Hugging Face Daily Papers answer (a list of papers)"


class HfDailyParser(Parser):
    """A Daily Papers answer: one record per listed paper, with its signals."""

    name = "hf-daily"

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = head_of(file)
        return bool(_HEAD.match(head) and _PAPER.search(head))

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        doc = read_answer(fh, path, _WHAT)
        if not isinstance(doc, list):
            raise unexpected(doc, path, _WHAT)
        yield from each_record(doc, path, self._record)

    @staticmethod
    def _record(item: dict[str, Any], *, line: int, entry: int) -> Record:
        paper = item.get("paper")
        if not isinstance(paper, dict):
            paper = item  # an item of /api/papers is the paper itself
        rec = Record(title=text_of(paper.get("title")) or text_of(item.get("title")),
                     abstract=text_of(paper.get("summary")) or text_of(item.get("summary")),
                     line=line, entry=entry)
        for author in paper.get("authors") or []:
            if isinstance(author, dict) and (name := text_of(author.get("name"))):
                rec.authors.append(name)
                user = author.get("user")  # the account of an author who claimed the paper
                if isinstance(user, dict) and (found := ids_for(name, hf=user.get("user"))):
                    rec.author_ids.append(found)
        rec.date = parse_date(str(paper.get("publishedAt") or "")[:10])
        arxiv = text_of(paper.get("id"))
        add_id(rec, "arxiv", arxiv)
        rec.source_key = rec.ids.get("arxiv") or arxiv or None
        if arxiv:
            rec.links = [f"https://huggingface.co/papers/{arxiv}"]
            if "arxiv" in rec.ids:
                rec.links.append(f"https://arxiv.org/abs/{arxiv}")
        listed = paper.get("submittedOnDailyAt") or item.get("publishedAt")
        if listed_on := parse_date(str(listed or "")[:10]):
            rec.extra["listed_on"] = listed_on
        organization = paper.get("organization") or item.get("organization")
        org_name = text_of(organization.get("name")) if isinstance(organization, dict) else ""
        keywords = paper.get("ai_keywords")
        put_signals(rec, upvotes=_count(paper.get("upvotes")),
                    numComments=_count(item.get("numComments")),
                    githubRepo=text_of(paper.get("githubRepo")),
                    githubStars=_count(paper.get("githubStars")),
                    projectPage=text_of(paper.get("projectPage")),
                    organization=org_name,
                    ai_keywords=[k for k in (text_of(w) for w in keywords) if k]
                    if isinstance(keywords, list) else None,
                    ai_summary=text_of(paper.get("ai_summary")))
        return rec


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
