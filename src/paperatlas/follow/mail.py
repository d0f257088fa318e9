"""Email: render digests and confirmations (Jinja2, HTML and plain text), and send them.

Every message carries a unique ``Message-ID`` (kept with it in the outbox, so a resend
is recognisably the same message), a one-click unsubscribe link in both parts, and the
``List-Unsubscribe`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` headers of
RFC 2369 and RFC 8058.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from ..errors import PaperatlasError, UpstreamError
from ..records.follow import Digest, Subscription
from ..urls import Urls
from .settings import DigestSettings, MailSettings


class TransportError(UpstreamError):
    """The SMTP server cannot be reached or refuses the connection or login."""


class MessageError(UpstreamError):
    """The SMTP server refused one message (sender, recipient or content)."""


def _env(urls: Urls) -> Any:
    try:
        import jinja2
    except ImportError as exc:
        raise PaperatlasError("email digests need jinja2: pip install 'paperatlas[web]'") from exc
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("paperatlas.follow", "templates"),
        autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["paper_url"] = urls.paper  # absolute: the same URL as the paper's page
    return env


class Renderer:
    """Turns digests and confirmations into complete RFC 5322 messages (bytes)."""

    def __init__(self, settings: DigestSettings, sender: str) -> None:
        self.settings = settings
        self.sender = sender
        self.urls = Urls(settings.base_url)
        self.env = _env(self.urls)
        domain = parseaddr(sender)[1].rpartition("@")[2] or "paperatlas.local"
        self.domain = "".join(c for c in domain if c.isalnum() or c in ".-") or "paperatlas.local"

    def digest(self, digest: Digest, unsubscribe_token: str) -> tuple[str, str, bytes]:
        """``(Message-ID, subject, message)`` of a digest."""
        n = len(digest.picks)
        subject = f"{n} new paper{'s' if n != 1 else ''} for you · {self.settings.site_title}"
        context = {"digest": digest, "subscription": digest.subscription, "subject": subject}
        return self._message("digest", digest.subscription, subject, context, unsubscribe_token)

    def confirmation(self, subscription: Subscription, confirm_token: str,
                     unsubscribe_token: str) -> tuple[str, str, bytes]:
        """``(Message-ID, subject, message)`` asking to confirm a subscription."""
        subject = f"Confirm your subscription · {self.settings.site_title}"
        context = {"subscription": subscription, "subject": subject,
                   "confirm_url": self.urls.confirm(confirm_token)}
        return self._message("confirm", subscription, subject, context, unsubscribe_token)

    def _message(self, kind: str, sub: Subscription, subject: str, context: dict[str, Any],
                 unsubscribe_token: str) -> tuple[str, str, bytes]:
        unsubscribe = self.urls.unsubscribe(unsubscribe_token)
        context = {**context, "unsubscribe_url": unsubscribe, "site_title":
                   self.settings.site_title, "base_url": self.urls.base,
                   "manage_url": self.urls.subscriptions()}
        text = self.env.get_template(f"{kind}.txt").render(context)
        html = self.env.get_template(f"{kind}.html").render(context)
        message_id = make_msgid(idstring=f"{kind}.{sub.id}", domain=self.domain)
        msg = EmailMessage(policy=SMTP)
        msg["From"] = self.sender
        msg["To"] = sub.email or ""
        msg["Subject"] = subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = message_id
        msg["List-Id"] = f"{self.settings.site_title} digests <digest.{self.domain}>"
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return message_id, subject, msg.as_bytes()


class SmtpTransport:
    """One SMTP connection, opened on the first message and reused for the next ones."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.envelope_from = parseaddr(settings.sender)[1]
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            conn: smtplib.SMTP
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(s.host, s.smtp_port, timeout=s.timeout,
                                        context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(s.host, s.smtp_port, timeout=s.timeout)
                if s.security == "starttls":
                    conn.starttls(context=ssl.create_default_context())
            if s.user:
                conn.login(s.user, s.password)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"SMTP server {s.host}:{s.smtp_port}: {exc}") from exc
        return conn

    def send(self, recipient: str, message: bytes) -> None:
        """Hand one message to the server; returns once it accepted it."""
        if self._conn is None:
            self._conn = self._connect()
        try:
            self._conn.sendmail(self.envelope_from, [recipient], message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                smtplib.SMTPDataError) as exc:
            self.close()
            raise MessageError(f"refused: {_describe(exc)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransportError(f"SMTP server {self.settings.host}: {exc}") from exc

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()


def _describe(exc: smtplib.SMTPException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt}: {code} {_text(msg)}"
                         for rcpt, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
