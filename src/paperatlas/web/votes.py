"""Upvotes and trending: ``/api/papers/KEY/vote`` (POST to vote, DELETE to undo),
``/api/trending`` and the vote form of the pages.

An API vote acts for the owner of the bearer token or, from the pages' script, for the
signed-in user (who then sends the session's CSRF token in ``X-CSRF-Token``); anyone else
gets 401. The form posts the CSRF token like every other form and works without script.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from ..follow.trending import WINDOWS, parse_node
from ..records.serialize import to_json
from .auth import SignInRequired, check_csrf, flash, local_url, page_writer, signed_in
from .context import context
from .present import paper_url

router = APIRouter()

VOTE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No signed-in user and no API token."},
    403: {"description": "A signed-in session without the CSRF token."},
    404: {"description": "No such paper."},
}
Field = Annotated[str, Form()]


def api_voter(request: Request) -> str:
    """Who votes through the API: the token's owner, else the signed-in user (with the
    session's CSRF token in ``X-CSRF-Token``); 401 for anyone else."""
    user = getattr(request.state, "token_user", None)
    if isinstance(user, str):
        return user
    user = signed_in(request)
    if user is None:
        raise SignInRequired("voting needs a signed-in user or an API token: send "
                             "'Authorization: Bearer TOKEN'")
    check_csrf(request, request.headers.get("x-csrf-token"))
    return user


@router.post("/api/papers/{key:path}/vote", tags=["papers"], responses=VOTE_ERRORS)
def vote(request: Request, key: str) -> dict[str, Any]:
    """Upvote a paper (once per user: voting again changes nothing); ``votes`` is its count
    after the vote, ``changed`` whether this call cast it."""
    user = api_voter(request)
    with context(request).library() as lib:
        return to_json(lib.follow.vote(key, user))


@router.delete("/api/papers/{key:path}/vote", tags=["papers"], responses=VOTE_ERRORS)
def unvote(request: Request, key: str) -> dict[str, Any]:
    """Take your vote on a paper back (``changed`` is false when there was none)."""
    user = api_voter(request)
    with context(request).library() as lib:
        return to_json(lib.follow.unvote(key, user))


@router.get("/api/trending", tags=["papers"], responses={
    400: {"description": "A bad window or node; the message lists the valid values."},
    404: {"description": "No such collection, tree or topic."}})
def trending(request: Request,
             window: Annotated[str, Query(description=" | ".join(WINDOWS))] = "week",
             collection: Annotated[str | None, Query(description="Only this collection.")] = None,
             node: Annotated[str | None, Query(description="Only papers under this topic: "
                                               "TREE:ID.")] = None,
             limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
    """The papers upvoted in the window, best first by ``votes / (age_hours + 2) ** 1.8``
    (age from the paper's date, else from when it was added)."""
    tree, node_id = parse_node(node)
    with context(request).library() as lib:
        return to_json(lib.follow.trending(window, collection=collection or None, tree=tree,
                                           node=node_id, limit=limit))


@router.post("/papers/{key:path}/vote", include_in_schema=False)
def vote_form(request: Request, key: str, csrf: Field = "", undo: Field = "",
              back: Field = "") -> Response:
    """The upvote button of the pages: vote (or, with ``undo``, take the vote back)."""
    user = page_writer(request, csrf)
    with context(request).library() as lib:
        result = lib.follow.unvote(key, user) if undo else lib.follow.vote(key, user)
    if result.changed:
        flash(request, "Vote taken back." if undo else "Upvoted.")
    return RedirectResponse(local_url(back, paper_url(result.key)), status_code=303)
