"""Jailbreak attempts: role-play and instruction overrides that disable safeguards.

Campaigns mix jailbreaks into harvesting to get answers the model would refuse, and
prompt-injection style overrides ("ignore all previous instructions", "you are now DAN",
"developer mode enabled", "%%% end of instructions %%%"). Known false positives: security
researchers and writers quoting jailbreaks, role-play requests without an override.
"""

from __future__ import annotations

from typing import ClassVar

from distillguard.detect.signals.base import LearnedSignal


class JailbreakSignal(LearnedSignal):
    """Jailbreak or instruction override (ATLAS AML.T0054, AML.T0051.000)."""

    name: ClassVar[str] = "jailbreak"
    family: ClassVar[str] = "jailbreak attempt"
    atlas: ClassVar[tuple[str, ...]] = ("AML.T0054", "AML.T0051.000")
    description: ClassVar[str] = (
        "role-play or override that tells the model to ignore its rules or instructions"
    )
    CUES: ClassVar[tuple[str, ...]] = (
        "ignore",
        "ignore all",
        "ignore previous",
        "ignore the above",
        "disregard",
        "forget",
        "previous instructions",
        "prior instructions",
        "new instructions",
        "override",
        "developer mode",
        "dan",
        "do anything now",
        "jailbreak",
        "jailbroken",
        "no restrictions",
        "without restrictions",
        "unfiltered",
        "uncensored",
        "no rules",
        "no limits",
        "pretend",
        "pretend you",
        "you are now",
        "from now on",
        "roleplay",
        "role play",
        "stay in character",
        "hypothetically",
        "fictional",
        "system upgrade",
        "the situation has changed",
        "end of instructions",
        "access granted",
        "say access granted",
        "you must",
        "opposite",
        "evil",
        "unlocked",
        "content policy",
        "never refuse",
        "unrestricted",
        "guidelines",
        "safety",
        "safety is off",
        "disclaimers",
        "without warnings",
        "no moral",
        "limits",
        "break character",
        "never break character",
        "filter",
        "authorised",
        "authorized",
        "rules",
        "its rules",
        "without refusing",
        "refuse",
        "imagine",
        "character",
        "in a world where",
        "twin",
        "grandmother",
        "sudo",
        "red-team",
        "ignora",
        "ignoriere",
        "oublie",
        "instrucciones",
        "instruções",
        "anweisungen",
        "restricciones",
        "einschränkungen",
        "sans aucune",
        "sin restricciones",
    )
