"""How digests are made and sent: passed in by the edges (the CLI reads them from the
settings file and the environment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InvalidOptionError
from .ranking import RankSettings

#: How the SMTP connection is secured.
SECURITY: tuple[str, ...] = ("none", "starttls", "ssl")
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
#: The longest window a mail cap counts in (throttle events are kept 7 days).
MAX_WINDOW = 7 * 86400


@dataclass(frozen=True)
class MailSettings:
    """The SMTP server digests go through, and the sender they come from."""

    host: str = "localhost"
    port: int = 0  # 0: the usual port of the security (25, 587 or 465)
    user: str = ""  # log in when set
    password: str = ""
    security: str = "none"
    sender: str = "paperatlas <paperatlas@localhost>"
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY:
            raise InvalidOptionError("SMTP security", self.security, SECURITY)
        if not 0 <= self.port <= 65535:
            raise InvalidOptionError("SMTP port", self.port, ["0 (the default)", "1-65535"])
        if not 0 < self.timeout <= 3600:
            raise InvalidOptionError("SMTP timeout", self.timeout,
                                     ["more than 0 and at most 3600 seconds"])
        if "\n" in self.sender or "\r" in self.sender or "@" not in self.sender:
            raise InvalidOptionError("mail sender (from)", self.sender,
                                     ["an address such as 'Papers <papers@example.org>'"])

    @property
    def smtp_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.security]


@dataclass(frozen=True)
class MailLimits:
    """How many confirmation messages may be asked for: to one address, by one client
    (an IP address, an IPv6 /64), and how soon a request for a subscription whose
    confirmation is still pending sends it again (until then it sends nothing)."""

    per_address: int = 3
    address_window: float = 86400.0  # seconds
    per_client: int = 10
    client_window: float = 3600.0
    resend_after: float = 3600.0

    def __post_init__(self) -> None:
        for name in ("per_address", "per_client"):
            if getattr(self, name) < 1:
                raise InvalidOptionError(name, getattr(self, name), ["1 or more"])
        for name in ("address_window", "client_window"):
            if not 0 < getattr(self, name) <= MAX_WINDOW:
                raise InvalidOptionError(name, getattr(self, name),
                                         [f"1 to {MAX_WINDOW} seconds (7 days)"])
        if not self.resend_after >= 0:
            raise InvalidOptionError("resend_after", self.resend_after, ["0 or more seconds"])


@dataclass(frozen=True)
class DigestSettings:
    """Links, limits and retries of digests."""

    base_url: str = "http://127.0.0.1:8000"  # where the links in messages point
    site_title: str = "paperatlas"
    rank: RankSettings = field(default_factory=RankSettings)
    max_attempts: int = 5  # SMTP attempts before a message is marked failed
    backoff_seconds: float = 300.0  # wait before the first retry; doubles every time
    limits: MailLimits = field(default_factory=MailLimits)  # of confirmations (web requests)

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise InvalidOptionError("base_url", self.base_url,
                                     ["an http:// or https:// URL such as https://papers.example.org"])
        if self.max_attempts < 1:
            raise InvalidOptionError("max_attempts", self.max_attempts, ["1 or more"])
        if self.backoff_seconds < 0:
            raise InvalidOptionError("backoff_seconds", self.backoff_seconds, ["0 or more"])
