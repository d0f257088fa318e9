"""Signing in and out of the web app (users are added with ``paperatlas users add``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import AuthError, TooManyRequestsError
from .auth import (
    check_csrf,
    client_address,
    end_session,
    local_url,
    session_user,
    start_session,
)
from .context import context

router = APIRouter(include_in_schema=False)

Field = Annotated[str, Form()]


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form; ``next`` is where to go after."""
    return _form(request, local_url(next), "", 200)


@router.post("/signin")
def signin(request: Request, name: Field = "", password: Field = "", csrf: Field = "",
           next: Field = "/") -> Response:
    """Check the password and start a fresh session; a wrong one shows the form again (401)."""
    check_csrf(request, csrf)
    ctx = context(request)
    try:
        with ctx.library() as lib:
            user = lib.people.check(name.strip(), password, client=client_address(request),
                                    limits=ctx.settings.auth_limits)
    except AuthError as exc:
        return _form(request, local_url(next), str(exc), 401, name)
    except TooManyRequestsError as exc:
        page = _form(request, local_url(next), str(exc), 429, name)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    start_session(request, user.name)
    return RedirectResponse(local_url(next), status_code=303)


@router.post("/signout")
def signout(request: Request, csrf: Field = "") -> Response:
    """End the session, here and in the library (a copied cookie is signed out too)."""
    if session_user(request) is not None:
        check_csrf(request, csrf)
        end_session(request)
    return RedirectResponse("/", status_code=303)


def _form(request: Request, next_url: str, error: str, status: int,
          name: str = "") -> HTMLResponse:
    return context(request).render(request, "signin.html", {
        "next": next_url, "error": error, "name": name}, status_code=status)
