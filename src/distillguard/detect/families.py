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
from dataclasses import dataclass, replace
from typing import Any

from distillguard.detect.config import DetectConfig
from distillguard.detect.features import greatest_sql
from distillguard.detect.unionfind import DisjointSets
from distillguard.errors import ConfigError


@dataclass(frozen=True, slots=True)
class FamilyGroup:
    """Template families that share fitting users, and those users.

    Attributes:
        families: family ids of the group.
        accounts: users that fit (share of their traffic in the group's families, content).
        users: every account that sent at least one request in the group's families.
        events: requests in the group's families.
        distill_share: share of those requests carrying distillation content.
        verbatim: the group is identical prompts without a template family (see
            :func:`verbatim_groups`); ``families`` then numbers those prompts.
    """

    families: tuple[int, ...]
    accounts: tuple[str, ...]
    users: int
    events: int
    distill_share: float
    verbatim: bool = False


@dataclass(frozen=True, slots=True)
class FamilyEvidence:
    """What :func:`family_groups` found."""

    groups: tuple[FamilyGroup, ...]
    families_checked: int
    families_flagged: int


def _fits_sql(cfg: DetectConfig, requests: str) -> str:
    """SQL predicate of a fitting crowd user (``account_features a``): ``requests`` of its
    requests in the crowd's families or probes are at least ``family_crowd_min_share`` of all
    it sent, its content is ``attach_min_content`` or more, and fewer than half are repeats."""
    return (
        f"{requests} * 1.0 / greatest(a.n_events, 1) >= {float(cfg.family_crowd_min_share)}\n"
        f"        AND coalesce(a.distill_share, 0) >= {float(cfg.attach_min_content)}\n"
        "        AND coalesce(a.dup_prompt_share, 0) < 0.5"
    )


def _sql(cfg: DetectConfig, events: str, sig_cols: Sequence[str]) -> str:
    anysig = greatest_sql(sig_cols, "p")
    return f"""
    WITH fe AS (
      SELECT e.account_id, p.family_id,
             CASE WHEN {anysig} >= 0.5 THEN 1 ELSE 0 END AS d
      FROM {events} e JOIN prompt_signals p ON p.prompt_digest = e.prompt_digest
      WHERE p.family_id >= 0),
    fa AS (SELECT family_id, account_id, count(*) AS n, sum(d) AS nd FROM fe GROUP BY ALL),
    u AS (
      SELECT fa.family_id, fa.account_id, fa.n, fa.nd,
             ({_fits_sql(cfg, "fa.n")}) AS fits
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


def _verbatim_sql(
    cfg: DetectConfig, events: str, sig_cols: Sequence[str], probe_cols: Sequence[str]
) -> str:
    anysig, probe = greatest_sql(sig_cols, "p"), greatest_sql(probe_cols, "p")
    return f"""
    WITH de AS (
      SELECT e.account_id, e.org_id, e.prompt_digest,
             CASE WHEN {anysig} >= 0.5 THEN 1 ELSE 0 END AS d,
             CASE WHEN {probe} >= 0.5 THEN 1 ELSE 0 END AS pr
      FROM {events} e JOIN prompt_signals p ON p.prompt_digest = e.prompt_digest
      WHERE p.family_id < 0),
    dg AS (
      SELECT prompt_digest, count(DISTINCT account_id) AS users,
             count(DISTINCT coalesce(org_id, account_id)) AS orgs, count(*) AS n,
             avg(d) AS dshare, avg(pr) AS pshare
      FROM de GROUP BY prompt_digest),
    ok AS (
      SELECT prompt_digest, users, n, dshare,
             dense_rank() OVER (ORDER BY prompt_digest) AS pid
      FROM dg WHERE users >= 2 AND orgs >= 2 AND pshare >= 0.5),
    da AS (
      SELECT de.account_id, ok.pid, ok.users, ok.n AS digest_events, ok.dshare,
             count(*) AS k
      FROM de JOIN ok ON ok.prompt_digest = de.prompt_digest
      GROUP BY de.account_id, ok.pid, ok.users, ok.n, ok.dshare),
    share AS (SELECT account_id, sum(k) AS k FROM da GROUP BY account_id),
    fits AS (
      SELECT s.account_id FROM share s JOIN account_features a ON a.account_id = s.account_id
      WHERE {_fits_sql(cfg, "s.k")})
    SELECT da.pid, da.users, da.digest_events, da.dshare, da.account_id
    FROM da JOIN fits ON fits.account_id = da.account_id
    ORDER BY da.pid, da.account_id"""


def verbatim_groups(
    con: Any, cfg: DetectConfig, *, events: str = "ev", sig_cols: Sequence[str] = ()
) -> tuple[FamilyGroup, ...]:
    """Identical probing prompts that many unrelated accounts send, grouped by shared users.

    Template families count a shingle over *distinct* prompts, so an attack sent verbatim
    (a short extraction string from a public list, sent by a fleet's accounts one or two
    times each) is one prompt, has no "wrapper" and no family, and the family crowds above
    never see it. Here a prompt without a family whose requests mostly carry a probing
    signal (``verbatim_crowd_signals``) and that accounts of two or more organisations sent
    is a shared probe; probes that share a fitting user are grouped (a fleet draws each
    account's few attacks from one list), and a group is kept with at least
    ``family_crowd_min_accounts`` fitting users (at least ``family_crowd_min_share`` of
    their requests in the group's probes, ``attach_min_content`` distillation content,
    fewer than half of them repeats). The groups are scored like family crowds by
    :func:`distillguard.detect.campaigns.decide`.
    """
    from distillguard.detect.signals.registry import SIGNALS  # the models load lazily

    unknown = sorted(set(cfg.verbatim_crowd_signals) - set(SIGNALS))
    if unknown:
        raise ConfigError(
            f"[detect] verbatim_crowd_signals: unknown signal(s) {', '.join(unknown)} "
            f"(known: {', '.join(SIGNALS)})"
        )
    wanted = [f"sig_{n}" for n in cfg.verbatim_crowd_signals]
    probe_cols = [c for c in sig_cols if c in wanted]
    if not probe_cols or int(cfg.family_crowd_min_accounts) <= 0:
        return ()
    rows = [
        (int(f), int(u), int(n), float(d), str(a))
        for f, u, n, d, a in con.execute(
            _verbatim_sql(cfg, events, sig_cols, probe_cols)
        ).fetchall()
    ]
    groups = group_families(rows, int(cfg.family_crowd_min_accounts))
    return tuple(replace(g, verbatim=True) for g in groups)


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
    """Find template families whose users form an extraction crowd, grouped by shared users,
    and (appended to the groups) the shared verbatim probes of :func:`verbatim_groups`.

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
    verbatim = verbatim_groups(con, cfg, events=events, sig_cols=sig_cols)
    return FamilyEvidence(groups + verbatim, checked, len({r[0] for r in rows}))
