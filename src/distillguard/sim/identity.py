"""Account identities and client infrastructure shared by personas and campaigns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillguard.sim import infra
from distillguard.sim.world import World


@dataclass(frozen=True, slots=True)
class Accounts:
    """Accounts registered in the world: slot indices per account (one per API key)."""

    slots: list[list[int]]
    orgs: list[str]
    countries: list[str]

    def pick_slot(self, rng: np.random.Generator, acc: np.ndarray) -> np.ndarray:
        """A slot per request (a random key of the request's account)."""
        first = np.array([s[0] for s in self.slots], dtype=np.int64)
        nkeys = np.array([len(s) for s in self.slots], dtype=np.int64)
        return np.asarray(first[acc] + (rng.random(len(acc)) * nkeys[acc]).astype(np.int64))


def email_domains(
    rng: np.random.Generator, n: int, mix: dict[str, float], custom: list[str]
) -> list[str]:
    """E-mail domains by mix: webmail, disposable, university, corporate/custom (``custom``)."""
    kinds = sorted(mix)
    w = np.array([mix[k] for k in kinds], dtype=float)
    pick = rng.choice(len(kinds), size=n, p=w / w.sum())
    out = []
    for i in pick.tolist():
        k = kinds[i]
        if k == "webmail":
            out.append(infra.pick_webmail(rng))
        elif k == "disposable":
            out.append(infra.DISPOSABLE[int(rng.random() * len(infra.DISPOSABLE))])
        elif k == "university":
            out.append(infra.UNIVERSITIES[int(rng.random() * len(infra.UNIVERSITIES))])
        else:
            out.append(custom[int(rng.random() * len(custom))] if custom else infra.org_domain(rng))
    return out


def register(
    world: World,
    rng: np.random.Generator,
    *,
    n: int,
    source: str,
    campaign_id: str,
    orgs: list[str],
    countries: list[str],
    created_at: np.ndarray,
    emails: list[str],
    payments: list[str],
    tiers: list[str],
    verified: np.ndarray,
    keys_per_account: int = 1,
    org_keys: dict[str, list[str]] | None = None,
) -> Accounts:
    """Register ``n`` accounts with random ids; org-level keys are shared when given."""
    ids = infra.random_ids(rng, "acct_", n)
    own_keys = infra.random_ids(rng, "key_", n * keys_per_account, 6)
    slots = []
    for i in range(n):
        if org_keys is not None and orgs[i] in org_keys:
            keys = org_keys[orgs[i]]
        else:
            keys = own_keys[i * keys_per_account : (i + 1) * keys_per_account]
        slots.append(
            world.add_account(
                ids[i],
                orgs[i],
                campaign_id,
                source,
                created_at=float(created_at[i]),
                email_domain=emails[i],
                payment=payments[i],
                tier=tiers[i],
                verified=bool(verified[i]),
                keys=keys,
            )
        )
    return Accounts(slots=slots, orgs=orgs, countries=countries)


def payment_ids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` payment-instrument fingerprints."""
    return infra.random_ids(rng, "pm_", n, 8)


@dataclass(frozen=True, slots=True)
class ClientTable:
    """For each account, a contiguous range of registered clients to draw from."""

    base: np.ndarray
    count: np.ndarray

    def pick(self, rng: np.random.Generator, acc: np.ndarray) -> np.ndarray:
        """A client per request: sticky-ish (the first client most of the time)."""
        off = (rng.random(len(acc)) ** 2.5 * self.count[acc]).astype(np.int64)
        return np.asarray(self.base[acc] + off, dtype=np.int64)


def residential_clients(
    world: World,
    rng: np.random.Generator,
    countries: list[str],
    ua_mix: dict[str, float],
    *,
    max_ips: int = 3,
) -> ClientTable:
    """Per-user home and mobile IPs in the user's country, each with the user's own UA(s)."""
    n = len(countries)
    count = 1 + (rng.random(n) * max_ips).astype(np.int64)
    base = len(world.client_frags) + np.cumsum(count) - count
    u = rng.random((int(count.sum()), 5)).tolist()
    row = 0
    for cc, k in zip(countries, count.tolist(), strict=True):
        country = infra.COUNTRIES[cc]
        ua = infra.user_agent_mix(rng, ua_mix)
        for j in range(k):
            r = u[row]
            row += 1
            asns = country.mobile if (j > 0 and r[0] < 0.6) else country.residential
            asn = asns[int(r[1] * len(asns))]
            if j > 0 and r[2] < 0.3:
                ua = infra.user_agent_mix(rng, ua_mix)
            world.add_client(infra.ip_from_uniform(asn, r[3], r[4]), ua, asn, cc)
    return ClientTable(base.astype(np.int64), count)


def shared_clients(
    world: World,
    rng: np.random.Generator,
    *,
    asn: int,
    n_ips: int,
    user_agents: list[str],
) -> list[int]:
    """A small pool of clients behind one NAT / cloud egress (shared by an org's users)."""
    country = infra.country_of_asn(asn)
    ips = infra.ips_in_asn(rng, asn, n_ips, subnets=max(1, n_ips // 4))
    return [world.add_client(ip, ua, asn, country) for ip in ips for ua in user_agents]


def org_client_table(per_account_pools: list[list[int]]) -> ClientTable:
    """A :class:`ClientTable` where each account draws from its org's contiguous pool."""
    base = np.array([p[0] for p in per_account_pools], dtype=np.int64)
    count = np.array([len(p) for p in per_account_pools], dtype=np.int64)
    return ClientTable(base, count)
