"""Open sign-up on the web (``WebSettings.open_signup``; every route is 404 without it).

``GET /signup`` is the form, ``POST /signup`` (CSRF checked) keeps a pending sign-up and
queues its confirmation message (sent right away when the server has mail settings, else
once it has: the page says which). The mailed link opens ``GET /signup/confirm?token=...``,
which only reads and asks to confirm; its button (``POST /signup/confirm``) creates the
user, signs them in and goes to the home page. The JSON API does the same for programs:
``POST /api/signup`` (``{"name", "email", "password"}``: 202, the link mailed) and
``POST /api/signup/confirm`` (``{"token"}`` from the link: 201, the new account's name
and an API token, its only copy). See :mod:`paperatlas.signups`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Form, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..errors import ConflictError, InvalidOptionError, NotFoundError, TooManyRequestsError
from ..follow.settings import DigestSettings, MailSettings
from ..signups import SignupLimits
from .auth import check_csrf, flash, start_session
from .context import AppContext, context
from .errors import status_of
from .subscribe import as_sentence, client_of

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["accounts"])

Field = Annotated[str, Form()]
Text = Annotated[str, Body(embed=True, max_length=1024)]
SIGNUP_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad name, address, password or link."},
    404: {"description": "This server does not take sign-ups."},
    409: {"description": "The name is taken."},
    429: {"description": "Too many sign-ups or confirmation mails; see Retry-After."},
}


def install(app: Any) -> None:
    """Add the routes, and ``open_signup`` to every page (the header's "Sign up" link)."""
    settings = app.state.paperatlas.settings
    app.state.paperatlas.templates.context_processors.append(
        lambda request: {"open_signup": settings.open_signup})
    app.include_router(router)
    app.include_router(api)


def _require_open(request: Request) -> None:
    if not context(request).settings.open_signup:
        raise NotFoundError("this server does not take sign-ups: ask its administrator "
                            "for an account")


def _mail(request: Request) -> tuple[DigestSettings, MailSettings | None]:
    """The digest settings (links, caps) and the mail settings (None: no SMTP set up)."""
    digest, mail = request.app.state.paperatlas_follow
    return digest, mail


def _send(ctx: AppContext, digest: DigestSettings, mail: MailSettings) -> None:
    with ctx.library() as lib:
        lib.follow.digest_send(digest, mail)


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request) -> HTMLResponse:
    """The sign-up form."""
    _require_open(request)
    return _form(request, "", 200)


@router.post("/signup")
def signup(request: Request, background: BackgroundTasks, name: Field = "",
           email: Field = "", password: Field = "", again: Field = "",
           csrf: Field = "") -> Response:
    """Keep the sign-up and mail its confirmation link; bad input shows the form again
    with the error (400, 409 for a taken name, 429 past a cap)."""
    _require_open(request)
    check_csrf(request, csrf)
    digest, mail = _mail(request)
    if password != again:
        return _form(request, "The two passwords differ: type the same password twice.",
                     400, name, email)
    try:
        with context(request).library() as lib:
            pending = lib.signups.signup(
                name, email, password, digest, (mail or MailSettings()).sender,
                client=client_of(request), limits=SignupLimits.from_mail(digest.limits))
    except TooManyRequestsError as exc:
        page = _form(request, as_sentence(str(exc)), 429, name, email)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except (InvalidOptionError, ConflictError) as exc:
        return _form(request, as_sentence(str(exc)), status_of(exc), name, email)
    if mail is not None:
        background.add_task(_send, context(request), digest, mail)
    return context(request).render(request, "signup_done.html", {
        "pending": pending, "mail_ready": mail is not None})


@router.get("/signup/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, token: str = "") -> HTMLResponse:
    """The mailed link: says whose account it makes and asks to confirm (a link
    scanner's GET creates nothing); a used, expired or broken link is a 400 page."""
    _require_open(request)
    with context(request).library() as lib:
        pending = lib.signups.pending(token)
    return context(request).render(request, "signup_confirm.html", {
        "pending": pending, "token": token})


@router.post("/signup/confirm")
def confirm(request: Request, token: Field = "", csrf: Field = "") -> Response:
    """Create the account, sign its user in, and go to the home page."""
    _require_open(request)
    check_csrf(request, csrf)
    with context(request).library() as lib:
        user = lib.signups.confirm(token)
    start_session(request, user.name)
    flash(request, f"Welcome, {user.name}: your account is ready, and you are signed in.")
    return RedirectResponse("/", status_code=303)


@api.post("/signup", status_code=202, responses=SIGNUP_ERRORS)
def api_signup(request: Request, background: BackgroundTasks, name: Text, email: Text,
               password: Text) -> dict[str, Any]:
    """Sign up (when the server takes sign-ups): the account is made once the address
    follows the mailed link; ``mail`` says whether it was sent or waits for mail settings."""
    _require_open(request)
    digest, mail = _mail(request)
    with context(request).library() as lib:
        pending = lib.signups.signup(
            name, email, password, digest, (mail or MailSettings()).sender,
            client=client_of(request), limits=SignupLimits.from_mail(digest.limits))
    if mail is not None:
        background.add_task(_send, context(request), digest, mail)
    return {"name": pending.name, "email": pending.email, "expires_at": pending.expires_at,
            "mail": "sent" if mail is not None else "queued"}


@api.post("/signup/confirm", status_code=201, responses=SIGNUP_ERRORS)
def api_confirm(request: Request, token: Text) -> JSONResponse:
    """Create the account the mailed link's ``token`` names; the answer holds an API
    token for it (its only copy)."""
    _require_open(request)
    with context(request).library() as lib:
        user = lib.signups.confirm(token)
        made = lib.people.token_create(user.name, "sign-up")
    return JSONResponse({"name": user.name, "token": made.token}, status_code=201)


def _form(request: Request, error: str, status: int, name: str = "",
          email: str = "") -> HTMLResponse:
    return context(request).render(request, "signup.html", {
        "error": error, "name": name[:64], "email": email[:254],
        "mail_ready": _mail(request)[1] is not None}, status_code=status)
