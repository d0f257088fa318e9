"""The settings file (TOML) and the environment, read at the edge into settings objects.

```toml
base_url = "https://papers.example.org"   # where links in mail and feeds point (serve:
site_title = "paperatlas"                 # else http://HOST:PORT, never a request's Host)
allowed_hosts = ["papers.internal"]       # Host names serve answers besides base_url's,
                                          # its --host and localhost ("*.example.org")

[smtp]            # each overridden by PAPERATLAS_SMTP_HOST, _PORT, _USER, _PASSWORD,
host = "smtp.example.org"                 # _SECURITY and PAPERATLAS_MAIL_FROM
port = 587
user = "papers"
password = "..."
security = "starttls"                     # none | starttls | ssl
from = "Papers <papers@example.org>"
timeout = 30                              # seconds to wait for the server (each step)

[digest]
max_papers = 20
min_score = 0.3
min_votes = 10
max_attempts = 5
backoff_seconds = 300

[sources]         # remote sources (paperatlas sync / update)
contact = "me@example.org"                # sent in the User-Agent, OpenAlex mailto and
                                          # PubMed email (PAPERATLAS_CONTACT)
openalex_api_key = "..."                  # PAPERATLAS_OPENALEX_API_KEY
semantic_scholar_api_key = "..."          # PAPERATLAS_SEMANTIC_SCHOLAR_API_KEY
pubmed_api_key = "..."                    # PAPERATLAS_PUBMED_API_KEY (10 requests/s, not 3)
timeout = 60                              # seconds to wait for an answer
retries = 4                               # on 429, 5xx, timeouts (with backoff)
first_days = 1                            # how far back a source without --since starts
pace = 1.0                                # scales every wait between requests (0: none;
                                          # only for mirrors and stand-in servers)

[mail_limits]     # confirmation messages asked for on the web
per_address = 3                           # to one address per address_window
address_window = 86400                    # seconds
per_client = 10                           # asked for by one client per client_window
client_window = 3600
resend_after = 3600                       # a pending one is sent again after this
```
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidOptionError, PaperatlasError
from ..follow.ranking import RankSettings
from ..follow.settings import DigestSettings, MailLimits, MailSettings

if TYPE_CHECKING:
    from ..sources import SourceSettings

_TOP = ("base_url", "site_title", "allowed_hosts", "smtp", "digest", "mail_limits", "sources")
_SOURCES = {"contact": str, "openalex_api_key": str, "semantic_scholar_api_key": str,
            "pubmed_api_key": str, "timeout": float, "retries": int, "first_days": int,
            "pace": float}
_KEYS = {"openalex_api_key": "openalex", "semantic_scholar_api_key": "semantic-scholar",
         "pubmed_api_key": "pubmed"}
_SMTP = {"host": str, "port": int, "user": str, "password": str, "security": str, "from": str,
         "timeout": float}
_DIGEST = {"max_papers": int, "min_score": float, "min_votes": int, "max_attempts": int,
           "backoff_seconds": float}
_LIMITS = {"per_address": int, "address_window": float, "per_client": int,
           "client_window": float, "resend_after": float}
_ENV = {"host": "PAPERATLAS_SMTP_HOST", "port": "PAPERATLAS_SMTP_PORT",
        "user": "PAPERATLAS_SMTP_USER", "password": "PAPERATLAS_SMTP_PASSWORD",
        "security": "PAPERATLAS_SMTP_SECURITY", "from": "PAPERATLAS_MAIL_FROM"}


def read_file(path: str | None) -> dict[str, Any]:
    """The settings file's contents (nothing without a path)."""
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise PaperatlasError(f"settings file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PaperatlasError(f"settings file {path}: not valid TOML ({exc})") from exc
    for key in data:
        if key not in _TOP:
            raise InvalidOptionError(f"setting in {path}", key, _TOP)
    return data


def _typed(table: Mapping[str, Any], types: Mapping[str, type], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in types:
            raise InvalidOptionError(f"setting in [{where}]", key, list(types))
        kind = types[key]
        try:
            out[key] = kind(value) if not isinstance(value, bool) else _bad(key, value)
        except (TypeError, ValueError):
            raise InvalidOptionError(f"[{where}] {key}", value,
                                     [f"a {kind.__name__}"]) from None
    return out


def _bad(key: str, value: object) -> Any:
    raise ValueError(f"{key}: {value!r}")


def load(path: str | None, environ: Mapping[str, str] | None = None
         ) -> tuple[DigestSettings, MailSettings]:
    """Digest and mail settings from the file at ``path`` and the environment (which wins)."""
    env = os.environ if environ is None else environ
    data = read_file(path)
    smtp = _typed(data.get("smtp", {}), _SMTP, "smtp")
    for key, var in _ENV.items():
        if env.get(var, "").strip():
            smtp.update(_typed({key: env[var].strip()}, _SMTP, var))
    mail = MailSettings(**{("sender" if k == "from" else k): v for k, v in smtp.items()})
    digest = _typed(data.get("digest", {}), _DIGEST, "digest")
    rank = {k: digest.pop(k) for k in ("max_papers", "min_score", "min_votes") if k in digest}
    top = _typed({k: v for k, v in data.items() if k in ("base_url", "site_title")},
                 {"base_url": str, "site_title": str}, "top level")
    limits = MailLimits(**_typed(data.get("mail_limits", {}), _LIMITS, "mail_limits"))
    settings = DigestSettings(**top, **digest, limits=limits)
    return replace(settings, rank=RankSettings(**rank)), mail


def sources(path: str | None, environ: Mapping[str, str] | None = None) -> SourceSettings:
    """Settings for remote sources from the file and the environment (which wins)."""
    from ..sources import SourceSettings  # here: the CLI's start loads no client
    from ..sources.http import Politeness

    env = os.environ if environ is None else environ
    table = _typed(read_file(path).get("sources", {}), _SOURCES, "sources")
    for key in ("contact", *_KEYS):
        var = f"PAPERATLAS_{key.upper()}"
        if env.get(var, "").strip():
            table[key] = env[var].strip()
    polite = Politeness(contact=table.get("contact"),
                        read_timeout=table.get("timeout", Politeness.read_timeout),
                        retries=table.get("retries", Politeness.retries),
                        pace=table.get("pace", Politeness.pace))
    keys = {kind: table[key] for key, kind in _KEYS.items() if table.get(key)}
    return SourceSettings(politeness=polite, api_keys=keys,
                          first_days=table.get("first_days", 1))


def for_web(path: str | None, environ: Mapping[str, str] | None = None, *,
            base_url: str | None = None, served_url: str = "http://127.0.0.1:8000"
            ) -> tuple[DigestSettings, MailSettings | None, tuple[str, ...]]:
    """What ``serve`` passes on: digest settings whose links point at ``base_url`` (the
    option), else the file's ``base_url``, else ``served_url`` (the address it listens on;
    never a request's ``Host``); mail settings when SMTP is configured (then confirmations
    are sent right away); and the file's ``allowed_hosts``."""
    env = os.environ if environ is None else environ
    data = read_file(path)
    digest, mail = load(path, env)
    if base_url or "base_url" not in data:
        digest = replace(digest, base_url=base_url or served_url)
    configured = bool(data.get("smtp")) or bool(env.get(_ENV["host"], "").strip())
    hosts = data.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise InvalidOptionError(f"allowed_hosts in {path}", hosts, [
            "a list of host names such as ['papers.example.org']"])
    return digest, (mail if configured else None), tuple(hosts)
