"""The chat model options of the commands that can write with one (``ask``; ``review``
may share them): ``--llm-url``, ``--llm-model``, ``--llm-key``, ``--llm-timeout`` and
``--no-llm``. The environment (``PAPERATLAS_LLM_URL``, ``PAPERATLAS_LLM_MODEL``,
``PAPERATLAS_LLM_KEY``) is read here, at the edge, and the core gets an
:class:`~paperatlas.chat.LLMSettings`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..chat import TIMEOUT, LLMSettings

F = TypeVar("F", bound=Callable[..., Any])


def llm_options(fn: F) -> F:
    """Add the options; the command takes ``llm_url, llm_model, llm_key, llm_timeout,
    no_llm`` and passes them to :func:`llm_settings`."""
    options = [
        click.option("--llm-url", envvar="PAPERATLAS_LLM_URL", metavar="URL",
                     help="OpenAI-compatible endpoint that writes the answer from the "
                          "evidence, e.g. http://localhost:8080/v1 (env: PAPERATLAS_LLM_URL)."),
        click.option("--llm-model", envvar="PAPERATLAS_LLM_MODEL", metavar="NAME",
                     help="Model name at that endpoint (env: PAPERATLAS_LLM_MODEL)."),
        click.option("--llm-key", envvar="PAPERATLAS_LLM_KEY", metavar="KEY",
                     help="API key, sent as a bearer token (env: PAPERATLAS_LLM_KEY)."),
        click.option("--llm-timeout", type=click.FloatRange(min=0, min_open=True),
                     default=TIMEOUT, show_default=True,
                     help="Seconds the endpoint may stay silent before the call fails."),
        click.option("--no-llm", is_flag=True,
                     help="Answer without a model even when PAPERATLAS_LLM_URL is set."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def llm_settings(url: str | None, model: str | None, key: str | None, timeout: float,
                 no_llm: bool) -> LLMSettings | None:
    """The settings the options give (``None``: no model); a URL without a model or a
    model without a URL is a usage error."""
    if no_llm or (not url and not model):
        return None
    if not url or not model:
        missing = "--llm-model (or PAPERATLAS_LLM_MODEL)" if url else \
            "--llm-url (or PAPERATLAS_LLM_URL)"
        raise click.UsageError(f"a chat model needs both an endpoint and a model name: give "
                               f"{missing}, or --no-llm")
    return LLMSettings(url, model, key or None, timeout)
