"""Open sign-up: anyone may ask for an account, which exists once its address confirms it.

Off unless the server allows it (``serve --open-signup``). Signing up checks the name (free
among users and among sign-ups still waiting: one that expired may be taken over), the
address and the password, keeps a pending row in ``signups`` (the argon2 hash of the
password, never the password) and queues a confirmation message in the outbox, owned by
the sign-up (``outbox.signup_id``), so the digest sender delivers it like a subscription's
confirmation and cancels it unsent once the sign-up is gone.

The link. ``/signup/confirm?token=ID.SECRET``: the sign-up's id and 24 random bytes
(URL-safe base64), of which the library keeps only the SHA-256; it works until the
sign-up's ``expires_at`` (:attr:`SignupLimits.lifetime_s`). Confirming creates the user,
with the password hash that was signed up with, and deletes the sign-up, in one
transaction; the same link again finds no sign-up (ids are never reused) and says it was
used. A random secret rather than a signed token (``follow/tokens.py``), because the row
must exist anyway to hold the password hash, and deleting it is what makes a link work
once.

Throttling, counted in ``throttle_events`` (so it holds across server processes): sign-up
attempts per client address (``signup:client:ADDRESS``, refused or not, except those
refused for the limit itself), and confirmation messages per mailbox (``mail:to:HASH``,
the key subscription confirmations count under too, so both together keep to one cap).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import quote

from .accounts import AccountService, check_name, check_password
from .errors import ConflictError, InvalidOptionError
from .follow.settings import DigestSettings, MailLimits
from .follow.subscriptions import address_hash, check_email
from .follow.tokens import LinkError
from .records.people import User
from .records.signups import PendingSignup
from .store import Store
from .urls import Urls

#: A link token's shape: a sign-up id SQLite can hold, a dot, the URL-safe base64 secret.
_TOKEN = re.compile(r"([1-9][0-9]{0,17})\.([0-9A-Za-z_-]{16,64})")
#: Expired sign-ups are kept this long (their link still says "expired"), then pruned.
KEEP_EXPIRED_S = 7 * 86400


@dataclass(frozen=True)
class SignupLimits:
    """How long a confirmation link works, and how many sign-ups and confirmation mails
    are taken; over a cap, :class:`~paperatlas.errors.TooManyRequestsError` (429)."""

    lifetime_s: float = 86400.0  # a sign-up (and its link) expires after this
    per_client: int = 10  # sign-up attempts from one client address per client_window_s
    client_window_s: float = 3600.0
    per_address: int = 3  # confirmation mails to one mailbox per address_window_s
    address_window_s: float = 86400.0

    def __post_init__(self) -> None:
        if self.lifetime_s <= 0:
            raise InvalidOptionError("sign-up lifetime", self.lifetime_s, ["1 or more seconds"])

    @classmethod
    def from_mail(cls, limits: MailLimits) -> SignupLimits:
        """The caps of subscription confirmations, for sign-up confirmations too."""
        return cls(per_address=limits.per_address, address_window_s=limits.address_window)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SignupService:
    """The open sign-ups of one library (``lib.signups``); times come from the account
    service's clock, which its throttling counts with too."""

    def __init__(self, store: Store, accounts: AccountService) -> None:
        self.store = store
        self.accounts = accounts

    def signup(self, name: str, email: str, password: str, settings: DigestSettings,
               sender: str, *, client: str | None = None,
               limits: SignupLimits | None = None) -> PendingSignup:
        """A pending sign-up, its confirmation message queued in the outbox (sent by the
        next ``digest send``: the web sends it right away when it has mail settings).

        :class:`InvalidOptionError` for a bad name, address or password,
        :class:`ConflictError` when the name is a user's or waits for a confirmation,
        :class:`TooManyRequestsError` past a cap of ``limits``."""
        limits = limits or SignupLimits()
        if client:
            key = f"signup:client:{client}"
            self.accounts.refuse_if_over(key, limits.per_client, limits.client_window_s,
                                         "too many sign-ups from your address")
            self.accounts.record_events([key])
        name = name.strip()
        check_name(name)
        address = check_email(email)
        check_password(password)
        self._require_free(name, self.accounts.clock())
        digest = self.accounts.hasher.hash(password)  # slow: outside the transaction
        secret = secrets.token_urlsafe(24)
        mail_key = f"mail:to:{address_hash(address)}"
        with self.store.transaction():
            now = self.accounts.clock()
            old = self._require_free(name, now)
            self.accounts.refuse_if_over(mail_key, limits.per_address, limits.address_window_s,
                                         "too many confirmation messages were sent to this"
                                         " address")
            self.store.signups.prune(_iso(now - KEEP_EXPIRED_S))
            if old is not None:  # expired: the name is free again
                self.store.signups.remove(old.id)
            signup_id = self.store.signups.add(name, address, digest, _sha(secret), _iso(now),
                                               _iso(now + limits.lifetime_s))
            pending = self.store.signups.get(signup_id)
            assert pending is not None
            message_id, subject, message = confirmation(
                settings, sender, pending, f"{signup_id}.{secret}")
            self.store.outbox.add_for_signup(signup_id, message_id, address, subject,
                                             message, _iso(now))
            self.store.throttle.record(mail_key, now)
        return pending

    def _require_free(self, name: str, now: float) -> PendingSignup | None:
        """:class:`ConflictError` unless ``name`` is free; the expired sign-up holding it,
        if one does."""
        if self.store.users.get(name) is not None:
            raise ConflictError(f"a user named {name!r} already exists: pick another name")
        old = self.store.signups.named(name)
        if old is not None and old.expires_at > _iso(now):
            raise ConflictError(f"the name {name!r} was just signed up for and waits for "
                                "its confirmation: pick another name (or follow the link "
                                "that was mailed then)")
        return old

    def pending(self, token: str) -> PendingSignup:
        """The sign-up a confirmation link names (reads only); :class:`LinkError` when the
        link is malformed, forged, used or expired."""
        with self.store.snapshot():
            return self._read(token)[0]

    def confirm(self, token: str) -> User:
        """Create the user a confirmation link names and delete its sign-up, in one
        transaction; :class:`LinkError` as :meth:`pending`, :class:`ConflictError` when
        a user of that name was made meanwhile (``users add``)."""
        with self.store.transaction():
            pending, password_hash = self._read(token)
            if self.store.users.get(pending.name) is not None:
                raise ConflictError(f"a user named {pending.name!r} was made since you signed "
                                    "up: sign up again under another name")
            self.store.users.add(pending.name, password_hash, _iso(self.accounts.clock()))
            self.store.signups.remove(pending.id)
        return self.accounts.get(pending.name)

    def all(self) -> list[PendingSignup]:
        """Every sign-up still kept (waiting, or expired lately), oldest first."""
        return self.store.signups.all()

    def _read(self, token: str) -> tuple[PendingSignup, str]:
        """The sign-up a link names and its password hash (checked: exists, the secret's
        hash matches, not expired)."""
        found = _TOKEN.fullmatch(token.strip())
        if found is None:
            raise LinkError("this sign-up link is not valid (it may have been cut short: "
                            "copy the whole link from the email)")
        signup_id = int(found[1])
        pending = self.store.signups.get(signup_id)
        hashes = self.store.signups.hashes(signup_id)
        if pending is None or hashes is None:
            raise LinkError("this sign-up link was already used (or its sign-up was "
                            "replaced): sign in, or sign up again")
        if not hmac.compare_digest(hashes[1], _sha(found[2])):
            raise LinkError("this sign-up link is not valid (it was not made by this library)")
        if pending.expires_at <= _iso(self.accounts.clock()):
            raise LinkError("this sign-up link has expired: sign up again")
        return pending, hashes[0]


def confirmation(settings: DigestSettings, sender: str, pending: PendingSignup,
                 token: str) -> tuple[str, str, bytes]:
    """``(Message-ID, subject, message)`` asking ``pending``'s address to confirm it."""
    link = Urls(settings.base_url).url("/signup/confirm?token=" + quote(token, safe=""))
    site = settings.site_title
    subject = f"Confirm your account · {site}"
    until = pending.expires_at.replace("T", " ").replace("Z", " UTC")
    text = "\n\n".join([
        f"Hello {pending.name},",
        textwrap.fill(f"someone, we hope you, signed up with this address for an account "
                      f"named {pending.name} on {site} ({Urls(settings.base_url).home()}). "
                      f"To create it, open this link and press the button there (the link "
                      f"works until {until}):", 72),
        link,
        textwrap.fill("If you did not sign up, ignore this message: no account is made "
                      "without it.", 72)]) + "\n"
    domain = parseaddr(sender)[1].rpartition("@")[2] or "paperatlas.local"
    domain = "".join(c for c in domain if c.isalnum() or c in ".-") or "paperatlas.local"
    message_id = make_msgid(idstring=f"signup.{pending.id}", domain=domain)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = pending.email
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    return message_id, subject, msg.as_bytes()
