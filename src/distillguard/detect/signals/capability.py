"""Capability-sweep content: agentic coding and tool use.

Campaigns sweep the capabilities that make a model valuable — multi-step agentic coding,
tool and function calling, structured outputs — with templated tasks. The prompt text alone
is weak evidence (developers send the same kind of prompts), so the text score is combined
with the request's tool schemas: a request that carries tool definitions scores at least
``TOOL_FLOOR``. Known false positives: every legitimate coding assistant; the signal is meant
to be aggregated per account (share of traffic, diversity of tasks), never used alone.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from distillguard.detect.signals.base import F32, LearnedSignal
from distillguard.detect.signals.text import TokenBatch


class CapabilitySweepSignal(LearnedSignal):
    """Agentic coding / tool-use content (ATLAS AML.T0024.002, AML.T0040)."""

    name: ClassVar[str] = "capability_sweep"
    family: ClassVar[str] = "capability sweep (agentic coding, tool use)"
    atlas: ClassVar[tuple[str, ...]] = ("AML.T0024.002", "AML.T0040")
    description: ClassVar[str] = (
        "agentic coding tasks, tool or function calling, or tool schemas sent with the request"
    )
    TOOL_FLOOR: ClassVar[float] = 0.6
    CUES: ClassVar[tuple[str, ...]] = (
        "function",
        "tool",
        "tools",
        "tool call",
        "function call",
        "call the",
        "parameters",
        "arguments",
        "json schema",
        "api",
        "python",
        "code",
        "implement",
        "refactor",
        "debug",
        "unit tests",
        "repository",
        "repo",
        "terminal",
        "shell",
        "bash",
        "command",
        "file",
        "agent",
        "you are an agent",
        "you have access to",
        "available tools",
        "the following tools",
        "observation",
        "action",
        "action input",
        "thought",
        "bug",
        "stack trace",
        "pull request",
        "git",
        "def",
        "class",
        "return",
        "sql",
        "patch",
        "diff",
        "unified diff",
        "failing test",
        "test suite",
        "tests pass",
        "the tests",
        "codebase",
        "workspace",
        "sandbox",
        "shell access",
        "one tool",
        "execute",
        "commit",
        "linter",
        "issue",
        "resolve",
        "reproduce",
        "regression",
        "migration",
        "src",
        "container",
        "repositorio",
        "outils",
        "ferramentas",
        "herramientas",
        "tool use",
        "function calling",
    )

    def adjust(self, batch: TokenBatch, p: F32) -> F32:
        """Requests that carry tool schemas score at least ``TOOL_FLOOR``."""
        has_tools = batch.tool_count > 0
        if has_tools.any():
            p = p.copy()
            p[has_tools] = np.maximum(p[has_tools], self.TOOL_FLOOR)
        return p
