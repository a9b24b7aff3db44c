"""Exceptions raised by distillguard.

The hierarchy::

    DistillguardError
    ├── ConfigError               bad configuration file, key or environment variable
    ├── InputError                input that cannot be used at all (missing file, directory,
    │   │                         unknown format); per-record problems are not raised but
    │   │                         quarantined (see distillguard.ingest)
    │   └── RecordError           one record is invalid; carries source, line and field
    ├── StoreError                the store failed (DuckDB error translated at the boundary)
    ├── DetectionError            the detection pipeline cannot run on this input
    ├── RuleError                 a detection rule file is invalid; carries file:line
    ├── GatewayError              the gateway cannot start or reach a dependency
    └── WatermarkError            a watermark operation cannot be performed

Errors from dependencies (DuckDB, msgspec, redis, ...) are translated at the boundary into
these, so that callers never need to import a dependency to catch an error.
"""

from __future__ import annotations


class DistillguardError(Exception):
    """Base class of every error raised on purpose by distillguard."""


class ConfigError(DistillguardError):
    """A configuration file, key or environment variable is invalid."""


class InputError(DistillguardError):
    """An input cannot be used at all (missing, a directory, unknown format, unreadable)."""


class RecordError(InputError):
    """One record is invalid.

    Attributes:
        source: the file (or stream name) the record came from.
        line: 1-based line number (or record index for non-line formats); 0 if unknown.
        field: dotted path of the offending field, or "" when the whole record is bad.
        reason: human-readable reason.
    """

    def __init__(self, reason: str, *, source: str = "", line: int = 0, field: str = "") -> None:
        self.source = source
        self.line = line
        self.field = field
        self.reason = reason
        super().__init__(self.location() + reason)

    def location(self) -> str:
        """Return ``"file:line: field: "`` for the parts that are known."""
        parts = ""
        if self.source:
            parts += f"{self.source}:{self.line}: " if self.line else f"{self.source}: "
        if self.field:
            parts += f"field {self.field!r}: "
        return parts


class StoreError(DistillguardError):
    """The store failed; the underlying error is chained."""


class DetectionError(DistillguardError):
    """The detection pipeline cannot run on this input."""


class RuleError(DistillguardError):
    """A detection rule file is invalid.

    Attributes:
        path: the rule file.
        line: 1-based line of the problem, 0 if unknown.
    """

    def __init__(self, reason: str, *, path: str = "", line: int = 0) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(where + reason)


class GatewayError(DistillguardError):
    """The gateway cannot start or reach a dependency it is configured to require."""


class WatermarkError(DistillguardError):
    """A watermark operation cannot be performed (bad key, tokenizer mismatch, too little text)."""
