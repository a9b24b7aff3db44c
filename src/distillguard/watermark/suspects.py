"""How an audit talks to a suspect model: one small seam, a real client and a fake.

:class:`Suspect` has one method, ``complete(prompt) -> str``. :class:`OpenAICompatibleSuspect`
queries any OpenAI-compatible ``/v1/chat/completions`` endpoint (no streaming); network
errors, timeouts and non-2xx answers are translated into :class:`SuspectError`, which the
audit records and survives (its result is then labelled partial).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import httpx

from distillguard.errors import WatermarkError


class SuspectError(WatermarkError):
    """One query to the suspect failed (timeout, connection error, bad status, bad body)."""


class Suspect(Protocol):
    """A model under audit, queried by text."""

    name: str

    def complete(self, prompt: str) -> str:
        """Return the suspect's answer to ``prompt``; raise :class:`SuspectError` on failure."""
        ...


class OpenAICompatibleSuspect:
    """A suspect behind an OpenAI-compatible chat completions API.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        model: model name sent in the request.
        api_key: bearer token, if the endpoint needs one (never logged).
        timeout: seconds per request.
        max_tokens: answer length asked for.
        transport: an ``httpx`` transport (tests may pass ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "",
        timeout: float = 30.0,
        max_tokens: int = 200,
        temperature: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = f"{model} at {base_url}"
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=headers, transport=transport
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def complete(self, prompt: str) -> str:
        """POST one chat completion and return the first choice's content."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        try:
            r = self._client.post("/chat/completions", json=body)
        except httpx.TimeoutException:
            raise SuspectError(f"{self.name}: request timed out") from None
        except httpx.HTTPError as exc:
            raise SuspectError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        if r.status_code >= 400:
            raise SuspectError(f"{self.name}: HTTP {r.status_code}: {r.text[:200]}")
        try:
            data: Any = r.json()
            return str(data["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise SuspectError(f"{self.name}: response is not a chat completion") from None


class FunctionSuspect:
    """A suspect backed by a Python function (a local model, or a fake in tests)."""

    def __init__(self, name: str, fn: Callable[[str], str]) -> None:
        self.name = name
        self._fn = fn

    def complete(self, prompt: str) -> str:
        """Call the function."""
        return self._fn(prompt)
