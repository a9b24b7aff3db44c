"""Measure a scan against ground-truth labels (``account_id,campaign_id``; empty = legit).

Account level: an account is flagged when its verdict is not ``legit`` (``suspect`` counts as
flagged: a reviewer has to look at it). Linking: B-cubed precision/recall/F1 of campaign
membership over the accounts that are in a campaign in the truth or in the scan. Time to
detection: the scan is replayed (``run_scan(until=...)``) at the moments each campaign had sent
a growing share of its volume; the share at the first replay that flags it is reported.
"""

from __future__ import annotations

import csv
import dataclasses
import tempfile
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from distillguard.detect.config import DetectConfig
from distillguard.errors import InputError

#: Shares of a campaign's volume at which the scan is replayed for time to detection.
TTD_STEPS: tuple[float, ...] = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True, slots=True)
class CampaignEval:
    """How one labelled campaign was detected."""

    campaign_id: str
    accounts: int
    flagged: int
    recall: float
    found: bool
    predicted: tuple[str, ...]
    ttd_volume_share: float | None = None


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Account-level, linking and per-campaign quality of one scan."""

    accounts: int
    positives: int
    precision: float
    recall: float
    fpr: float
    heavy_fpr: float | None
    false_positives: tuple[str, ...]
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    campaigns: tuple[CampaignEval, ...]
    predicted_campaigns: int
    notes: tuple[str, ...] = field(default=())

    @property
    def all_found(self) -> bool:
        """True when every labelled campaign was found."""
        return all(c.found for c in self.campaigns)


def read_labels(path: Path) -> dict[str, str]:
    """Read ``account_id,campaign_id`` (empty campaign = legitimate)."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "account_id" not in reader.fieldnames:
                raise InputError(f"{path}: expected a header with account_id,campaign_id")
            return {r["account_id"]: (r.get("campaign_id") or "").strip() for r in reader}
    except OSError as exc:
        raise InputError(f"{path}: cannot read labels: {exc.strerror}") from None


def read_accounts(results: Path) -> dict[str, dict[str, str]]:
    """Read a scan's accounts.csv."""
    path = Path(results) / "accounts.csv"
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return {r["account_id"]: r for r in csv.DictReader(fh)}
    except OSError as exc:
        raise InputError(f"{path}: cannot read scan results: {exc.strerror}") from None


def bcubed(truth: Mapping[str, str], pred: Mapping[str, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall, F1 of clusterings given as item -> cluster (all items)."""
    items = list(truth)
    if not items:
        return 1.0, 1.0, 1.0
    both = Counter((truth[i], pred[i]) for i in items)
    t_size = Counter(truth[i] for i in items)
    p_size = Counter(pred[i] for i in items)
    prec = sum(both[(truth[i], pred[i])] / p_size[pred[i]] for i in items) / len(items)
    rec = sum(both[(truth[i], pred[i])] / t_size[truth[i]] for i in items) / len(items)
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


def _volumes(results: Path) -> dict[str, int]:
    db = Path(results) / "scan.duckdb"
    if not db.exists():
        return {}
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            str(a): int(n)
            for a, n in con.execute("SELECT account_id, n_events FROM account_features").fetchall()
        }
    except duckdb.Error:
        return {}
    finally:
        con.close()


def _flagged_campaigns(
    results: Path, accounts: Mapping[str, dict[str, str]], labels: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    """Labelled campaign -> predicted campaigns whose members are mostly from it."""
    by_pred: dict[str, list[str]] = defaultdict(list)
    for aid, row in accounts.items():
        if row.get("campaign_id"):
            by_pred[row["campaign_id"]].append(aid)
    out: dict[str, list[str]] = defaultdict(list)
    for pid, members in by_pred.items():
        top, n = Counter(labels.get(a, "") for a in members).most_common(1)[0]
        if top and n * 2 >= len(members):
            out[top].append(pid)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def evaluate(results_dir: Path, labels: Path | Mapping[str, str]) -> EvalResult:
    """Compare a scan's accounts.csv with labels."""
    truth = dict(read_labels(labels)) if isinstance(labels, Path | str) else dict(labels)
    accounts = read_accounts(Path(results_dir))
    ids = sorted(accounts)
    flagged = {a for a in ids if accounts[a]["verdict"] != "legit"}
    pos = {a for a in ids if truth.get(a)}
    neg = [a for a in ids if not truth.get(a)]
    tp = len(flagged & pos)
    fp = sorted(flagged - pos)
    vols = _volumes(Path(results_dir))
    heavy_fpr = None
    notes: list[str] = []
    if vols and neg:
        ranked = sorted(neg, key=lambda a: -vols.get(a, 0))
        heavy = ranked[: max(1, len(ranked) // 100)]
        heavy_fpr = sum(1 for a in heavy if a in flagged) / len(heavy)
    elif neg:
        notes.append("heavy-user FPR needs scan.duckdb in the results folder")
    unlabelled = [a for a in ids if a not in truth]
    if unlabelled:
        notes.append(f"{len(unlabelled)} scanned accounts have no label (counted legitimate)")
    scope = [a for a in ids if truth.get(a) or accounts[a].get("campaign_id")]
    t = {a: truth.get(a) or f"~{a}" for a in scope}
    p = {a: accounts[a].get("campaign_id") or f"~{a}" for a in scope}
    bp, br, bf = bcubed(t, p)
    mapping = _flagged_campaigns(Path(results_dir), accounts, truth)
    members: dict[str, list[str]] = defaultdict(list)
    for a in ids:
        if truth.get(a):
            members[truth[a]].append(a)
    camps = []
    for cid in sorted(members):
        ms = members[cid]
        hit = sum(1 for a in ms if a in flagged)
        camps.append(
            CampaignEval(
                cid,
                len(ms),
                hit,
                hit / len(ms),
                bool(mapping.get(cid)) and hit * 2 >= len(ms),
                mapping.get(cid, ()),
            )
        )
    predicted = len({r["campaign_id"] for r in accounts.values() if r.get("campaign_id")})
    return EvalResult(
        accounts=len(ids),
        positives=len(pos),
        precision=tp / len(flagged) if flagged else 1.0,
        recall=tp / len(pos) if pos else 1.0,
        fpr=len(fp) / len(neg) if neg else 0.0,
        heavy_fpr=heavy_fpr,
        false_positives=tuple(fp),
        bcubed_precision=bp,
        bcubed_recall=br,
        bcubed_f1=bf,
        campaigns=tuple(camps),
        predicted_campaigns=predicted,
        notes=tuple(notes),
    )


@dataclass(frozen=True, slots=True)
class DetectionTime:
    """When a replayed scan first caught a labelled campaign, as a share of its volume.

    Attributes:
        campaign: a predicted campaign made mostly of its accounts first appeared (the
            campaign is detected as a group); None: never.
        first_flag: one of its accounts first had a verdict other than ``legit`` (a
            ``suspect`` is flagged for review); None: never.
    """

    campaign: float | None
    first_flag: float | None


def detection_times(
    db: Path,
    labels: Mapping[str, str],
    *,
    config: DetectConfig | None = None,
    allowlist: Path | None = None,
    steps: Sequence[float] = TTD_STEPS,
) -> dict[str, DetectionTime]:
    """Share of each labelled campaign's volume sent before a replayed scan first catches it.

    The scan is replayed on ``db`` (already ingested) at the instants each campaign reached
    each share in ``steps`` (each instant once, whichever campaigns need it), and both
    moments of :class:`DetectionTime` are read from the same replays.
    """
    import duckdb
    import pyarrow as pa

    from distillguard.detect.scan import run_scan

    con = duckdb.connect(str(db), read_only=True)
    try:
        con.register(
            "_labels", pa.table({"account_id": list(labels), "campaign_id": list(labels.values())})
        )
        rows = con.execute(
            """WITH e AS (SELECT l.campaign_id, ev.ts,
                 row_number() OVER (PARTITION BY l.campaign_id ORDER BY ev.ts) AS k,
                 count(*) OVER (PARTITION BY l.campaign_id) AS n
               FROM events ev JOIN _labels l USING (account_id) WHERE l.campaign_id <> '')
               SELECT campaign_id, k * 1.0 / n AS share, ts FROM e ORDER BY campaign_id, k"""
        ).fetchall()
    finally:
        con.close()
    series: dict[str, list[tuple[float, datetime]]] = defaultdict(list)
    for cid, share, ts in rows:
        series[str(cid)].append((float(share), ts))
    out: dict[str, DetectionTime] = {}
    # per replay instant: labelled campaign -> predicted campaigns; labelled campaigns with an
    # account flagged
    cache: dict[datetime, tuple[dict[str, tuple[str, ...]], set[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="dg-ttd-") as tmp:
        for cid, pts in sorted(series.items()):
            grouped: float | None = None
            first: float | None = None
            for step in steps:
                share, ts = next(((s, t) for s, t in pts if s >= step - 1e-12), pts[-1])
                if ts not in cache:
                    outdir = Path(tmp) / f"r{len(cache)}"
                    run_scan(None, outdir, db=db, until=ts, config=config, allowlist=allowlist)
                    accounts = read_accounts(outdir)
                    hit = {
                        labels[a]
                        for a, row in accounts.items()
                        if row.get("verdict", "legit") != "legit" and labels.get(a)
                    }
                    cache[ts] = (_flagged_campaigns(outdir, accounts, labels), hit)
                found, hit = cache[ts]
                if first is None and cid in hit:
                    first = share
                if found.get(cid):
                    grouped = share
                    first = share if first is None else first
                    break
            out[cid] = DetectionTime(campaign=grouped, first_flag=first)
    return out


def time_to_detection(
    db: Path,
    labels: Mapping[str, str],
    *,
    config: DetectConfig | None = None,
    allowlist: Path | None = None,
    steps: Sequence[float] = TTD_STEPS,
) -> dict[str, float | None]:
    """Share of each labelled campaign's volume sent before a replayed scan first flags it.

    The scan is replayed on ``db`` (already ingested) at the instants each campaign reached
    each share in ``steps``; a campaign counts as flagged at a replay when a predicted campaign
    is made mostly of its accounts. None means never flagged. (:func:`detection_times` also
    gives when its first account was flagged.)
    """
    times = detection_times(db, labels, config=config, allowlist=allowlist, steps=steps)
    return {cid: t.campaign for cid, t in times.items()}


def result_json(res: EvalResult) -> dict[str, Any]:
    """A JSON-friendly form of an :class:`EvalResult`."""
    data: dict[str, Any] = dataclasses.asdict(res)
    return data
