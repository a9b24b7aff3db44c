"""Detection rules shipped with distillguard (one YAML file per rule, beside this module).

The engine lives in :mod:`distillguard.detect.ruleset`; this package only holds the data.
"""

from __future__ import annotations

from pathlib import Path

#: Folder of the built-in rule files.
BUILTIN_RULES_DIR: Path = Path(__file__).resolve().parent
