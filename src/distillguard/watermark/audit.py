"""Radioactivity audits: does a suspect model carry our watermark?

Two modes (Sander et al., 2024, "Watermarking makes language models radioactive"):

* **closed**: query the suspect (API or local) with probe prompts and test its answers
  for every key in the ring, pooling unique (window, token) tuples across answers.
* **open**: with the suspect's weights, feed it the watermarked text we served and test
  whether its top-1 next-token predictions fall in our green lists more often than gamma,
  scoring each (window, predicted token) tuple once (the k-gram de-duplication filter).
  Optionally also the **soft** score (:mod:`distillguard.watermark.soft`): the suspect's
  probability mass on our green lists, which sees a small shift of the whole distribution
  that the top-1 test misses. It is reported as a second statistic beside the top-1 test.

Every audit also runs a **control**: the same scoring with keys that were never used to
mark anything. Control p-values must look like chance; if they do not, the audit says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from distillguard.watermark import stats
from distillguard.watermark.base import Detection, MultiKeyResult, correct
from distillguard.watermark.keys import KeyRing, MasterSecret
from distillguard.watermark.kgw import KGWDetector, KGWParams
from distillguard.watermark.soft import SoftAudit, WindowMasses, soft_audit
from distillguard.watermark.suspects import Suspect, SuspectError
from distillguard.watermark.tokenizer import HFTokenizer

CONTROL_PREFIX = "cohort:__control-"


@dataclass(frozen=True)
class AuditResult:
    """Everything an evidence report needs.

    Attributes:
        mode: ``closed`` or ``open``.
        suspect: the suspect's name (URL, path or label).
        scheme: scheme and parameters tested.
        tested: per-key results with multiple-testing correction.
        control: the same test with never-used control keys.
        queries: probes sent (closed) or texts fed (open).
        failures: failed queries (closed mode), with reasons.
        partial: some probes failed or were skipped.
        alpha: family-wise level.
        started, finished: UTC timestamps.
        notes: plain-language notes.
        soft: the soft green-mass score (open mode, when the suspect's distributions were
            given); ``detected`` stays the top-1 test's verdict.
    """

    mode: Literal["closed", "open"]
    suspect: str
    scheme: dict[str, Any]
    tested: MultiKeyResult
    control: MultiKeyResult
    queries: int
    failures: tuple[str, ...]
    partial: bool
    alpha: float
    started: str
    finished: str
    notes: tuple[str, ...] = field(default=())
    soft: SoftAudit | None = None

    @property
    def detected(self) -> tuple[str, ...]:
        """Scopes whose watermark was found (Holm-adjusted p below alpha)."""
        return self.tested.matches

    @property
    def control_ok(self) -> bool:
        """No control key was significant."""
        return not self.control.matches

    def control_ks(self) -> float:
        """KS p-value of the control keys' randomised p-values (uniform if calibrated)."""
        rng = np.random.default_rng(0)
        ps = [d.randomized_p(float(rng.random())) for d in self.control.detections]
        return stats.ks_uniform(ps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready evidence (key ids and scopes, never keys)."""
        drop = ("tested", "control", "soft")
        out = {k: v for k, v in asdict(self).items() if k not in drop}
        out["tested"] = self.tested.to_dict()
        out["control"] = self.control.to_dict()
        out["detected"] = list(self.detected)
        out["control_ok"] = self.control_ok
        out["control_ks_p"] = self.control_ks()
        if self.soft is not None:
            out["soft"] = self.soft.to_dict()
        return out


def control_ring(master: MasterSecret, scheme: str, n: int, fingerprint: str = "") -> KeyRing:
    """``n`` keys derived for scopes that never mark anything."""
    return KeyRing.derive(
        master,
        [f"{CONTROL_PREFIX}{i}" for i in range(n)],
        scheme,
        tokenizer_fingerprint=fingerprint,
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _test_keys(
    ring: KeyRing,
    tokenizer: HFTokenizer,
    params: KGWParams,
    score: Any,
    alpha: float,
) -> MultiKeyResult:
    dets: list[Detection] = [score(KGWDetector(k, tokenizer, params)) for k in ring.keys]
    return correct(dets, [k.scope for k in ring.keys], alpha)


def closed_audit(
    suspect: Suspect,
    probes: Sequence[str],
    ring: KeyRing,
    controls: KeyRing,
    tokenizer: HFTokenizer,
    params: KGWParams | None = None,
    *,
    alpha: float = 1e-3,
    max_consecutive_failures: int = 5,
) -> AuditResult:
    """Query ``suspect`` with ``probes`` and test its answers for every key.

    Failed queries are recorded and skipped; after ``max_consecutive_failures`` failures in a
    row the audit stops early. Either way the result is labelled partial.
    """
    params = params or KGWParams()
    started = _now()
    answers: list[str] = []
    used: list[str] = []
    failures: list[str] = []
    streak = 0
    stopped = False
    for i, probe in enumerate(probes):
        try:
            answers.append(suspect.complete(probe))
            used.append(probe)
            streak = 0
        except SuspectError as exc:
            failures.append(f"probe {i}: {exc}")
            streak += 1
            if streak >= max_consecutive_failures:
                stopped = True
                break
    partial = bool(failures)
    note = ""
    if partial:
        note = f"partial: {len(failures)} of {len(probes)} probes failed" + (
            f"; stopped after {max_consecutive_failures} failures in a row" if stopped else ""
        )

    def score(det: KGWDetector) -> Detection:
        return det.detect_corpus(answers, prompts=used, partial=partial, note=note)

    return AuditResult(
        mode="closed",
        suspect=suspect.name,
        scheme={"name": "kgw", **asdict(params)},
        tested=_test_keys(ring, tokenizer, params, score, alpha),
        control=_test_keys(controls, tokenizer, params, score, alpha),
        queries=len(answers),
        failures=tuple(failures),
        partial=partial,
        alpha=alpha,
        started=started,
        finished=_now(),
        notes=(note,) if note else (),
    )


def open_audit(
    suspect_name: str,
    texts: Sequence[NDArray[np.int64]],
    predictions: Sequence[NDArray[np.int64]],
    ring: KeyRing,
    controls: KeyRing,
    tokenizer: HFTokenizer,
    params: KGWParams | None = None,
    *,
    alpha: float = 1e-3,
    masses: WindowMasses | None = None,
) -> AuditResult:
    """Test a suspect's top-1 predictions on our watermarked ``texts`` (token ids).

    ``predictions[i][j]`` is the suspect's prediction for ``texts[i][j + 1]``; compute them
    with :func:`distillguard.watermark.models.next_token_argmax`. ``masses`` (from
    :class:`distillguard.watermark.soft.WindowMassAccumulator` fed with
    :func:`distillguard.watermark.models.next_token_probs`) adds the soft score.
    """
    params = params or KGWParams()
    started = _now()
    tx = [np.asarray(t, dtype=np.int64) for t in texts]
    pr = [np.asarray(p, dtype=np.int64) for p in predictions]

    def score(det: KGWDetector) -> Detection:
        return det.detect_predictions(tx, pr)

    return AuditResult(
        mode="open",
        suspect=suspect_name,
        scheme={"name": "kgw", **asdict(params)},
        tested=_test_keys(ring, tokenizer, params, score, alpha),
        control=_test_keys(controls, tokenizer, params, score, alpha),
        queries=len(tx),
        failures=(),
        partial=False,
        alpha=alpha,
        started=started,
        finished=_now(),
        soft=None if masses is None else soft_audit(masses, ring, controls, params, alpha=alpha),
    )
