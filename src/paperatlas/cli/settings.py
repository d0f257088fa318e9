"""The settings file (TOML) and the environment, read at the edge into settings objects.

```toml
base_url = "https://papers.example.org"   # where links in messages point
site_title = "paperatlas"

[smtp]            # each overridden by PAPERATLAS_SMTP_HOST, _PORT, _USER, _PASSWORD,
host = "smtp.example.org"                 # _SECURITY and PAPERATLAS_MAIL_FROM
port = 587
user = "papers"
password = "..."
security = "starttls"                     # none | starttls | ssl
from = "Papers <papers@example.org>"

[digest]
max_papers = 20
min_score = 0.3
min_votes = 10
max_attempts = 5
backoff_seconds = 300
```
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import InvalidOptionError, PaperatlasError
from ..follow.ranking import RankSettings
from ..follow.settings import DigestSettings, MailSettings

_TOP = ("base_url", "site_title", "smtp", "digest")
_SMTP = {"host": str, "port": int, "user": str, "password": str, "security": str, "from": str}
_DIGEST = {"max_papers": int, "min_score": float, "min_votes": int, "max_attempts": int,
           "backoff_seconds": float}
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
    settings = DigestSettings(**top, **digest)
    return replace(settings, rank=RankSettings(**rank)), mail


def for_web(path: str | None, environ: Mapping[str, str] | None = None
            ) -> tuple[DigestSettings | None, MailSettings | None]:
    """What ``serve`` passes on: digest settings when the file sets ``base_url`` (else links
    point at the server as it is reached), mail settings when SMTP is configured (then
    confirmations are sent right away)."""
    env = os.environ if environ is None else environ
    data = read_file(path)
    digest, mail = load(path, env)
    configured = bool(data.get("smtp")) or bool(env.get(_ENV["host"], "").strip())
    return (digest if "base_url" in data else None), (mail if configured else None)
