"""Soft open-mode radioactivity score: the suspect's probability mass on our green lists.

The top-1 open-mode test (:meth:`KGWDetector.detect_predictions`) asks whether the suspect's
*argmax* is green more often than gamma. A student that learned our watermark only a little
shifts its whole next-token distribution slightly towards green tokens without changing many
argmaxes; this module measures that shift directly.

Statistic. For each unique window ``w`` (the ``h`` tokens before a position) of the text we
served, ``a_w`` is the suspect's next-token distribution averaged over the positions where
``w`` is scored, and

    T = sum_w sum_v a_w[v] * (G_w[v] - gamma)

where ``G_w[v]`` is 1 when ``(w, v)`` is green under the key. Our green lists are defined
pointwise by a keyed hash (:mod:`distillguard.watermark.hashing`), so for a key independent
of the ``a``'s the ``G_w[v]`` are independent Bernoulli(gamma) bits, one per (window, token)
pair (a per-token Bernoulli model, not a fixed-size list), and windows with distinct
contexts have independent lists. Then ``E[T] = 0`` and
``Var[T] = gamma * (1 - gamma) * sum a_w[v]**2``.

p-value. Each term ``a * (G - gamma)`` is a two-point variable, so its moment generating
function is exact; the p-value is the Chernoff bound
``inf_{lam >= 0} exp(sum psi(lam, a) - lam * T)`` with
``psi(lam, a) = log(1 - gamma + gamma * exp(lam * a)) - lam * gamma * a``. It is rigorous
(``P(p <= alpha) <= alpha``) and at least as tight as Bernstein's and Hoeffding's bounds.
For speed the ``a``'s enter ``psi`` rounded *up* to a 1 %-spaced grid; ``psi`` increases in
``a`` for ``lam >= 0``, so the rounding only makes the bound more conservative. The normal
approximation ``1 - Phi(T / sd)`` is reported beside it for information only.

Validity filters (what keeps the Bernoulli model true for the text we served, which was
itself generated with the key):

* prompt windows are excluded: only positions whose token we generated are scored;
* a position is used only if its window did not occur at an earlier generated position of
  the same text. The token after an earlier occurrence was sampled with that window's green
  list, so a clean suspect that copies from its context would put mass on green tokens
  (the analogue of the top-1 test's copy filter, stricter: it drops the whole position);
* each window is scored once in the whole corpus (its averaged distribution), so repeated
  windows cannot inflate the evidence.

The suspect's distribution at a used position depends on the text before it, which depends
on the green lists of *other* windows; like the top-1 test, the model treats those as
independent of the window's own list (exactly true for the window's own list thanks to the
filter above). Calibration is checked with control keys and with the true key on a model
that never saw watermarked text (see docs/benchmarks.md).

Only ``left`` seeding with ``h >= 1`` is supported: with ``self`` seeding and with Unigram
(``h = 0``) the green lists of different windows are not independent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from distillguard.errors import WatermarkError
from distillguard.watermark import hashing, stats
from distillguard.watermark.base import DEFAULT_MIN_TOKENS
from distillguard.watermark.keys import KeyRing, WatermarkKey
from distillguard.watermark.kgw import KGWParams

#: below this many unique windows the soft score is reported but flagged insufficient.
DEFAULT_MIN_WINDOWS = DEFAULT_MIN_TOKENS
_GRID_LOW, _GRID_RATIO = 1e-12, 1.01
_CHUNK = 1 << 22  # (window, token) pairs hashed at once


@dataclass(frozen=True)
class WindowMasses:
    """A suspect's mean next-token distribution per unique window of our text.

    Attributes:
        windows: ``(n, h)`` token ids of each unique window.
        mass: ``(n, vocab)`` mean next-token distribution after each window.
        counts: positions averaged into each row.
        positions_seen: generated positions with a full window.
        documents: texts accumulated.
    """

    windows: NDArray[np.int64]
    mass: NDArray[np.float64]
    counts: NDArray[np.int64]
    positions_seen: int
    documents: int

    @property
    def context_width(self) -> int:
        """The window width h."""
        return int(self.windows.shape[1])

    @property
    def positions_used(self) -> int:
        """Positions that passed the filters (sum of ``counts``)."""
        return int(self.counts.sum())


class WindowMassAccumulator:
    """Collects a suspect's next-token distributions on our texts, one window at a time.

    Args:
        vocab_size: width of the distributions.
        context_width: window width h (must match the key's parameters).
    """

    def __init__(self, vocab_size: int, context_width: int) -> None:
        if context_width < 1:
            raise WatermarkError(f"soft score needs context_width >= 1, got {context_width}")
        self.vocab_size = vocab_size
        self.h = context_width
        self._rows: dict[tuple[int, ...], int] = {}
        self._sums = np.zeros((64, vocab_size), dtype=np.float64)
        self._counts = np.zeros(64, dtype=np.int64)
        self._seen = 0
        self._docs = 0

    def add(self, ids: NDArray[np.int64], probs: NDArray[np.floating[Any]], start: int) -> None:
        """Add one text.

        Args:
            ids: the text's token ids (prompt then our answer).
            probs: ``(len(ids) - 1, vocab)``; ``probs[i]`` is the suspect's distribution of
                ``ids[i + 1]`` given ``ids[: i + 1]``.
            start: index of the first token we generated (the prompt's length).

        Raises:
            WatermarkError: shapes do not match, naming the document's index.
        """
        n = int(ids.size)
        doc = self._docs
        if probs.ndim != 2 or probs.shape[1] != self.vocab_size or probs.shape[0] < n - 1:
            raise WatermarkError(
                f"document {doc}: probs has shape {probs.shape}, expected "
                f"({max(n - 1, 0)}, {self.vocab_size})"
            )
        if not 0 <= start <= n:
            raise WatermarkError(f"document {doc}: start {start} outside 0..{n}")
        self._docs += 1
        seen: set[tuple[int, ...]] = set()
        toks = [int(t) for t in ids]
        for p in range(max(start, self.h), n):
            w = tuple(toks[p - self.h : p])
            self._seen += 1
            if w in seen:
                continue
            seen.add(w)
            row = self._rows.setdefault(w, len(self._rows))
            if row >= self._counts.size:
                self._sums = np.concatenate([self._sums, np.zeros_like(self._sums)])
                self._counts = np.concatenate([self._counts, np.zeros_like(self._counts)])
            self._sums[row] += probs[p - 1]
            self._counts[row] += 1

    def result(self) -> WindowMasses:
        """The accumulated per-window mean distributions."""
        k = len(self._rows)
        windows = np.array(list(self._rows), dtype=np.int64).reshape(k, self.h)
        counts = self._counts[:k].copy()
        mass = self._sums[:k] / np.maximum(counts, 1)[:, None]
        return WindowMasses(windows, mass, counts, self._seen, self._docs)


@dataclass(frozen=True)
class SoftDetection:
    """Result of the soft score for one key.

    Attributes:
        key_id: public id of the key tested.
        p_value: rigorous Chernoff-bound p-value (1.0 when the statistic is not positive).
        p_normal: normal-approximation p-value (information only).
        z: statistic divided by its null standard deviation.
        statistic: ``T``, total green mass minus gamma per window, summed over windows.
        variance: null variance of ``T``.
        green_mass: mean green mass per window (compare with ``null_rate``).
        null_rate: gamma.
        windows: unique windows scored.
        positions_used: positions averaged into those windows.
        positions_seen: generated positions with a full window.
        documents: texts scored.
        insufficient: fewer windows than the minimum.
        note: plain-language explanation of any flag.
    """

    key_id: str
    p_value: float
    p_normal: float
    z: float
    statistic: float
    variance: float
    green_mass: float
    null_rate: float
    windows: int
    positions_used: int
    positions_seen: int
    documents: int
    insufficient: bool
    note: str = ""

    def significant(self, alpha: float) -> bool:
        """True when the rigorous p-value is below ``alpha`` and enough windows were scored."""
        return not self.insufficient and self.p_value < alpha

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def soft_statistic(
    mass: NDArray[np.float64], green: NDArray[np.bool_], gamma: float
) -> tuple[float, float]:
    """``(T, Var0[T])`` for weights ``mass`` and green flags of the same shape."""
    t = float((mass * green).sum() - gamma * mass.sum())
    return t, gamma * (1.0 - gamma) * float(np.square(mass).sum())


class ChernoffTail:
    """Chernoff upper bound on ``P(sum a_i (G_i - gamma) >= t)``, G_i iid Bernoulli(gamma).

    Args:
        weights: the ``a_i`` (any shape, values in [0, 1]).
        gamma: green probability.
    """

    def __init__(self, weights: NDArray[np.float64], gamma: float) -> None:
        if not 0.0 < gamma < 1.0:
            raise WatermarkError(f"gamma must be in (0, 1), got {gamma}")
        a = np.asarray(weights, dtype=np.float64).ravel()
        if a.size and (a.min() < 0.0 or a.max() > 1.0 + 1e-9):
            raise WatermarkError("soft-score weights must be probabilities in [0, 1]")
        a = a[a > 0.0]
        k = np.ceil(np.log(np.maximum(a, _GRID_LOW) / _GRID_LOW) / np.log(_GRID_RATIO) - 1e-9)
        idx, cnt = np.unique(k.astype(np.int64), return_counts=True)
        self.a = _GRID_LOW * _GRID_RATIO ** idx.astype(np.float64)  # rounded up: conservative
        self.count = cnt.astype(np.float64)
        self.gamma = gamma

    def log_mgf(self, lam: float) -> float:
        """``sum_i psi(lam, a_i)`` with the rounded-up weights."""
        g = self.gamma
        x = lam * self.a
        psi = np.logaddexp(np.log1p(-g), np.log(g) + x) - g * x
        return float((self.count * psi).sum())

    def _slope(self, lam: float) -> float:
        g = self.gamma
        x = lam * self.a
        share = 1.0 / (1.0 + (1.0 - g) / g * np.exp(-x))  # g e^x / (1 - g + g e^x)
        return float((self.count * self.a * (share - g)).sum())

    def pvalue(self, t: float) -> float:
        """``inf_lam exp(log_mgf(lam) - lam * t)``, 1.0 for ``t <= 0``."""
        if t <= 0.0 or self.a.size == 0:
            return 1.0
        lo, hi = 0.0, 1.0
        while self._slope(hi) < t and hi < 1e8:
            lo, hi = hi, hi * 2.0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if self._slope(mid) < t:
                lo = mid
            else:
                hi = mid
        lam = hi
        return float(min(1.0, np.exp(self.log_mgf(lam) - lam * t)))


def window_context_hashes(windows: NDArray[np.int64], key: WatermarkKey) -> NDArray[np.uint64]:
    """Keyed context hash of each window row, as :func:`hashing.context_hashes` computes it."""
    w = hashing.as_words(windows.reshape(windows.shape[0], -1))
    h = np.repeat(hashing.key_word(key.word(0)), w.shape[0])
    for back in range(1, w.shape[1] + 1):
        h = hashing.mix64(h ^ w[:, w.shape[1] - back])
    return h


class SoftGreenTest:
    """The soft score of one suspect's :class:`WindowMasses`, for any number of keys.

    The Chernoff bound depends only on the masses, so it is built once and reused across
    the tested and control keys.

    Args:
        masses: from :class:`WindowMassAccumulator`.
        params: the watermark's parameters (``left`` seeding, ``h`` equal to the masses').
        min_windows: windows below which a result is flagged insufficient.
    """

    def __init__(
        self,
        masses: WindowMasses,
        params: KGWParams | None = None,
        *,
        min_windows: int = DEFAULT_MIN_WINDOWS,
    ) -> None:
        self.params = params or KGWParams()
        if self.params.seeding != "left" or self.params.context_width < 1:
            raise WatermarkError(
                "soft score needs left seeding with context_width >= 1 (got "
                f"{self.params.seeding}, h={self.params.context_width}): other green lists "
                "are shared across windows"
            )
        if masses.context_width != self.params.context_width:
            raise WatermarkError(
                f"masses were collected with h={masses.context_width}, "
                f"key parameters have h={self.params.context_width}"
            )
        self.masses = masses
        self.min_windows = min_windows
        self.tail = ChernoffTail(masses.mass, self.params.gamma)
        self.variance = (
            self.params.gamma * (1.0 - self.params.gamma) * float(np.square(masses.mass).sum())
        )

    def green(self, key: WatermarkKey, rows: slice) -> NDArray[np.bool_]:
        """Green flags ``(rows, vocab)`` of every token after the selected windows."""
        ctx = window_context_hashes(self.masses.windows[rows], key)
        vocab = np.arange(self.masses.mass.shape[1], dtype=np.uint64)
        thr = hashing.threshold(self.params.gamma)
        return hashing.pair_hashes(ctx[:, None], vocab[None, :], key.word(1)) < thr

    def test(self, key: WatermarkKey) -> SoftDetection:
        """The soft score for ``key``."""
        m = self.masses
        n, vocab = m.mass.shape
        gamma = self.params.gamma
        step = max(1, _CHUNK // max(vocab, 1))
        t = 0.0
        for s in range(0, n, step):
            g = self.green(key, slice(s, s + step))
            t += soft_statistic(m.mass[s : s + step], g, gamma)[0]
        sd = float(np.sqrt(self.variance))
        z = t / sd if sd > 0 else 0.0
        total = float(m.mass.sum())
        notes = []
        insufficient = n < self.min_windows
        if n == 0:
            notes.append(f"no window could be scored: {m.positions_seen} generated positions seen")
        elif insufficient:
            notes.append(
                f"only {n} unique windows scored (minimum {self.min_windows}): the p-value "
                "is valid but too little text was scored to rely on it"
            )
        return SoftDetection(
            key_id=key.key_id,
            p_value=self.tail.pvalue(t),
            p_normal=float(sps.norm.sf(z)) if sd > 0 else 1.0,
            z=z,
            statistic=t,
            variance=self.variance,
            green_mass=(t + gamma * total) / total if total > 0 else 0.0,
            null_rate=gamma,
            windows=n,
            positions_used=m.positions_used,
            positions_seen=m.positions_seen,
            documents=m.documents,
            insufficient=insufficient,
            note="; ".join(notes),
        )

    def test_many(self, keys: Sequence[WatermarkKey]) -> list[SoftDetection]:
        """:meth:`test` for each key."""
        return [self.test(k) for k in keys]


@dataclass(frozen=True)
class SoftAudit:
    """The soft score for a ring of tested keys and a ring of never-used control keys.

    Attributes:
        scopes: scope of each tested key.
        tested: one result per tested key.
        p_holm: Holm-adjusted rigorous p-values of ``tested``.
        control: one result per control key.
        alpha: family-wise level.
    """

    scopes: tuple[str, ...]
    tested: tuple[SoftDetection, ...]
    p_holm: tuple[float, ...]
    control: tuple[SoftDetection, ...]
    alpha: float

    @property
    def matches(self) -> tuple[str, ...]:
        """Scopes whose Holm-adjusted p-value is below alpha with enough windows."""
        return tuple(
            s
            for s, d, p in zip(self.scopes, self.tested, self.p_holm, strict=True)
            if p < self.alpha and not d.insufficient
        )

    def control_ks(self) -> float:
        """KS p-value of the controls' normal-approximation p-values (uniform if calibrated)."""
        return stats.ks_uniform([d.p_normal for d in self.control]) if self.control else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready evidence (key ids and scopes, never keys)."""
        return {
            "statistic": "soft green mass (Chernoff bound)",
            "alpha": self.alpha,
            "keys": [
                {"scope": s, "p_holm": p, **d.to_dict()}
                for s, d, p in zip(self.scopes, self.tested, self.p_holm, strict=True)
            ],
            "matches": list(self.matches),
            "control": [d.to_dict() for d in self.control],
            "control_min_p": min((d.p_value for d in self.control), default=1.0),
            "control_ks_p": self.control_ks(),
        }


def soft_audit(
    masses: WindowMasses,
    ring: KeyRing,
    controls: KeyRing,
    params: KGWParams | None = None,
    *,
    alpha: float = 1e-3,
) -> SoftAudit:
    """Run the soft score for every key of ``ring`` and of ``controls``."""
    test = SoftGreenTest(masses, params)
    tested = test.test_many(ring.keys)
    return SoftAudit(
        scopes=tuple(k.scope for k in ring.keys),
        tested=tuple(tested),
        p_holm=tuple(stats.holm([d.p_value for d in tested])),
        control=tuple(test.test_many(controls.keys)),
        alpha=alpha,
    )
