"""Peers' intel as a detection signal: ``intel_hits`` in the store become account features,
reasons, campaign evidence and peer-campaign groups.

``distillguard intel import`` / ``intel match`` leave one row per (local account, matched
indicator) in ``intel_hits``. The scan reads them here when the store has that table; without
it nothing in the scan changes.

Evidence is weighed by what it identifies, not by how many hits there are:

- *identity* (a peer's account id or payment fingerprint) and *content* (the peer's campaign
  prompt-template fingerprint) are strong: they are the adversary's own instruments;
- *infrastructure* (IP, /24, ASN, user agent, e-mail domain) is weak: residential proxies and
  NATs share exits with real users, and an IP and its /24 are the same evidence twice. Its
  combined weight is capped at ``[intel] infra_cap``, so infrastructure alone never reaches
  ``[intel] member_min_score``.

``score = 1 - (1 - identity)(1 - content)(1 - min(infra, infra_cap))``, each part combining
its hits' weights (:data:`distillguard.intel.tables.KIND_WEIGHTS`) as independent evidence.
Accounts at or above ``member_min_score`` that matched indicators of the same peer campaign
form a :class:`PeerGroup`; the scan folds each group into the local campaign holding most of
it, or makes it a campaign of its own (:func:`fold_peer_groups`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from distillguard.intel.config import IntelConfig

INFRA_KINDS: frozenset[str] = frozenset(
    {"ipv4", "ipv6", "cidr", "asn", "user_agent", "email_domain"}
)
IDENTITY_KINDS: frozenset[str] = frozenset({"account", "payment"})
CONTENT_KINDS: frozenset[str] = frozenset({"template"})

_KIND_TEXT: dict[str, str] = {
    "account": "account id",
    "payment": "payment instrument",
    "template": "prompt template",
    "ipv4": "IP address",
    "ipv6": "IP address",
    "cidr": "/24 network",
    "asn": "network (ASN)",
    "user_agent": "user agent",
    "email_domain": "e-mail domain",
}

#: Edge reasons of accounts linked because they matched the same peer indicator.
INTEL_EDGE_REASONS: dict[str, str] = {
    f"intel:{k}": f"match the same peer-shared {text} indicator" for k, text in _KIND_TEXT.items()
}

#: Account feature columns added to ``account_features`` (usable in rule conditions).
FEATURES: tuple[str, ...] = (
    "intel_score",
    "intel_identity",
    "intel_template",
    "intel_infra",
    "intel_indicators",
    "intel_producers",
    "intel_events",
)


@dataclass(frozen=True, slots=True)
class AccountIntel:
    """What peers' indicators say about one local account."""

    account_id: str
    score: float
    kinds: tuple[str, ...]
    producers: tuple[str, ...]
    indicators: int
    identity: int
    template: int
    infra: int
    events: int

    def reason(self) -> str:
        """The account's intel evidence in words (for accounts.csv and the report)."""
        kinds = ", ".join(_KIND_TEXT.get(k, k) for k in self.kinds)
        strength = kinds if self.identity or self.template else f"{kinds} (infrastructure only)"
        return (
            f"peer intel from {', '.join(self.producers)}: matches {strength} "
            f"({self.indicators} indicator{'s' if self.indicators != 1 else ''}, "
            f"{self.events} request{'s' if self.events != 1 else ''}; evidence {self.score:.2f})"
        )

    def features(self) -> dict[str, float]:
        """This account's values of :data:`FEATURES`."""
        return {
            "intel_score": self.score,
            "intel_identity": float(self.identity),
            "intel_template": float(self.template),
            "intel_infra": float(self.infra),
            "intel_indicators": float(self.indicators),
            "intel_producers": float(len(self.producers)),
            "intel_events": float(self.events),
        }


@dataclass(frozen=True, slots=True)
class PeerGroup:
    """Local accounts with strong evidence of belonging to one peer's campaign."""

    producer: str
    producer_id: str
    campaign_ref: str
    accounts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IntelSignals:
    """Everything the scan uses from ``intel_hits``."""

    accounts: dict[str, AccountIntel]
    groups: tuple[PeerGroup, ...]
    indicator_accounts: dict[str, tuple[str, frozenset[str]]]
    hits: int
    matched_at: datetime | None

    def join(self, table: pa.Table) -> pa.Table:
        """``table`` (``account_features``) with the :data:`FEATURES` columns appended.

        Accounts without hits get null, so rules on intel features never fire on them.
        """
        ids = [str(a) for a in table.column("account_id").to_pylist()]
        for name in FEATURES:
            values = [
                self.accounts[a].features()[name] if a in self.accounts else None for a in ids
            ]
            table = table.append_column(name, pa.array(values, type=pa.float64()))
        return table

    def campaign_evidence(self, members: Sequence[str], joined: int) -> dict[str, Any] | None:
        """The ``intel`` entry of a campaign's evidence, or None when no member was hit."""
        hit = [self.accounts[a] for a in members if a in self.accounts]
        if not hit:
            return None
        kinds: Counter[str] = Counter(k for a in hit for k in a.kinds)
        producers = sorted({p for a in hit for p in a.producers})
        refs = sorted({g.campaign_ref for g in self.groups if set(g.accounts) & set(members)})
        return {
            "producers": producers,
            "peer_campaigns": refs,
            "accounts_hit": len(hit),
            "accounts_strong": sum(1 for a in hit if a.identity or a.template),
            "accounts_joined_by_intel": joined,
            "kinds": dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))),
            "max_score": round(max(a.score for a in hit), 4),
        }

    def pair_counts(self, members: Iterable[str]) -> dict[str, int]:
        """Account pairs among ``members`` that matched one same indicator, per ``intel:kind``."""
        mset = set(members)
        out: Counter[str] = Counter()
        for kind, accounts in self.indicator_accounts.values():
            k = len(accounts & mset)
            if k >= 2:
                out[f"intel:{kind}"] += k * (k - 1) // 2
        return dict(out.most_common())


def evidence_score(hits: Iterable[tuple[str, float]], infra_cap: float) -> float:
    """Combine (kind, weight) hits into one score in [0, 1] (see the module docstring)."""
    miss = {"identity": 1.0, "content": 1.0, "infra": 1.0}
    for kind, weight in hits:
        part = "infra"
        if kind in IDENTITY_KINDS:
            part = "identity"
        elif kind in CONTENT_KINDS:
            part = "content"
        miss[part] *= 1.0 - min(max(weight, 0.0), 1.0)
    infra = min(1.0 - miss["infra"], infra_cap)
    return 1.0 - miss["identity"] * miss["content"] * (1.0 - infra)


def has_intel(con: Any) -> bool:
    """True when the store holds an ``intel_hits`` table (``intel import``/``match`` ran)."""
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'intel_hits' "
        "AND schema_name = current_schema()"
    ).fetchall()
    return bool(rows[0][0])


def load_intel_signals(
    con: Any, cfg: IntelConfig, *, until: datetime | None = None
) -> IntelSignals | None:
    """Read ``intel_hits`` into :class:`IntelSignals`; None when the store has no intel.

    Args:
        con: the store's DuckDB connection.
        cfg: ``[intel]`` (``infra_cap``, ``member_min_score``).
        until: ignore hits first seen after this instant (a scan replaying a prefix).
    """
    if not has_intel(con):
        return None
    # A far-future bound when not replaying keeps the statement fixed text.
    bound = until if until is not None else datetime(9999, 1, 1, tzinfo=UTC)
    rows = con.execute(
        "SELECT account_id, indicator_id, kind, coalesce(producer, producer_id, '?'), "
        "coalesce(producer_id, ''), coalesce(campaign_ref, ''), events, weight, matched_at "
        "FROM intel_hits WHERE first_ts IS NULL OR first_ts <= ? "
        "ORDER BY account_id, indicator_id",
        [bound if bound.tzinfo else bound.replace(tzinfo=UTC)],
    ).fetchall()
    per_account: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    indicator_accounts: dict[str, tuple[str, set[str]]] = {}
    matched_at: datetime | None = None
    for row in rows:
        account, iid, kind = str(row[0]), str(row[1]), str(row[2])
        per_account[account].append(row)
        indicator_accounts.setdefault(iid, (kind, set()))[1].add(account)
        if row[8] is not None and (matched_at is None or row[8] > matched_at):
            matched_at = row[8]
    accounts: dict[str, AccountIntel] = {}
    for account, hits in per_account.items():
        kinds = [str(h[2]) for h in hits]
        accounts[account] = AccountIntel(
            account_id=account,
            score=round(evidence_score(((str(h[2]), float(h[7])) for h in hits), cfg.infra_cap), 6),
            kinds=tuple(sorted(set(kinds))),
            producers=tuple(sorted({str(h[3]) for h in hits})),
            indicators=len({h[1] for h in hits}),
            identity=sum(1 for k in kinds if k in IDENTITY_KINDS),
            template=sum(1 for k in kinds if k in CONTENT_KINDS),
            infra=sum(1 for k in kinds if k in INFRA_KINDS),
            events=max(int(h[6] or 0) for h in hits),
        )
    return IntelSignals(
        accounts=accounts,
        groups=_groups(per_account, accounts, cfg.member_min_score),
        indicator_accounts={i: (k, frozenset(a)) for i, (k, a) in indicator_accounts.items()},
        hits=len(rows),
        matched_at=matched_at,
    )


def _groups(
    per_account: Mapping[str, list[tuple[Any, ...]]],
    accounts: Mapping[str, AccountIntel],
    min_score: float,
) -> tuple[PeerGroup, ...]:
    members: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for account, hits in per_account.items():
        if accounts[account].score < min_score:
            continue
        for h in hits:
            if h[5]:
                members[(str(h[4]), str(h[5]), str(h[3]))].add(account)
    return tuple(
        PeerGroup(producer=name, producer_id=pid, campaign_ref=ref, accounts=tuple(sorted(accs)))
        for (pid, ref, name), accs in sorted(members.items())
    )


def fold_peer_groups(
    pending: list[tuple[float, int, list[str], float]],
    signals: IntelSignals,
    n_events: Mapping[str, int],
    allowed: Mapping[str, Any],
    min_accounts: int,
) -> dict[str, str]:
    """Fold peer groups into ``pending`` campaigns (in place); return notes of who joined.

    A group whose accounts are partly members of a local campaign extends the campaign
    holding most of them; otherwise its accounts become a campaign of their own when there
    are at least ``min_accounts`` of them (the peer has already seen the campaign at scale,
    so no local volume minimum applies), with the median member evidence as its risk.
    Allow-listed accounts never join.

    Args:
        pending: ``(-volume, community, members, risk)`` entries, as :func:`decide` builds.
        signals: the scan's intel signals.
        n_events: requests per account.
        allowed: allow-listed account ids.
        min_accounts: smallest group that forms a campaign of its own.
    """
    notes: dict[str, str] = {}
    assigned = {a: i for i, p in enumerate(pending) for a in p[2]}
    for g in signals.groups:
        accs = [a for a in g.accounts if a in n_events and a not in allowed]
        fresh = [a for a in accs if a not in assigned]
        if not fresh:
            continue
        hit = Counter(assigned[a] for a in accs if a in assigned)
        if hit:
            idx = hit.most_common(1)[0][0]
            neg_vol, comm, members, risk = pending[idx]
            vol = sum(n_events[a] for a in fresh)
            pending[idx] = (neg_vol - vol, comm, sorted({*members, *fresh}), risk)
        elif len(fresh) >= min_accounts:
            scores = sorted(signals.accounts[a].score for a in fresh)
            idx = len(pending)
            volume = sum(n_events[a] for a in fresh)
            pending.append((-float(volume), -1000 - idx, sorted(fresh), scores[len(scores) // 2]))
        else:
            continue
        note = (
            f"joined through peer intel: {len(g.accounts)} local accounts match "
            f"{g.producer}'s campaign indicators"
        )
        for a in fresh:
            assigned[a] = idx
            notes[a] = note
    return notes
