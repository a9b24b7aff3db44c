"""Detection: signals, account features, linking, rules, scores and campaigns.

Kept light on purpose: importing :mod:`distillguard.detect` imports nothing heavy. Use
:func:`distillguard.detect.scan.run_scan` for the whole pipeline and
:func:`distillguard.detect.evaluate.evaluate` to measure it against labels.
"""

from __future__ import annotations

__all__: list[str] = []
