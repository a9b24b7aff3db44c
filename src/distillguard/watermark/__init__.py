"""Keyed output watermarks, detectors with exact p-values, radioactivity audits, canaries.

Light modules (no torch) are re-exported here; logit-level embedders live in
:mod:`distillguard.watermark.processors` and :mod:`distillguard.watermark.synthid`, model
loading in :mod:`distillguard.watermark.models`, audits in :mod:`distillguard.watermark.audit`.
"""

from __future__ import annotations

from distillguard.watermark.base import Detection, MultiKeyResult, TokenDetector, correct
from distillguard.watermark.keys import KeyRing, MasterSecret, WatermarkKey
from distillguard.watermark.kgw import KGWDetector, KGWParams, UnigramDetector
from distillguard.watermark.lexical import LexicalWatermark, SynonymTable
from distillguard.watermark.transform import WatermarkTransform

__all__ = [
    "Detection",
    "KGWDetector",
    "KGWParams",
    "KeyRing",
    "LexicalWatermark",
    "MasterSecret",
    "MultiKeyResult",
    "SynonymTable",
    "TokenDetector",
    "UnigramDetector",
    "WatermarkKey",
    "WatermarkTransform",
    "correct",
]
