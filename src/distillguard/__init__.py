"""distillguard: detect, throttle, prove and share model-distillation campaigns.

The sub-packages follow the data flow (see docs/concepts.md):

- :mod:`distillguard.events` -- the canonical event record, validated at the edge.
- :mod:`distillguard.ingest` -- streaming readers for provider logs, with quarantine.
- :mod:`distillguard.store` -- the embedded DuckDB store (default) behind a small seam.
- :mod:`distillguard.sim` -- realistic traffic: legitimate personas and campaign tactics.
- :mod:`distillguard.detect` -- signals, features, linking, rules, scores, campaigns.
- :mod:`distillguard.policy`, :mod:`distillguard.gateway` -- inline enforcement.
- :mod:`distillguard.watermark` -- output watermarks and radioactivity audits.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
