"""Family-level campaign evidence: a rare wrapper whose users are an extraction crowd.

Pairwise edges need volume per account (a template-family edge wants a few requests of each
account in the family); a campaign's wrapper family does not. A template family shared
across several organisations, whose requests are mostly new prompts carrying distillation
content, and whose users each spend a good share of their (possibly tiny) traffic in it, is
evidence on its own: the family's user set is a candidate campaign from the first requests
of a slow-and-low fleet on.

Guards (each a tactic a legitimate crowd shows, not a generator constant):

* one organisation's template (an enterprise app) needs ``n_orgs >= family_crowd_min_orgs``;
* an evaluation harness re-runs the same prompts: the family must be mostly distinct prompts
  (``n_prompts / n_events``) and each user mostly new prompts;
* a popular public template is used by established accounts that mostly do other things:
  those users fail the per-user fit (share of their requests in the family, their content),
  and a family where fewer than ``family_crowd_min_fit`` of the users fit is dropped whole;
* licensed customers are removed by the allow-list when verdicts are decided.

Families that share a fitting user are grouped (a campaign rotates paraphrased wrappers).
The groups go to :func:`distillguard.detect.campaigns.decide`, which scores them with the
same community score as graph communities and merges them into a graph campaign that
already holds their members.
"""
# ruff: noqa: S608  -- SQL is assembled from fixed identifiers and numbers from the config.

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distillguard.detect.config import DetectConfig
from distillguard.detect.unionfind import DisjointSets


@dataclass(frozen=True, slots=True)
class FamilyGroup:
    """Template families that share fitting users, and those users.

    Attributes:
        families: family ids of the group.
        accounts: users that fit (share of their traffic in the group's families, content).
        users: every account that sent at least one request in the group's families.
        events: requests in the group's families.
        distill_share: share of those requests carrying distillation content.
    """

    families: tuple[int, ...]
    accounts: tuple[str, ...]
    users: int
    events: int
    distill_share: float


@dataclass(frozen=True, slots=True)
class FamilyEvidence:
    """What :func:`family_groups` found."""

    groups: tuple[FamilyGroup, ...]
    families_checked: int
    families_flagged: int


def _sql(cfg: DetectConfig, events: str, sig_cols: Sequence[str]) -> str:
    anysig = "greatest(" + ", ".join(f"coalesce(p.{c}, 0)" for c in sig_cols) + ")"
    if len(sig_cols) == 1:
        anysig = f"coalesce(p.{sig_cols[0]}, 0)"
    return f"""
    WITH fe AS (
      SELECT e.account_id, p.family_id,
             CASE WHEN {anysig} >= 0.5 THEN 1 ELSE 0 END AS d
      FROM {events} e JOIN prompt_signals p ON p.prompt_digest = e.prompt_digest
      WHERE p.family_id >= 0),
    fa AS (SELECT family_id, account_id, count(*) AS n, sum(d) AS nd FROM fe GROUP BY ALL),
    u AS (
      SELECT fa.family_id, fa.account_id, fa.n, fa.nd,
             (fa.n * 1.0 / greatest(a.n_events, 1) >= {float(cfg.family_crowd_min_share)}
              AND coalesce(a.distill_share, 0) >= {float(cfg.attach_min_content)}
              AND coalesce(a.dup_prompt_share, 0) < 0.5) AS fits
      FROM fa JOIN account_features a ON a.account_id = fa.account_id),
    fam AS (
      SELECT family_id, count(*) AS users, sum(n) AS events, sum(nd) * 1.0 / sum(n) AS dshare,
             avg(CASE WHEN fits THEN 1.0 ELSE 0.0 END) AS fit_share
      FROM u GROUP BY family_id),
    ok AS (
      SELECT fam.* FROM fam JOIN template_families tf ON tf.family_id = fam.family_id
      WHERE tf.n_orgs >= {int(cfg.family_crowd_min_orgs)}
        AND tf.n_prompts >= {float(cfg.family_crowd_min_distinct)} * tf.n_events
        AND fam.dshare >= {float(cfg.attach_min_content)}
        AND fam.fit_share >= {float(cfg.family_crowd_min_fit)}
        AND fam.users >= {int(cfg.family_crowd_min_accounts)})
    SELECT ok.family_id, ok.users, ok.events, ok.dshare, u.account_id
    FROM ok JOIN u ON u.family_id = ok.family_id WHERE u.fits
    ORDER BY ok.family_id, u.account_id"""


def group_families(
    rows: Sequence[tuple[int, int, int, float, str]], min_accounts: int
) -> tuple[FamilyGroup, ...]:
    """Group flagged families that share a fitting user (union-find over families).

    Args:
        rows: ``(family_id, users, events, distill_share, account_id)``, one per fitting user.
        min_accounts: smallest group kept (fitting users).
    """
    sets: DisjointSets[int] = DisjointSets()
    fam_stats: dict[int, tuple[int, int, float]] = {}
    first_family: dict[str, int] = {}
    for fid, users, events, dshare, acc in rows:
        fam_stats[fid] = (int(users), int(events), float(dshare))
        sets.find(fid)
        if acc in first_family:
            ra, rb = sets.find(first_family[acc]), sets.find(fid)
            if ra != rb:  # the smallest family id is the group's root
                sets.link(max(ra, rb), min(ra, rb))
        else:
            first_family[acc] = fid
    fams: dict[int, set[int]] = defaultdict(set)
    for fid in fam_stats:
        fams[sets.find(fid)].add(fid)
    accs: dict[int, set[str]] = defaultdict(set)
    for fid, *_, acc in rows:
        accs[sets.find(fid)].add(acc)
    out = []
    for root, members in sorted(fams.items()):
        accounts = accs[root]
        if len(accounts) < min_accounts:
            continue
        events = sum(fam_stats[f][1] for f in members)
        distill = sum(fam_stats[f][1] * fam_stats[f][2] for f in members) / max(events, 1)
        out.append(
            FamilyGroup(
                families=tuple(sorted(members)),
                accounts=tuple(sorted(accounts)),
                users=sum(fam_stats[f][0] for f in members),
                events=events,
                distill_share=distill,
            )
        )
    return tuple(out)


def family_groups(
    con: Any, cfg: DetectConfig, *, events: str = "ev", sig_cols: Sequence[str] = ()
) -> FamilyEvidence:
    """Find template families whose users form an extraction crowd, grouped by shared users.

    Needs ``prompt_signals``, ``template_families`` and ``account_features`` (text mode);
    returns no groups when they are missing, when there are no signal columns or when
    ``family_crowd_min_accounts`` is 0 (disabled).

    Args:
        con: a DuckDB connection.
        cfg: thresholds (``family_crowd_*``, ``attach_min_content``).
        events: events table or view.
        sig_cols: the ``sig_*`` columns of ``prompt_signals``.
    """
    if not sig_cols or int(cfg.family_crowd_min_accounts) <= 0:
        return FamilyEvidence((), 0, 0)
    have = {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name IN "
            "('prompt_signals', 'template_families', 'account_features')"
        ).fetchall()
    }
    if len(have) < 3:
        return FamilyEvidence((), 0, 0)
    rows = [
        (int(f), int(u), int(n), float(d), str(a))
        for f, u, n, d, a in con.execute(_sql(cfg, events, sig_cols)).fetchall()
    ]
    checked = int(con.execute("SELECT count(*) FROM template_families").fetchall()[0][0])
    groups = group_families(rows, int(cfg.family_crowd_min_accounts))
    return FamilyEvidence(groups, checked, len({r[0] for r in rows}))
