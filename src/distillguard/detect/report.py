"""report.html: the scan's results for a person to read (Jinja2, self-contained)."""
# ruff: noqa: S608  -- SQL is assembled from fixed identifiers and numbers from the config;
# values that come from data are passed as parameters or quoted by the caller.

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from distillguard.detect.campaigns import AccountVerdict, Campaign
from distillguard.detect.intel_signal import INTEL_EDGE_REASONS, IntelSignals
from distillguard.detect.linking import EDGE_REASONS
from distillguard.detect.ruleset import Rule
from distillguard.detect.svg import bar_chart, hbar_chart

_TEMPLATE = Path(__file__).with_name("report.html.j2")
_INTEL_TEMPLATE = Path(__file__).with_name("report_intel.html.j2")
MAX_PROMPT_CHARS = 400
MAX_INTEL_ROWS = 50


def _svg(markup: str) -> Markup:
    """Mark SVG built by :mod:`distillguard.detect.svg` (which escapes every text) as safe."""
    return Markup(markup)  # noqa: S704


def _series(
    con: Any, members: Sequence[str], unit: str
) -> tuple[list[str], list[float], list[float]]:
    con.execute("CREATE OR REPLACE TEMP TABLE _r_m (account_id VARCHAR)").fetchall()
    con.executemany("INSERT INTO _r_m VALUES (?)", [(a,) for a in members])
    rows = con.execute(
        f"""SELECT date_trunc('{unit}', e.ts) AS b, count(*), count(DISTINCT e.account_id)
            FROM ev e JOIN _r_m m USING (account_id) GROUP BY 1 ORDER BY 1"""  # noqa: S608
    ).fetchall()
    fmt = "%Y-%m-%d %H:00" if unit == "hour" else "%Y-%m-%d"
    return (
        [r[0].strftime(fmt) for r in rows],
        [float(r[1]) for r in rows],
        [float(r[2]) for r in rows],
    )


def _examples(con: Any, show: bool, k: int = 5) -> list[dict[str, Any]]:
    rows = con.execute(
        f"""SELECT prompt_digest, any_value(prompt_text), count(*) AS n
            FROM ev e JOIN _r_m m USING (account_id)
            WHERE prompt_digest IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1 LIMIT {int(k)}"""
    ).fetchall()
    out = []
    for digest, text, n in rows:
        if show and text is not None:
            shown = text if len(text) <= MAX_PROMPT_CHARS else text[:MAX_PROMPT_CHARS] + " …"
        else:
            shown = f"[redacted: {len(text or '')} characters, digest {digest}]"
        out.append({"digest": digest, "text": shown, "count": int(n)})
    return out


def _intel_section(
    env: jinja2.Environment,
    intel: IntelSignals | None,
    notes: Sequence[str],
    verdicts: Sequence[AccountVerdict],
    campaigns: Sequence[Campaign],
) -> Markup:
    """The peer-intel section (empty when the store holds no intel hits)."""
    if intel is None:
        return Markup("")
    by_id = {v.account_id: v for v in verdicts}
    ranked = sorted(intel.accounts.values(), key=lambda a: (-a.score, a.account_id))
    html = env.from_string(_INTEL_TEMPLATE.read_text(encoding="utf-8")).render(
        notes=list(notes),
        campaign_rows=[
            (c.campaign_id, c.evidence["intel"]) for c in campaigns if "intel" in c.evidence
        ],
        accounts=[(a, by_id.get(a.account_id)) for a in ranked[:MAX_INTEL_ROWS]],
        more=max(len(ranked) - MAX_INTEL_ROWS, 0),
    )
    return Markup(html)  # noqa: S704 - rendered by an autoescaping environment


def render_report(
    con: Any,
    path: Path,
    *,
    verdicts: Sequence[AccountVerdict],
    campaigns: Sequence[Campaign],
    rules: Sequence[Rule],
    unavailable: Sequence[str],
    counts: Mapping[str, int],
    n_events: int,
    edges_by_kind: Mapping[str, int],
    show_prompts: bool = False,
    until: datetime | None = None,
    communities: int = 0,
    intel: IntelSignals | None = None,
    notes: Sequence[str] = (),
) -> None:
    """Render report.html from the scan's tables (view ``ev``) and results.

    ``intel`` (peers' indicators matched locally) and ``notes`` add the peer-intel section.
    """
    span = con.execute("SELECT min(ts), max(ts) FROM ev").fetchall()[0]
    unit = (
        "hour"
        if span[0] is not None and (span[1] - span[0]).total_seconds() <= 3 * 86400
        else "day"
    )
    reasons = {**EDGE_REASONS, **INTEL_EDGE_REASONS}
    camps = []
    for c in campaigns[:50]:
        labels, volume, active = _series(con, c.accounts, unit)
        tactics = [t for t in c.tactics if t.get("share") is not None]
        camps.append(
            {
                "c": c,
                "volume_svg": _svg(bar_chart(labels, volume, title=f"Requests per {unit}")),
                "accounts_svg": _svg(
                    bar_chart(labels, active, title=f"Active accounts per {unit}", color="#2980b9")
                ),
                "tactic_svg": _svg(
                    hbar_chart(
                        [t["name"] for t in tactics],
                        [float(t["share"]) for t in tactics],
                        title="Tactic mix (share of campaign traffic)",
                    )
                ),
                "examples": _examples(con, show_prompts),
                "edges": [(k, reasons.get(k, k), n) for k, n in c.evidence["edges"].items()],
                "sample_edges": con.execute(
                    """SELECT a, b, kind, round(weight, 3), evidence FROM account_edges
                   WHERE a IN (SELECT account_id FROM _r_m) AND b IN (SELECT account_id FROM _r_m)
                   ORDER BY weight DESC, a, b LIMIT 15"""
                ).fetchall(),
            }
        )
    fired: dict[str, int] = {}
    for v in verdicts:
        for rid in v.rules:
            fired[rid] = fired.get(rid, 0) + 1
    rule_rows = [(r, fired.get(r.id, 0)) for r in rules]
    suspects = sorted((v for v in verdicts if v.verdict == "suspect"), key=lambda v: -v.risk)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    intel_html = _intel_section(env, intel, notes, verdicts, campaigns)
    html = env.from_string(_TEMPLATE.read_text(encoding="utf-8")).render(
        campaigns=camps,
        counts=counts,
        n_events=n_events,
        n_accounts=len(verdicts),
        unavailable=list(unavailable),
        rules=rule_rows,
        suspects=suspects[:50],
        edges_by_kind=sorted(edges_by_kind.items(), key=lambda kv: -kv[1]),
        edge_reasons=reasons,
        intel_html=intel_html,
        span=span,
        until=until,
        show_prompts=show_prompts,
        communities=communities,
    )
    path.write_text(html, encoding="utf-8")
