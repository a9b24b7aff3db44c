"""Vectorised timestamp generators: human sessions in local time, and machine schedules.

All functions return ``(t, acc)``: epoch seconds (float64) and the index of the account that
sent each request (int64), unsorted. The engine sorts everything once at the end.
"""

from __future__ import annotations

import numpy as np

DAY = 86400.0

#: relative activity per local hour (0..23); normalised on use.
PROFILES: dict[str, tuple[float, ...]] = {
    "work": (0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.5, 4, 7, 8, 8, 6, 7, 8, 8, 7, 5, 3, 2, 1.5,
             1.2, 0.8, 0.5),
    "casual": (2.5, 1.5, 0.8, 0.4, 0.3, 0.3, 0.6, 1.5, 2.5, 3, 3.5, 4, 4.5, 4, 4, 4, 4.5, 5, 6,
               7, 7.5, 7, 5.5, 4),
    "developer": (1.5, 1, 0.6, 0.3, 0.2, 0.2, 0.4, 1, 3, 6, 7.5, 8, 6, 7, 8, 8, 7.5, 6, 4, 3.5,
                  4, 4, 3.5, 2.5),
    "service": (2.5, 2, 1.8, 1.6, 1.6, 2, 3, 4.5, 6, 7, 7.5, 7.5, 7, 7, 7.5, 7.5, 7, 6.5, 5.5, 5,
                4.5, 4, 3.5, 3),
    "flat": tuple([1.0] * 24),
}  # fmt: skip
#: relative activity per local weekday, Monday first; normalised to mean 1 on use.
WEEKLY: dict[str, tuple[float, ...]] = {
    "work": (1.2, 1.25, 1.25, 1.2, 1.05, 0.3, 0.25),
    "casual": (0.95, 0.95, 0.95, 0.95, 1.0, 1.1, 1.1),
    "developer": (1.15, 1.2, 1.2, 1.15, 1.0, 0.6, 0.6),
    "service": (1.1, 1.1, 1.1, 1.1, 1.05, 0.8, 0.75),
    "flat": (1.0,) * 7,
}


def _cdf(profile: str) -> np.ndarray:
    p = np.asarray(PROFILES[profile], dtype=float)
    return np.cumsum(p / p.sum())


def local_seconds(rng: np.random.Generator, n: int, profile: str) -> np.ndarray:
    """``n`` seconds-of-day drawn from the hourly ``profile``."""
    hours = np.searchsorted(_cdf(profile), rng.random(n), side="right").clip(0, 23)
    return hours * 3600.0 + rng.random(n) * 3600.0


def _segment_offsets(sizes: np.ndarray) -> np.ndarray:
    """For segments of ``sizes``, each element's position inside its segment."""
    total = int(sizes.sum())
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.asarray(np.arange(total) - starts, dtype=np.int64)


def human_sessions(
    rng: np.random.Generator,
    rates: np.ndarray,
    tz_hours: np.ndarray,
    start: float,
    days: float,
    *,
    profile: str,
    weekly: str,
    session_mean: float,
    gap_mean_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Human traffic: sessions placed by a local-time diurnal and weekly rhythm.

    Args:
        rng: random source.
        rates: mean requests per day of each account.
        tz_hours: each account's UTC offset.
        start: epoch seconds of the span start. days: span length.
        profile / weekly: keys of :data:`PROFILES` / :data:`WEEKLY`.
        session_mean: mean requests per session; gap_mean_s: mean think time inside one.
    """
    n_days = int(np.ceil(days))
    wk = np.asarray(WEEKLY[weekly], dtype=float)
    wk = wk / wk.mean()
    start_dow = int((start // DAY + 3) % 7)  # 1970-01-01 was a Thursday
    day_factor = wk[(start_dow + np.arange(n_days)) % 7]
    lam = np.outer(rates / session_mean, day_factor)  # sessions per account-day
    sessions = rng.poisson(lam)
    acc_d, day_d = np.nonzero(sessions)
    counts = sessions[acc_d, day_d]
    s_acc = np.repeat(acc_d, counts)
    s_day = np.repeat(day_d, counts)
    s_start = (
        start
        + s_day * DAY
        + local_seconds(rng, len(s_acc), profile)
        - tz_hours[s_acc] * 3600.0
        - (start % DAY)
    )
    size = 1 + rng.poisson(max(session_mean - 1.0, 0.0), size=len(s_acc))
    acc = np.repeat(s_acc, size)
    gaps = rng.exponential(gap_mean_s, size=len(acc)) * rng.lognormal(0.0, 0.5, size=len(acc))
    first = np.cumsum(size) - size
    gaps[first] = 0.0
    csum = np.cumsum(gaps)
    t = np.repeat(s_start, size) + csum - np.repeat(csum[first], size)
    keep = (t >= start) & (t < start + days * DAY)
    return t[keep], acc[keep].astype(np.int64)


def window_times(
    rng: np.random.Generator,
    counts: np.ndarray,
    win_start: np.ndarray,
    win_end: np.ndarray,
    *,
    mode: str,
    tz_hours: float = 0.0,
    jitter: float = 0.5,
    daily_cap: int = 0,
    profile: str = "work",
) -> tuple[np.ndarray, np.ndarray]:
    """Place ``counts[a]`` requests of each account inside its window ``[win_start, win_end)``.

    Modes: ``human`` (local-time diurnal profile in ``tz_hours``), ``uniform`` (Poisson at a
    constant rate), ``periodic`` (even spacing, ``jitter`` 0..1 of the gap), ``burst``
    (short machine-speed runs). With ``daily_cap``, requests are spread round-robin over the
    window's UTC days so that no account exceeds the cap on any UTC day.
    """
    counts = counts.astype(np.int64)
    acc = np.repeat(np.arange(len(counts)), counts)
    k = _segment_offsets(counts)
    s, e = win_start[acc], win_end[acc]
    span = np.maximum(e - s, 1.0)
    n = len(acc)
    if mode == "periodic":
        gap = span / np.maximum(counts[acc], 1)
        phase = rng.random(len(counts))[acc] * gap
        t = s + phase + k * gap + jitter * gap * rng.normal(0.0, 0.35, n)
    elif mode == "burst":
        per_burst = 40
        burst = k // per_burst
        n_bursts = np.maximum(1, -(-counts // per_burst))
        starts = rng.random(int(n_bursts.sum()))
        base = np.cumsum(n_bursts) - n_bursts
        frac = starts[base[acc] + burst]
        bstart = s + frac * span
        t = bstart + (k % per_burst) * rng.exponential(2.5, n)
    elif mode in ("human", "uniform") or daily_cap > 0:
        day0 = np.floor(s / DAY)
        ndays = np.maximum(1, np.ceil(e / DAY) - day0).astype(np.int64)
        if daily_cap > 0:
            offset = rng.integers(0, 1 << 30, size=len(counts))[acc]
            day = day0 + (offset + k) % ndays
        else:
            day = day0 + np.floor(rng.random(n) * ndays)
        if mode == "human":
            tod = (local_seconds(rng, n, profile) - tz_hours * 3600.0) % DAY
        else:
            tod = rng.random(n) * DAY
        t = day * DAY + tod
    else:
        raise ValueError(f"unknown timing mode {mode!r}")
    if mode == "uniform" and daily_cap == 0:
        t = s + rng.random(n) * span
    t = np.clip(t, s, e - 1e-3)
    return t, acc.astype(np.int64)
