"""``run_scan``: logs in, explained campaigns out (accounts.csv, campaigns.json, report.html).

Stages: ingest → annotate (text signals, template families) → features → linking (edges,
Leiden communities) → rules and scores → verdicts and campaigns → outputs. Every stage is
timed; signals that could not be computed (no prompt text) are listed.
"""
# ruff: noqa: S608  -- SQL is assembled from fixed identifiers and numbers from the config;
# values that come from data are passed as parameters or quoted by the caller.

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distillguard.detect.allowlist import load_allowlist
from distillguard.detect.annotate import annotate_prompts
from distillguard.detect.campaigns import AccountVerdict, Campaign, decide
from distillguard.detect.config import DetectConfig
from distillguard.detect.families import family_groups
from distillguard.detect.features import compute_features
from distillguard.detect.intel_signal import IntelSignals, has_intel, load_intel_signals
from distillguard.detect.linking import build_edges, cluster
from distillguard.detect.membership import account_networks, family_usage, prompt_pool
from distillguard.detect.operators import identity_pairs
from distillguard.detect.ruleset import load_rules
from distillguard.detect.scoring import (
    ACCOUNT_WEIGHTS,
    PRIVACY_WEIGHTS,
    AccountScore,
    score_accounts,
    suspicion,
)
from distillguard.detect.signals.registry import SIGNALS
from distillguard.errors import DetectionError, InputError
from distillguard.intel.config import IntelConfig, load_intel_config

ACCOUNTS_HEADER = ("account_id", "risk", "verdict", "campaign_id", "top_reasons")


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What one scan did and where its outputs are."""

    out_dir: Path
    accounts_csv: Path
    campaigns_json: Path
    report_html: Path
    db: Path
    events: int
    accounts: int
    verdicts: dict[str, int]
    campaigns: tuple[Campaign, ...]
    timings: dict[str, float]
    unavailable: tuple[str, ...]
    edges_by_kind: dict[str, int]
    ingest: Any = None
    until: datetime | None = None
    rules_loaded: int = 0
    notes: tuple[str, ...] = field(default=())
    intel: IntelSignals | None = None


def _annotate(con: Any, progress: bool) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """Run the text annotator; return notes and each signal's ATLAS ids."""
    annotate_prompts(con, events_table="ev", progress=progress)
    atlas = {
        str(name): tuple(str(i) for i in sig.atlas) for name, sig in SIGNALS.items() if sig.atlas
    }
    return [], atlas


def _community_context(
    con: Any,
) -> tuple[dict[str, tuple[int, bool]], dict[str, dict[str, int]], dict[int, float]]:
    comm = {
        str(a): (int(c), bool(k))
        for a, c, k in con.execute("SELECT account_id, community, core FROM communities").fetchall()
    }
    kinds: dict[str, dict[str, int]] = defaultdict(dict)
    # Each edge end's community is looked up in its own step: in one query the optimiser joins
    # communities to itself on the community id first, which is quadratic in the largest
    # community (17.8 M rows for 852k edge ends at 300k events, 29 s; ~10 min at 1M). The
    # edges are looked up once each (not once per end) and only those inside a community
    # are then counted for both of their ends.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _cc_ends AS
           SELECT e.a, e.b, e.kind, c.community AS ca
           FROM account_edges e JOIN communities c ON c.account_id = e.a"""
    ).fetchall()
    for a, kind, n in con.execute(
        """WITH inside AS (
             SELECT e.a, e.b, e.kind FROM _cc_ends e
             JOIN communities c ON c.account_id = e.b AND c.community = e.ca)
           SELECT acc, kind, count(*) FROM (
             SELECT a AS acc, kind FROM inside UNION ALL SELECT b, kind FROM inside) x
           GROUP BY 1, 2"""
    ).fetchall():
        kinds[str(a)][str(kind)] = int(n)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _cc_graph AS
           SELECT g.b, g.behaviour, g.weight, c.community AS ca
           FROM account_graph g JOIN communities c ON c.account_id = g.a"""
    ).fetchall()
    share = {
        int(c): float(s or 0.0)
        for c, s in con.execute(
            """SELECT g.ca, sum(g.behaviour) / sum(g.weight) FROM _cc_graph g
           JOIN communities c ON c.account_id = g.b AND c.community = g.ca GROUP BY 1"""
        ).fetchall()
    }
    for tmp in ("_cc_ends", "_cc_graph"):
        con.execute(f"DROP TABLE IF EXISTS {tmp}").fetchall()
    return comm, dict(kinds), share


def _write_prior(con: Any, scores: Mapping[str, AccountScore]) -> None:
    """Write ``account_prior(account_id, risk, suspicion)`` for suspicion-weighted linking."""
    import pyarrow as pa

    ids = list(scores)
    con.register(
        "_prior_arrow",
        pa.table(
            {
                "account_id": ids,
                "risk": [scores[a].risk for a in ids],
                "suspicion": [suspicion(scores[a].risk) for a in ids],
            }
        ),
    )
    try:
        con.execute(
            "CREATE OR REPLACE TABLE account_prior AS SELECT * FROM _prior_arrow"
        ).fetchall()
    finally:
        con.unregister("_prior_arrow")


def _intel_note(intel: IntelSignals) -> str:
    """How many peer-intel hits the scan used (listed among the scan's notes)."""
    when = f", matched {intel.matched_at.isoformat()}" if intel.matched_at else ""
    strong = sum(1 for a in intel.accounts.values() if a.identity or a.template)
    return (
        f"peer intel: {intel.hits} hit(s) on {len(intel.accounts)} account(s), {strong} with "
        f"template or identity evidence, {len(intel.groups)} peer campaign group(s){when} "
        "(run `intel match` again after ingesting new traffic)"
    )


def write_accounts_csv(path: Path, verdicts: Sequence[AccountVerdict]) -> None:
    """Write accounts.csv in the contract's column order."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(ACCOUNTS_HEADER)
        for v in verdicts:
            w.writerow(
                (v.account_id, f"{v.risk:.4f}", v.verdict, v.campaign_id, "; ".join(v.reasons))
            )


def run_scan(
    inputs: Sequence[Path] | None,
    out_dir: Path,
    *,
    db: Path | None = None,
    until: datetime | None = None,
    config: DetectConfig | None = None,
    allowlist: Path | None = None,
    rules_dirs: Sequence[Path] = (),
    progress: bool = False,
    show_prompts: bool = False,
    now: datetime | None = None,
    engine: str = "duckdb",
    lake: Path | None = None,
    intel_config: IntelConfig | None = None,
    keep_text: bool = True,
) -> ScanResult:
    """Scan event logs and write accounts.csv, campaigns.json and report.html to ``out_dir``.

    Args:
        inputs: event files or folders to ingest first; None (or empty) scans ``db`` as is.
        out_dir: where the outputs go (created).
        db: DuckDB file to use; default ``out_dir/scan.duckdb``.
        until: only events at or before this instant are scanned (replay a prefix).
        config: detection configuration; defaults when None.
        allowlist: YAML allow-list file.
        rules_dirs: extra rule folders, added to the built-in rules.
        progress: show progress bars on stderr.
        show_prompts: include example prompt text in the report (redacted by default).
        now: reference time for allow-list expiry (default: the current time).
        engine: ``duckdb`` (default) or ``spark`` (see docs/scale-out.md).
        lake: read the events from this event lake instead of the store.
        intel_config: ``[intel]`` weighing of peers' indicators when the store holds
            ``intel_hits`` (default: loaded from the configuration file and environment).
        keep_text: store the prompt and answer text of ``inputs`` (default). False keeps
            only each prompt's digest, and the scan runs in privacy mode
            (docs/detection.md, "Privacy mode").

    Raises:
        InputError: nothing usable was read.
        DetectionError: the store holds no events to scan.
    """
    from distillguard.store import DuckDBStore

    cfg = config or DetectConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = Path(db) if db is not None else out_dir / "scan.duckdb"
    timings: dict[str, float] = {}
    rules = load_rules(rules_dirs)
    allow = load_allowlist(allowlist)
    t0 = time.perf_counter()
    store = DuckDBStore(db_path)
    report = None
    eng = None
    try:
        limit = str(cfg.memory_limit).replace("'", "")
        store.con.execute(f"SET memory_limit = '{limit}'").fetchall()
        if inputs:
            from distillguard.ingest.run import ingest_paths

            report = ingest_paths(
                list(inputs),
                store,
                keep_text=keep_text,
                quarantine=out_dir / "quarantine.jsonl",
                progress=progress,
            )
            if report.accepted + report.duplicates == 0:
                bad = "; ".join(f"{r.path}: {r.reason}" for r in report.rejected_sources)
                raise InputError(
                    f"no usable events in the input ({report.read} read, "
                    f"{report.quarantined} quarantined){': ' + bad if bad else ''}"
                )
        timings["ingest"] = time.perf_counter() - t0
        from distillguard.engine.scan_source import open_scan_engine

        eng, con, source = open_scan_engine(engine, store.con, lake)
        where = ""
        params: list[Any] = []
        if until is not None:
            u = until if until.tzinfo else until.replace(tzinfo=UTC)
            where = f" WHERE ts <= TIMESTAMPTZ '{u.astimezone(UTC).isoformat()}'"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW ev AS SELECT * FROM {source}{where}", params
        ).fetchall()
        n_events = int(con.execute("SELECT count(*) FROM ev").fetchall()[0][0])
        if n_events == 0:
            raise DetectionError(
                f"{db_path}: no events to scan"
                + (f" at or before {until.isoformat()}" if until else "")
            )
        # Prompt text, not its digest: a store ingested without --keep-text holds every
        # prompt's digest and no text (privacy mode), and the text signals must then be
        # reported unavailable rather than computed as "no distillation content".
        has_text = bool(con.execute("SELECT count(prompt_text) FROM ev").fetchall()[0][0])
        notes: list[str] = []
        atlas_of: dict[str, tuple[str, ...]] = {}
        t = time.perf_counter()
        for stale in ("prompt_signals", "template_families"):
            con.execute(f"DROP TABLE IF EXISTS {stale}").fetchall()
        if has_text:
            notes, atlas_of = _annotate(con, progress)
        timings["annotate"] = time.perf_counter() - t
        t = time.perf_counter()
        feats = compute_features(con, cfg, events="ev")
        timings["features"] = time.perf_counter() - t
        t = time.perf_counter()
        feat_table = con.sql("SELECT * FROM account_features").to_arrow_table()
        icfg = None
        intel = None
        scan_notes: list[str] = []
        if has_intel(store.con):
            # Intel lives in the DuckDB store (intel import / match), whatever the engine.
            icfg = intel_config or load_intel_config()
            intel = load_intel_signals(store.con, icfg, until=until)
        if intel is not None:
            feat_table = intel.join(feat_table)
            scan_notes.append(_intel_note(intel))
        scores = score_accounts(feat_table, rules, ACCOUNT_WEIGHTS if has_text else PRIVACY_WEIGHTS)
        rows = feat_table.to_pylist()
        _write_prior(con, scores)
        timings["scoring"] = time.perf_counter() - t
        t = time.perf_counter()
        has_fam = "template families (no prompt text)" not in feats.unavailable
        edges = build_edges(
            con,
            cfg,
            events="ev",
            has_fam=has_fam,
            sig_cols=feats.signal_columns,
            prior="account_prior",
        )
        n_comm = cluster(con, cfg)
        fam_groups = (
            family_groups(con, cfg, events="ev", sig_cols=feats.signal_columns).groups
            if has_fam
            else ()
        )
        timings["linking"] = time.perf_counter() - t
        t = time.perf_counter()
        comm, kinds, share = _community_context(con)
        verdicts, campaigns = decide(
            rows,
            comm,
            kinds,
            share,
            rules,
            allow,
            now or datetime.now(UTC),
            cfg,
            sig_cols=feats.signal_columns,
            atlas_of=atlas_of,
            scores=scores,
            family_groups=fam_groups,
            networks=account_networks(con, "ev"),
            family_usage=(family_usage(con, cfg, "ev", feats.signal_columns) if has_fam else None),
            intel=intel,
            intel_min_accounts=icfg.group_min_accounts if icfg is not None else 2,
            identity_pairs=identity_pairs(con, cfg.identity_split_kinds),
            behaviour_pairs=identity_pairs(con, cfg.behaviour_split_kinds),
            prompt_pool=prompt_pool(con, "ev"),
        )
        timings["verdicts"] = time.perf_counter() - t
        t = time.perf_counter()
        accounts_csv = out_dir / "accounts.csv"
        campaigns_json = out_dir / "campaigns.json"
        report_html = out_dir / "report.html"
        write_accounts_csv(accounts_csv, verdicts)
        campaigns_json.write_text(
            json.dumps([c.to_json() for c in campaigns], indent=2) + "\n", encoding="utf-8"
        )
        unavailable = tuple(feats.unavailable) + tuple(notes)
        counts = {
            k: sum(1 for v in verdicts if v.verdict == k) for k in ("legit", "suspect", "campaign")
        }
        from distillguard.detect.report import render_report

        render_report(
            con,
            report_html,
            verdicts=verdicts,
            campaigns=campaigns,
            rules=rules,
            unavailable=unavailable,
            counts=counts,
            n_events=n_events,
            edges_by_kind=edges,
            show_prompts=show_prompts,
            until=until,
            communities=n_comm,
            intel=intel,
            notes=scan_notes,
        )
        timings["outputs"] = time.perf_counter() - t
    finally:
        if eng is not None:
            eng.close()
        store.close()
    timings["total"] = time.perf_counter() - t0
    return ScanResult(
        out_dir=out_dir,
        accounts_csv=accounts_csv,
        campaigns_json=campaigns_json,
        report_html=report_html,
        db=db_path,
        events=n_events,
        accounts=len(verdicts),
        verdicts=counts,
        campaigns=tuple(campaigns),
        timings=timings,
        unavailable=unavailable,
        edges_by_kind=edges,
        ingest=report,
        until=until,
        rules_loaded=len(rules),
        notes=tuple(scan_notes),
        intel=intel,
    )
