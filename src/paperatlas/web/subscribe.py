"""Subscriptions on the web: the subscribe form, confirmation and unsubscribe pages, "my
subscriptions" and the preview of a next digest, and their JSON twins under ``/api``.

Confirmation and unsubscribe links authenticate by their signed token, so they work
without a session (and in private mode); ``POST /unsubscribe/TOKEN`` is the RFC 8058
one-click endpoint that mail clients call, without a CSRF token. Everything else that
writes needs the session's CSRF token (forms) or an API token (``/api``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import InvalidOptionError, TooManyRequestsError
from ..follow.settings import DigestSettings, MailSettings
from ..follow.subscriptions import items_from
from ..records.follow import FREQUENCIES, Item
from ..records.serialize import to_json
from ..search import MODES
from .auth import SignInRequired, api_writer, check_csrf, client_address, flash, signed_in
from .context import AppContext, context

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["subscriptions"])

Field = Annotated[str, Form()]
Many = Annotated[list[str], Form()]


def install(app: Any, digest: DigestSettings | None, mail: MailSettings | None) -> None:
    """Add the routers; ``mail`` (when given) sends confirmations right away. Without
    ``digest``, links in messages point at the app's public URL (its base URL, else the
    address it is served on; never the request's ``Host``)."""
    settings = app.state.paperatlas.settings
    if digest is None:
        digest = DigestSettings(base_url=settings.public_url, site_title=settings.title)
    app.state.paperatlas_follow = (digest, mail)
    app.include_router(router)
    app.include_router(api_router)


def _settings(request: Request) -> tuple[DigestSettings, MailSettings, bool]:
    """Digest settings, mail settings, and whether to send right away."""
    digest, mail = request.app.state.paperatlas_follow
    return digest, mail or MailSettings(), mail is not None


def client_of(request: Request) -> str:
    """Who asks, for the caps on confirmation mails: the client's address (an IPv6 one by
    its /64, as every throttle counts it)."""
    return client_address(request) or "unknown"


def _send_soon(request: Request, background: BackgroundTasks) -> None:
    digest, mail, now = _settings(request)
    if now:
        ctx = context(request)
        background.add_task(_send, ctx, digest, mail)


def _send(ctx: AppContext, digest: DigestSettings, mail: MailSettings) -> None:
    with ctx.library() as lib:
        lib.follow.digest_send(digest, mail)


def _require_user(request: Request) -> str:
    user = signed_in(request)
    if user is None:
        raise SignInRequired("sign in to see your subscriptions", request.url.path)
    return user


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request, q: str = "", mode: str = "", seed: str = "",
                   node: str = "", collection: str = "", author: str = "") -> HTMLResponse:
    """The subscribe form, prefilled from a search, paper, topic or collection page."""
    return _form(request, {"q": q, "mode": mode if mode in MODES else "", "seed": seed,
                           "node": node, "collection": collection, "author": author})


def _form(request: Request, prefill: dict[str, str], *, error: str = "", email: str = "",
          status_code: int = 200) -> HTMLResponse:
    """The form: topics to pick from every tree, the collections, and whether this server
    can send mail (without it, confirmations wait until it can)."""
    with context(request).library() as lib:
        topics = lib.trees.choices()
        collections = [c.name for c in lib.collections.all()]
    return context(request).render(request, "subscribe.html", {
        "prefill": prefill, "topics": topics, "collections": collections,
        "frequencies": FREQUENCIES, "error": error, "email": email,
        "mail_ready": _settings(request)[2]}, status_code=status_code)


@router.post("/subscribe")
def subscribe(request: Request, background: BackgroundTasks, csrf: Field = "",
              email: Field = "", frequency: Field = "daily", search: Many = [],  # noqa: B006
              mode: Field = "", seed: Many = [], node: Many = [],  # noqa: B006
              collection: Many = [], author: Many = []) -> Response:  # noqa: B006
    """Make the subscription; an email one waits for its confirmation link."""
    check_csrf(request, csrf)
    user = signed_in(request)
    items = items_from(searches=search, seeds=seed, nodes=node, collections=collection,
                       authors=author, mode=mode)
    digest, mail, _ = _settings(request)
    try:
        with context(request).library() as lib:
            sub = lib.follow.subscribe(email.strip() or None, items, digest, mail, user=user,
                                       frequency=frequency, client=client_of(request),
                                       limits=digest.limits)
    except TooManyRequestsError as exc:  # the form again, with what was typed
        page = _form(request, {"q": next(iter(search), ""), "mode": mode if mode in MODES else "",
                               "seed": next(iter(seed), ""), "node": next(iter(node), ""),
                               "collection": next(iter(collection), ""),
                               "author": next(iter(author), "")},
                     error=as_sentence(str(exc)), email=email, status_code=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    _send_soon(request, background)
    if sub.confirmed:
        flash(request, "Subscribed.")
        return RedirectResponse("/subscriptions", status_code=303)
    with context(request).library() as lib:
        topics = dict(lib.trees.choices(depth=8))
    return context(request).render(request, "subscribe_done.html", {
        "sub": sub, "mail_ready": _settings(request)[2], "topics": topics})


@router.get("/subscriptions/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str) -> HTMLResponse:
    """The link in the confirmation message: the subscription starts."""
    with context(request).library() as lib:
        sub = lib.follow.subscription_confirm(token)
    return context(request).render(request, "subscription_state.html", {
        "title": "Subscription confirmed", "sub": sub,
        "message": f"{sub.email} will get a {sub.frequency} digest of new papers."})


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """Asks before unsubscribing (a link scanner's GET changes nothing)."""
    return context(request).render(request, "unsubscribe.html", {"token": token})


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """Unsubscribe: the page's button, and RFC 8058 one-click POSTs from mail clients."""
    with context(request).library() as lib:
        sub = lib.follow.unsubscribe(token)
    message = (f"{sub.email or sub.user} will get no more digests from this subscription."
               if sub else "This subscription had already ended.")
    return context(request).render(request, "subscription_state.html", {
        "title": "Unsubscribed", "sub": None, "message": message})


@router.get("/subscriptions", response_class=HTMLResponse)
def mine(request: Request) -> HTMLResponse:
    """The signed-in user's subscriptions."""
    user = _require_user(request)
    with context(request).library() as lib:
        subs = lib.follow.subscriptions(user=user)
    return context(request).render(request, "subscriptions.html", {"subs": subs})


@router.post("/subscriptions/{sub_id}/remove")
def remove(request: Request, sub_id: int, csrf: Field = "") -> Response:
    user = _require_user(request)
    check_csrf(request, csrf)
    with context(request).library() as lib:
        lib.follow.subscription_remove(sub_id, user=user)
    flash(request, f"Subscription {sub_id} removed.")
    return RedirectResponse("/subscriptions", status_code=303)


@router.get("/subscriptions/{sub_id}/preview", response_class=HTMLResponse)
def preview(request: Request, sub_id: int) -> HTMLResponse:
    """What the subscription's next digest would hold now."""
    user = _require_user(request)
    digest, _, _ = _settings(request)
    with context(request).library() as lib:
        found = lib.follow.digest_preview(digest, subscription=sub_id, user=user)
    return context(request).render(request, "digest_preview.html", {"digest": found[0]})


# -- the JSON twins --------------------------------------------------------------------------
@api_router.get("/subscriptions")
def api_mine(request: Request) -> list[dict[str, Any]]:
    """The subscriptions of the API token's user."""
    user = api_writer(request)
    with context(request).library() as lib:
        return [to_json(s) for s in lib.follow.subscriptions(user=user)]


@api_router.post("/subscriptions", status_code=201)
def api_subscribe(request: Request, background: BackgroundTasks,
                  body: Annotated[dict[str, Any], Body(examples=[{
                      "email": "ada@example.org", "frequency": "weekly",
                      "items": [{"kind": "search", "value": "protein folding"},
                                {"kind": "seed", "value": "2405.00001"},
                                {"kind": "node", "value": "default:12"}]}])]) -> dict[str, Any]:
    """Subscribe (as the token's user); ``items`` are ``{kind, value, mode}`` with kind
    search, seed, node (``TREE:ID``), collection or author. An ``email`` gets a
    confirmation message first; without one, the subscription is previewed on the web."""
    user = api_writer(request)
    raw = body.get("items")
    if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
        raise InvalidOptionError("items", raw, ["a list of {kind, value, mode}"])
    items = [Item(str(i.get("kind", "")), str(i.get("value", "")), str(i.get("mode", "")))
             for i in raw]
    digest, mail, _ = _settings(request)
    email = body.get("email")
    with context(request).library() as lib:
        sub = lib.follow.subscribe(str(email) if email else None, items, digest, mail, user=user,
                                   frequency=str(body.get("frequency", "daily")),
                                   client=client_of(request), limits=digest.limits)
    _send_soon(request, background)
    return to_json(sub)


@api_router.delete("/subscriptions/{sub_id}")
def api_remove(request: Request, sub_id: int) -> dict[str, Any]:
    user = api_writer(request)
    with context(request).library() as lib:
        lib.follow.subscription_remove(sub_id, user=user)
    return {"removed": sub_id}


@api_router.get("/subscriptions/{sub_id}/preview")
def api_preview(request: Request, sub_id: int) -> dict[str, Any]:
    """The subscription's next digest as a run now would make it."""
    user = api_writer(request)
    digest, _, _ = _settings(request)
    with context(request).library() as lib:
        return to_json(lib.follow.digest_preview(digest, subscription=sub_id, user=user)[0])


@api_router.post("/subscriptions/confirm")
def api_confirm(request: Request, token: Annotated[str, Body(embed=True)]) -> dict[str, Any]:
    with context(request).library() as lib:
        return to_json(lib.follow.subscription_confirm(token))


@api_router.post("/unsubscribe")
def api_unsubscribe(request: Request, token: Annotated[str, Body(embed=True)]) -> dict[str, Any]:
    with context(request).library() as lib:
        sub = lib.follow.unsubscribe(token)
    return {"unsubscribed": sub.id if sub else None, "already": sub is None}


def as_sentence(text: str) -> str:
    """``text`` as a sentence: its first letter upper case, the rest as it is (names and
    addresses keep their case), ending with a full stop."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
