"""The console's read queries over :class:`distillguard.console.data.ScanData`.

Every function takes request values as bound parameters and returns plain rows (dicts) or
a :class:`Page`; sorting keys come from fixed allow-lists, never from the request verbatim.
"""
# ruff: noqa: S608  -- only fixed identifiers are formatted into SQL; values are parameters.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distillguard.console.data import CampaignInfo, Page, ScanData
from distillguard.detect.features import FEATURE_DOCS
from distillguard.detect.linking import EDGE_REASONS

MAX_PROMPT_CHARS = 600

#: member-list sort key -> its precomputed rank column in ``c_member_rows``.
MEMBER_SORTS: dict[str, str] = {
    "risk": "r_risk",
    "volume": "r_volume",
    "first_seen": "r_first_seen",
    "account": "r_account",
}


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Filters of the campaign queue."""

    status: str = ""
    tactic: str = ""
    q: str = ""
    min_size: int = 0


def queue(
    data: ScanData, status_of: dict[str, str], flt: QueueFilter, page: int, size: int
) -> tuple[list[tuple[CampaignInfo, str]], int]:
    """Campaigns ranked by risk (then volume), filtered; returns one page and the total."""
    hits: set[str] | None = None
    q = flt.q.strip()
    if q:
        hits = {c for c in data.campaigns if q.lower() in c.lower()}
        hits |= {
            r["campaign_id"]
            for r in data.rows(
                "SELECT DISTINCT campaign_id FROM c_members WHERE account_id = ? "
                "OR account_id LIKE ? ESCAPE '\\'",
                [q, _like_prefix(q)],
            )
        }
    out = []
    for c in data.campaigns.values():
        st = status_of.get(c.campaign_id, "new")
        if flt.status and st != flt.status:
            continue
        if flt.tactic and not any(
            flt.tactic.lower() in (t.name.lower(), *(a.lower() for a in t.atlas))
            or flt.tactic.lower() in t.name.lower()
            for t in c.tactics
        ):
            continue
        if c.size < flt.min_size or (hits is not None and c.campaign_id not in hits):
            continue
        out.append((c, st))
    out.sort(key=lambda x: (-x[0].risk, -x[0].volume, x[0].campaign_id))
    start = (page - 1) * size
    return out[start : start + size], len(out)


def members(data: ScanData, campaign_id: str, page: int, size: int, sort: str) -> Page:
    """Member accounts of a campaign with their verdict and headline features."""
    rank = MEMBER_SORTS.get(sort, MEMBER_SORTS["risk"])
    first = (page - 1) * size
    rows = data.rows(
        f"""SELECT account_id, org_id, risk, verdict, n_events, first_seen, last_seen, tier,
                top_reasons FROM c_member_rows
            WHERE campaign_id = ? AND {rank} > ? AND {rank} <= ? ORDER BY {rank}""",
        [campaign_id, first, first + size],
    )
    return Page(rows, data.counts.get(campaign_id, (0, 0))[0], page, size)


def timeline(data: ScanData, campaign_id: str) -> list[dict[str, Any]]:
    """Events and active accounts per time bucket of a campaign."""
    return data.rows(
        "SELECT bucket, events, accounts FROM c_campaign_buckets WHERE campaign_id = ? "
        "ORDER BY bucket",
        [campaign_id],
    )


def account_timeline(data: ScanData, account_id: str) -> list[dict[str, Any]]:
    """Events per time bucket of one account."""
    return data.rows(
        "SELECT bucket, n AS events FROM c_buckets WHERE account_id = ? ORDER BY bucket",
        [account_id],
    )


def reason_text(kind: str, weight: float | None = None, evidence: int | None = None) -> str:
    """Why two accounts are linked by an edge of ``kind``, in words."""
    text = f"they {EDGE_REASONS.get(kind, kind.replace('_', ' '))}"
    extra = []
    if weight is not None:
        extra.append(f"weight {weight:.2f}")
    if evidence is not None:
        unit = "shared minutes" if kind == "lockstep" else "shared keys"
        extra.append(f"{evidence} {unit}")
    return text + (f" ({', '.join(extra)})" if extra else "")


def strongest_links(data: ScanData, campaign_id: str, page: int, size: int) -> Page:
    """Linked pairs inside a campaign, strongest first, each with every reason."""
    first = (page - 1) * size
    rows = data.rows(
        "SELECT a, b, weight, reasons FROM c_pairs WHERE campaign_id = ? AND rank > ? "
        "AND rank <= ? ORDER BY rank",
        [campaign_id, first, first + size],
    )
    for r in rows:
        r["reasons"] = [reason_text(e["kind"], e["weight"], e["evidence"]) for e in r["reasons"]]
    return Page(rows, data.counts.get(campaign_id, (0, 0))[1], page, size)


def edge_reasons(
    data: ScanData, a: str, b: str, campaign_id: str | None = None
) -> list[dict[str, Any]]:
    """Every edge kind between two accounts with weight, evidence and the reason in words."""
    lo, hi = min(a, b), max(a, b)
    if campaign_id is not None:
        rows = data.rows(
            "SELECT kind, weight, evidence FROM c_edges WHERE campaign_id = ? AND a = ? AND b = ? "
            "ORDER BY weight DESC",
            [campaign_id, lo, hi],
        )
    elif "account_edges" in data.tables:
        rows = data.rows(
            "SELECT kind, CAST(weight AS DOUBLE) AS weight, CAST(evidence AS BIGINT) AS evidence "
            "FROM scan.account_edges WHERE a = ? AND b = ? ORDER BY weight DESC",
            [lo, hi],
        )
    else:
        rows = []
    for r in rows:
        r["text"] = reason_text(r["kind"], r["weight"], r["evidence"])
    return rows


def edge_kinds(data: ScanData, campaign_id: str) -> list[dict[str, Any]]:
    """Edges per kind inside a campaign, with the reason in words."""
    rows = data.rows(
        "SELECT kind, edges, mean_weight FROM c_kinds WHERE campaign_id = ? "
        "ORDER BY edges DESC, kind",
        [campaign_id],
    )
    for r in rows:
        r["reason"] = EDGE_REASONS.get(r["kind"], r["kind"])
    return rows


def redact(text: str | None, digest: str | None, show: bool) -> str:
    """The prompt text when allowed (trimmed), else its length and digest."""
    if show and text is not None:
        return text if len(text) <= MAX_PROMPT_CHARS else text[:MAX_PROMPT_CHARS] + " …"
    if text is None:
        return "[no text stored]"
    return f"[redacted: {len(text)} characters, digest {digest or '-'}]"


def families(data: ScanData, campaign_id: str, show: bool) -> list[dict[str, Any]]:
    """The campaign's most used template families, with an example prompt of each."""
    if "template_families" not in data.tables:
        return []
    rows = data.rows(
        """SELECT c.family_id, c.events, c.accounts, t.n_accounts, t.n_orgs, t.weight,
                  t.example
           FROM c_families c LEFT JOIN scan.template_families t USING (family_id)
           WHERE c.campaign_id = ? ORDER BY c.events DESC""",
        [campaign_id],
    )
    for r in rows:
        r["example"] = redact(r["example"], f"family {r['family_id']}", show)
    return rows


def example_prompts(
    data: ScanData, accounts: Sequence[str], show: bool, k: int = 6
) -> list[dict[str, Any]]:
    """A few prompts sent by ``accounts`` (redacted unless ``show``)."""
    if not accounts:
        return []
    marks = ", ".join("?" for _ in accounts)
    rows = data.rows(
        f"""SELECT account_id, ts, model, prompt_digest, prompt_text FROM scan.events
            WHERE account_id IN ({marks}) AND prompt_digest IS NOT NULL LIMIT ?""",
        [*accounts, k],
    )
    for r in rows:
        r["text"] = redact(r.pop("prompt_text"), r["prompt_digest"], show)
    return rows


def account(data: ScanData, account_id: str) -> dict[str, Any] | None:
    """One account's verdict, features and campaign, or None when unknown."""
    rows = data.rows("SELECT * FROM scan.account_features WHERE account_id = ?", [account_id])
    if not rows:
        return None
    out = rows[0]
    v = data.rows("SELECT * FROM c_verdicts WHERE account_id = ?", [account_id])
    out["verdict"] = v[0] if v else None
    out["campaign_id"] = data.campaign_of(account_id)
    return out


def feature_table(data: ScanData, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Each feature of an account with its percentile in the population and the median/p90."""
    pct = data.rows("SELECT * FROM c_pct WHERE account_id = ?", [row["account_id"]])
    p = pct[0] if pct else {}
    out = []
    for f in data.features:
        med, p90 = data.population.get(f, (None, None))
        out.append(
            {
                "feature": f,
                "doc": FEATURE_DOCS.get(f, _signal_doc(f)),
                "value": row.get(f),
                "percentile": None if p.get(f) is None else 100.0 * float(p[f]),
                "median": med,
                "p90": p90,
            }
        )
    return out


def intel_hits(data: ScanData, accounts_sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Imported indicators that matched the accounts selected by ``accounts_sql``."""
    if "intel_hits" not in data.tables:
        return []
    return data.rows(
        f"""SELECT indicator_id, kind, producer, campaign_ref, count(DISTINCT account_id)
                AS accounts, sum(events) AS events, min(first_ts) AS first_ts,
                max(last_ts) AS last_ts, max(weight) AS weight
            FROM scan.intel_hits WHERE account_id IN ({accounts_sql})
            GROUP BY ALL ORDER BY accounts DESC, events DESC LIMIT 100""",
        params,
    )


def _signal_doc(name: str) -> str:
    if name.startswith("sig_"):
        base = name.removeprefix("sig_")
        for suffix, what in (("_share", "share of requests flagged"), ("_mean", "mean score")):
            if base.endswith(suffix):
                return f"{what} by the {base.removesuffix(suffix).replace('_', ' ')} signal"
    return name.replace("_", " ")


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
