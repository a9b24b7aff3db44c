"""Per-account features, computed in SQL over the events table (no Python loop over rows).

Every statement here is plain SQL with a handful of functions that Spark SQL also has
(``date_trunc``, ``hour``, ``regexp_extract``, ``greatest``, ``ln``, window functions); the one
DuckDB-specific call, ``epoch(ts)``, is isolated in :data:`EPOCH` so a Spark runner can swap it
for ``unix_timestamp(ts)``. The result is one table, ``account_features``, one row per account.

Text signals come from ``prompt_signals`` and template families from ``template_families``
(both written by :mod:`distillguard.detect.annotate`); when either is missing (privacy mode:
no prompt text) the features that need it are null and listed as unavailable.
"""
# ruff: noqa: S608  -- SQL is assembled from fixed identifiers and numbers from the config;
# values that come from data are passed as parameters or quoted by the caller.

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distillguard.detect.config import DetectConfig

EPOCH = "epoch({})"

#: Feature name -> what it means, for reports and docs (signal features are added per signal).
FEATURE_DOCS: dict[str, str] = {
    "n_events": "requests sent",
    "input_tokens": "prompt tokens sent",
    "output_tokens": "completion tokens received",
    "out_in_ratio": "output tokens per input token",
    "active_days": "days with at least one request",
    "span_hours": "hours between first and last request",
    "events_per_active_hour": "requests per active hour",
    "iat_cv": "coefficient of variation of the time between requests (low = machine-regular)",
    "hour_entropy": "entropy of the hour-of-day profile, 0..1 (1 = evenly round the clock)",
    "hours_of_day_share": "share of the 24 hours of the day with activity",
    "active_hour_share": "share of the hours in the account's span with activity (1 = 24/7)",
    "hour_center": "circular mean of the requests' time of day, in UTC hours 0..24",
    "hour_focus": "how concentrated the requests' times of day are around it, 0..1 "
    "(mean resultant length: 0 = evenly round the clock)",
    "peak_rpm": "most requests in one minute",
    "rate_limit_peak_share": "peak requests per minute as a share of the tier's rate limit",
    "rate_limit_mean_share": "mean requests per active minute as a share of the rate limit",
    "max_tokens_cap_share": "share of requests asking for the model's max_tokens cap",
    "length_stop_share": "share of answers cut at the length limit",
    "logprobs_share": "share of requests asking for logprobs",
    "multi_n_share": "share of requests asking for n > 1 completions",
    "high_effort_share": "share of requests asking for high reasoning effort",
    "tool_share": "share of requests carrying tool schemas",
    "dup_prompt_share": "share of requests repeating a request the account already sent "
    "(the same prompt after the same system prompt and earlier turns, when text is kept)",
    "n_models": "distinct models used",
    "new_model_share": "share of requests to a model released during the log",
    "new_model_lag_h": "hours from a new model's first use anywhere to this account's first use",
    "account_age_days": "account age at its first request, days",
    "verified": "identity verified (1/0)",
    "n_ips": "distinct IP addresses",
    "n_slash24": "distinct /24 networks",
    "n_asns": "distinct autonomous systems",
    "n_countries": "distinct IP countries",
    "geo_mismatch_share": "share of requests from a country other than the e-mail domain's",
    "volume_pct": "percentile of the account's volume in the population",
    "distill_share": "share of requests carrying any distillation signal (>= 0.5)",
    "top_family_share": "share of requests in the account's most used template family",
    "top_family_weight": "rarity weight of that family (high = rare, shared across orgs)",
    "rare_family_share": "share of requests in rare families shared across organisations",
    "n_families": "distinct template families",
    "topic_concentration": "1 - normalised entropy over families (1 = one topic only)",
}

#: ``account_features`` columns that are identifiers or labels rather than measurements.
ID_COLUMNS: tuple[str, ...] = ("account_id", "org_id", "tier", "first_seen", "last_seen")


@functools.lru_cache(maxsize=1)
def feature_names() -> frozenset[str]:
    """Every name a rule condition can read: the columns of ``account_features``.

    The documented features (:data:`FEATURE_DOCS`), the identifiers, each registered
    signal's ``sig_<name>_mean`` and ``sig_<name>_share``, and the peer-intel columns the
    scan adds when the store holds intel. ``tests/detect/test_features.py`` checks this
    against the table a scan writes, so a rule that names anything else names nothing.
    """
    from distillguard.detect.intel_signal import FEATURES as INTEL_FEATURES
    from distillguard.detect.signals.registry import SIGNAL_COLUMNS

    signals = {f"{c}_{agg}" for c in SIGNAL_COLUMNS for agg in ("mean", "share")}
    return frozenset({*FEATURE_DOCS, *ID_COLUMNS, *signals, *INTEL_FEATURES})


# Country-code TLDs we can compare to IP geography (generic TLDs give no hint).
_CC_TLD = "regexp_extract(lower(account_email_domain), '\\.([a-z]{2})$', 1)"


@dataclass(frozen=True, slots=True)
class FeatureReport:
    """What :func:`compute_features` did."""

    accounts: int
    signal_columns: tuple[str, ...]
    unavailable: tuple[str, ...]


def _table_columns(con: Any, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [str(r[0]) for r in rows]


def _rate_limit_case(cfg: DetectConfig) -> str:
    default = int(cfg.rate_limits.get("default", 600))
    arms = " ".join(
        f"WHEN tier = '{str(k).replace(chr(39), '')}' THEN {int(v)}"
        for k, v in sorted(cfg.rate_limits.items())
        if k != "default"
    )
    return f"(CASE {arms} ELSE {default} END)" if arms else str(default)


def greatest_sql(cols: Sequence[str], alias: str) -> str:
    """SQL for the largest of the signal columns ``cols`` of table ``alias`` (NULL as 0)."""
    parts = [f"coalesce({alias}.{c}, 0)" for c in cols]
    return parts[0] if len(parts) == 1 else "greatest(" + ", ".join(parts) + ")"


def _signal_sql(sig_cols: list[str]) -> str:
    means = ", ".join(f"avg(s.{c}) AS {c}_mean" for c in sig_cols)
    shares = ", ".join(
        f"avg(CASE WHEN s.{c} >= 0.5 THEN 1.0 ELSE 0.0 END) AS {c}_share" for c in sig_cols
    )
    anysig = greatest_sql(sig_cols, "s")
    return f"""
        CREATE OR REPLACE TEMP TABLE _f_sig AS
        SELECT e.account_id, {means}, {shares},
               avg(CASE WHEN {anysig} >= 0.5 THEN 1.0 ELSE 0.0 END) AS distill_share
        FROM {{ev}} e JOIN prompt_signals s ON s.prompt_digest = e.prompt_digest
        GROUP BY e.account_id"""


def compute_features(con: Any, cfg: DetectConfig, *, events: str = "ev") -> FeatureReport:
    """Build ``account_features`` from the events table or view ``events``.

    Args:
        con: a DuckDB connection.
        cfg: detection configuration (rate limits, max_tokens cap, new-model grace).
        events: name of the events table or view to read (a view filters ``--until``).
    """
    ep = EPOCH.format("ts")
    cap = str(int(cfg.max_tokens_cap)) if cfg.max_tokens_cap > 0 else "coalesce(mc.cap, 0)"
    tables = {str(r[0]) for r in con.execute("SHOW TABLES").fetchall()}
    sig_cols: list[str] = []
    has_text = bool(
        con.execute(f"SELECT count(prompt_text) FROM {events}").fetchall()[0][0]  # noqa: S608
    )
    if "prompt_signals" in tables and has_text:
        sig_cols = [c for c in _table_columns(con, "prompt_signals") if c.startswith("sig_")]
    has_fam = (
        "prompt_signals" in tables
        and "template_families" in tables
        and "family_id" in _table_columns(con, "prompt_signals")
        and has_text
    )
    statements = [
        f"""CREATE OR REPLACE TEMP TABLE _f_cap AS
        SELECT model AS cap_model, max(param_max_tokens) AS cap FROM {events} GROUP BY model""",
        f"""CREATE OR REPLACE TEMP VIEW _f_ev AS
        SELECT account_id, org_id, ts, {ep} AS t, model, client_ip, client_asn, client_country,
               account_created_at, account_tier AS tier, account_verified,
               account_email_domain, {_CC_TLD} AS email_cc,
               param_max_tokens, {cap} AS model_cap, param_n, param_logprobs,
               param_reasoning_effort, param_tool_count, finish_reason, prompt_digest,
               CASE WHEN context_text IS NULL THEN prompt_digest
                    ELSE prompt_digest || md5(context_text) END AS exchange_digest,
               input_tokens, output_tokens
        FROM {events} LEFT JOIN _f_cap mc ON mc.cap_model = model""",
        f"""CREATE OR REPLACE TEMP TABLE _f_base AS
        SELECT account_id, min(org_id) AS org_id, count(*) AS n_events,
          sum(coalesce(input_tokens, 0)) AS input_tokens,
          sum(coalesce(output_tokens, 0)) AS output_tokens,
          min(ts) AS first_seen, max(ts) AS last_seen,
          (max(t) - min(t)) / 3600.0 AS span_hours,
          count(DISTINCT date_trunc('day', ts)) AS active_days,
          count(DISTINCT date_trunc('hour', ts)) AS active_hours,
          count(DISTINCT hour(ts)) / 24.0 AS hours_of_day_share,
          avg(sin(2 * pi() * (t - 86400.0 * floor(t / 86400.0)) / 86400.0)) AS day_sin,
          avg(cos(2 * pi() * (t - 86400.0 * floor(t / 86400.0)) / 86400.0)) AS day_cos,
          avg(CASE WHEN param_max_tokens IS NOT NULL AND param_max_tokens >= model_cap
              THEN 1.0 ELSE 0.0 END) AS max_tokens_cap_share,
          avg(CASE WHEN finish_reason = 'length' THEN 1.0 ELSE 0.0 END) AS length_stop_share,
          avg(CASE WHEN param_logprobs THEN 1.0 ELSE 0.0 END) AS logprobs_share,
          avg(CASE WHEN param_n > 1 THEN 1.0 ELSE 0.0 END) AS multi_n_share,
          avg(CASE WHEN param_reasoning_effort = 'high' THEN 1.0 ELSE 0.0 END)
              AS high_effort_share,
          avg(CASE WHEN param_tool_count > 0 THEN 1.0 ELSE 0.0 END) AS tool_share,
          CASE WHEN count(exchange_digest) > 0
               THEN 1.0 - count(DISTINCT exchange_digest) * 1.0 / count(exchange_digest) END
              AS dup_prompt_share,
          count(DISTINCT model) AS n_models,
          min({EPOCH.format("account_created_at")}) AS created_t,
          min(tier) AS tier,
          max(CASE WHEN account_verified THEN 1 ELSE 0 END) AS verified,
          count(DISTINCT client_ip) AS n_ips,
          count(DISTINCT regexp_extract(client_ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1)) AS n_slash24,
          count(DISTINCT client_asn) AS n_asns,
          count(DISTINCT client_country) AS n_countries,
          CASE WHEN count(CASE WHEN email_cc <> '' AND client_country IS NOT NULL THEN 1 END) > 0
               THEN avg(CASE WHEN email_cc <> '' AND client_country IS NOT NULL
                   THEN (CASE WHEN lower(client_country) <> email_cc THEN 1.0 ELSE 0.0 END) END)
          END AS geo_mismatch_share
        FROM _f_ev GROUP BY account_id""",
        """CREATE OR REPLACE TEMP TABLE _f_iat AS
        SELECT account_id, CASE WHEN avg(dt) > 0 THEN stddev_pop(dt) / avg(dt) END AS iat_cv
        FROM (SELECT account_id, t - lag(t) OVER (PARTITION BY account_id ORDER BY t) AS dt
              FROM _f_ev) x
        WHERE dt IS NOT NULL GROUP BY account_id""",
        """CREATE OR REPLACE TEMP TABLE _f_hour AS
        SELECT account_id, -sum(p * ln(p)) / ln(24) AS hour_entropy
        FROM (SELECT account_id, count(*) * 1.0 / sum(count(*)) OVER (PARTITION BY account_id)
                     AS p
              FROM _f_ev GROUP BY account_id, hour(ts)) x
        GROUP BY account_id""",
        f"""CREATE OR REPLACE TEMP TABLE _f_rpm AS
        SELECT account_id, max(c) AS peak_rpm, avg(c) AS mean_rpm,
               max(c) * 1.0 / max(lim) AS rate_limit_peak_share,
               avg(c) * 1.0 / max(lim) AS rate_limit_mean_share
        FROM (SELECT account_id, count(*) AS c, max({_rate_limit_case(cfg)}) AS lim
              FROM _f_ev GROUP BY account_id, date_trunc('minute', ts)) x
        GROUP BY account_id""",
        f"""CREATE OR REPLACE TEMP TABLE _f_new AS
        WITH start AS (SELECT min(t) AS t0 FROM _f_ev),
        models AS (SELECT model, min(t) AS released FROM _f_ev WHERE model IS NOT NULL
                   GROUP BY model),
        fresh AS (SELECT m.model, m.released FROM models m, start s
                  WHERE m.released > s.t0 + {float(cfg.new_model_grace_hours) * 3600.0})
        SELECT e.account_id,
               avg(CASE WHEN f.model IS NOT NULL THEN 1.0 ELSE 0.0 END) AS new_model_share,
               (min(CASE WHEN f.model IS NOT NULL THEN e.t END) - min(f.released)) / 3600.0
                   AS new_model_lag_h
        FROM _f_ev e LEFT JOIN fresh f ON f.model = e.model
        GROUP BY e.account_id""",
    ]
    if sig_cols:
        statements.append(_signal_sql(sig_cols).replace("{ev}", "_f_ev"))
    if has_fam:
        fam_cols = _table_columns(con, "template_families")
        weight = "coalesce(tf.weight, 0.0)" if "weight" in fam_cols else "1.0"
        norgs = "coalesce(tf.n_orgs, 1)" if "n_orgs" in fam_cols else "2"
        statements.append(
            f"""CREATE OR REPLACE TEMP TABLE _f_fam AS
            WITH af AS (
              SELECT e.account_id, s.family_id, count(*) AS c
              FROM _f_ev e JOIN prompt_signals s ON s.prompt_digest = e.prompt_digest
              WHERE s.family_id IS NOT NULL GROUP BY e.account_id, s.family_id),
            p AS (SELECT af.*, c * 1.0 / sum(c) OVER (PARTITION BY account_id) AS p,
                         row_number() OVER (PARTITION BY account_id ORDER BY c DESC, af.family_id)
                             AS rk,
                         {weight} AS w, {norgs} AS n_orgs
                  FROM af LEFT JOIN template_families tf ON tf.family_id = af.family_id)
            SELECT account_id,
                   max(CASE WHEN rk = 1 THEN p END) AS top_family_share,
                   max(CASE WHEN rk = 1 THEN w END) AS top_family_weight,
                   sum(CASE WHEN n_orgs >= 2 AND w >= 0.5 THEN p ELSE 0 END)
                       AS rare_family_share,
                   count(*) AS n_families,
                   CASE WHEN count(*) > 1 THEN 1.0 + sum(p * ln(p)) / ln(count(*)) ELSE 1.0 END
                       AS topic_concentration
            FROM p GROUP BY account_id"""
        )
    for stmt in statements:
        con.execute(stmt).fetchall()
    sig_select = ""
    sig_join = ""
    if sig_cols:
        sig_select = (
            ", " + ", ".join(f"s.{c}_mean, s.{c}_share" for c in sig_cols) + ", s.distill_share"
        )
        sig_join = "LEFT JOIN _f_sig s USING (account_id)"
    else:
        sig_select = ", CAST(NULL AS DOUBLE) AS distill_share"
    fam_select = (
        ", f.top_family_share, f.top_family_weight, f.rare_family_share, f.n_families,"
        " f.topic_concentration"
        if has_fam
        else ", CAST(NULL AS DOUBLE) AS top_family_share, CAST(NULL AS DOUBLE) AS"
        " top_family_weight, CAST(NULL AS DOUBLE) AS rare_family_share,"
        " CAST(NULL AS BIGINT) AS n_families, CAST(NULL AS DOUBLE) AS topic_concentration"
    )
    fam_join = "LEFT JOIN _f_fam f USING (account_id)" if has_fam else ""
    con.execute(
        f"""CREATE OR REPLACE TABLE account_features AS
        SELECT b.account_id, b.org_id, b.n_events, b.input_tokens, b.output_tokens,
          CASE WHEN b.input_tokens > 0 THEN b.output_tokens * 1.0 / b.input_tokens END
              AS out_in_ratio,
          b.first_seen, b.last_seen, b.span_hours, b.active_days,
          b.n_events * 1.0 / b.active_hours AS events_per_active_hour,
          i.iat_cv, h.hour_entropy, b.hours_of_day_share,
          CASE WHEN b.span_hours >= 24 THEN b.active_hours / (floor(b.span_hours) + 1.0) END
              AS active_hour_share,
          (degrees(atan2(b.day_sin, b.day_cos)) + 360.0
           - 360.0 * floor((degrees(atan2(b.day_sin, b.day_cos)) + 360.0) / 360.0)) / 15.0
              AS hour_center,
          sqrt(b.day_sin * b.day_sin + b.day_cos * b.day_cos) AS hour_focus,
          r.peak_rpm, r.rate_limit_peak_share, r.rate_limit_mean_share,
          b.max_tokens_cap_share, b.length_stop_share, b.logprobs_share, b.multi_n_share,
          b.high_effort_share, b.tool_share, b.dup_prompt_share, b.n_models,
          n.new_model_share, n.new_model_lag_h,
          CASE WHEN b.created_t IS NOT NULL
               THEN greatest(({EPOCH.format("b.first_seen")} - b.created_t) / 86400.0, 0) END
              AS account_age_days,
          b.tier, b.verified, b.n_ips, b.n_slash24, b.n_asns, b.n_countries,
          b.geo_mismatch_share,
          percent_rank() OVER (ORDER BY b.n_events) AS volume_pct
          {sig_select} {fam_select}
        FROM _f_base b
        LEFT JOIN _f_iat i USING (account_id)
        LEFT JOIN _f_hour h USING (account_id)
        LEFT JOIN _f_rpm r USING (account_id)
        LEFT JOIN _f_new n USING (account_id)
        {sig_join} {fam_join}
        ORDER BY b.account_id"""
    ).fetchall()
    con.execute("DROP VIEW IF EXISTS _f_ev").fetchall()
    for t in ("_f_cap", "_f_base", "_f_iat", "_f_hour", "_f_rpm", "_f_new", "_f_sig", "_f_fam"):
        con.execute(f"DROP TABLE IF EXISTS {t}").fetchall()
    accounts = int(con.execute("SELECT count(*) FROM account_features").fetchall()[0][0])
    unavailable: list[str] = []
    if not sig_cols:
        unavailable.append("prompt signals (no prompt text)")
    if not has_fam:
        unavailable.append("template families (no prompt text)")
    return FeatureReport(accounts, tuple(sig_cols), tuple(unavailable))
