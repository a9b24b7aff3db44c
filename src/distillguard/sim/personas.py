"""Legitimate personas: who uses the API honestly, when, from where, and for what.

:data:`PERSONAS` maps a persona kind to its generator ``(world, spec, rate_factor) -> None``;
each generator registers its accounts and emits its blocks into the :class:`World`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from distillguard.sim import content, infra
from distillguard.sim.identity import (
    ClientTable,
    email_domains,
    org_client_table,
    payment_ids,
    register,
    residential_clients,
    shared_clients,
)
from distillguard.sim.scenario import PersonaSpec
from distillguard.sim.textgen import tool_schema
from distillguard.sim.timing import DAY, human_sessions, window_times
from distillguard.sim.world import World
from distillguard.sim.wrappers import wrapper_set

#: Largest prompt pool rendered per population (bigger populations reuse prompts).
POOL_CAP = 20000
_CLOUD = tuple(infra.DATACENTER_ASNS)


def pool_size(n_events: float) -> int:
    """How many distinct prompts to render for ``n_events`` requests."""
    return int(min(max(40.0, n_events * 0.35), POOL_CAP))


def scaled(n: int, scale: float) -> int:
    """``n`` multiplied by the scale, at least 1."""
    return max(1, round(n * scale))


def _lognormal_rates(rng: np.random.Generator, n: int, mean: float, sigma: float) -> np.ndarray:
    """Heavy-tailed per-account rates, rescaled so that the sample mean is ``mean``."""
    r = rng.lognormal(0.0, sigma, n)
    return np.asarray(r * (mean / r.mean()), dtype=np.float64)


def _params_table(world: World, combos: list[dict[str, Any]]) -> np.ndarray:
    return np.array([world.add_params(p) for p in combos])


def _choose(rng: np.random.Generator, table: np.ndarray, n: int) -> np.ndarray:
    w = 1.0 / (1.0 + np.arange(len(table)))
    return table[rng.choice(len(table), size=n, p=w / w.sum())]


def _created(world: World, rng: np.random.Generator, n: int, median_days: float) -> np.ndarray:
    """Account creation times: mostly months old, a few signed up in the last days."""
    age = rng.lognormal(np.log(median_days), 1.0, n)
    fresh = rng.random(n) < 0.04
    age[fresh] = rng.uniform(0.05, 5.0, int(fresh.sum()))
    return np.asarray(world.start - age * DAY, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class HumanKind:
    """Defaults of a human persona kind (timing, content, infrastructure, parameters)."""

    profile: str
    weekly: str
    session: float
    gap: float
    mix: dict[str, float]
    ua: dict[str, float]
    email: dict[str, float]
    tiers: tuple[str, ...]
    verified: float
    out: float
    params: list[dict[str, Any]]


_HUMAN: dict[str, HumanKind] = {
    "casual": HumanKind(
        profile="casual",
        weekly="casual",
        session=4.0,
        gap=80.0,
        mix={"chat": 0.8, "instruction": 0.12, "coding": 0.08},
        ua={"browser": 0.75, "app": 0.1, "sdk": 0.1, "tool": 0.05},
        email={"webmail": 0.97, "corporate": 0.03},
        tiers=("free", "free", "plus", "tier-1"),
        verified=0.35,
        out=320.0,
        params=[
            {"stream": True},
            {"stream": True, "temperature": 0.7},
            {"temperature": 1.0, "max_tokens": 1024},
            {"stream": True, "max_tokens": 4096},
        ],
    ),
    "developer": HumanKind(
        profile="developer",
        weekly="developer",
        session=9.0,
        gap=45.0,
        mix={"coding": 0.68, "chat": 0.1, "agentic": 0.12, "instruction": 0.1},
        ua={"sdk": 0.55, "tool": 0.3, "browser": 0.15},
        email={"webmail": 0.6, "corporate": 0.4},
        tiers=("tier-1", "tier-2", "tier-3"),
        verified=0.6,
        out=450.0,
        params=[
            {"temperature": 0.2, "max_tokens": 2048},
            {"stream": True},
            {"temperature": 0.0, "max_tokens": 4096, "seed": 42},
            {"temperature": 0.7, "top_p": 0.9},
        ],
    ),
    "academic": HumanKind(
        profile="work",
        weekly="developer",
        session=25.0,
        gap=6.0,
        mix={"instruction": 0.4, "math": 0.25, "chat": 0.2, "coding": 0.15},
        ua={"sdk": 0.7, "tool": 0.3},
        email={"university": 1.0},
        tiers=("tier-2", "tier-3"),
        verified=0.8,
        out=380.0,
        params=[
            {"temperature": 0.0, "max_tokens": 1024},
            {"temperature": 1.0, "n": 4},
            {"temperature": 0.7, "max_tokens": 2048, "logprobs": True, "top_logprobs": 5},
        ],
    ),
}


def _human(world: World, spec: PersonaSpec, rate_factor: float) -> None:
    """Casual users, developers and academics: people at keyboards in their own time zone."""
    d = _HUMAN[spec.kind]
    rng = world.rng("persona", spec.id)
    n = scaled(spec.accounts, world.scale)
    n_orgs = scaled(spec.orgs, world.scale) if spec.orgs else 0
    if n_orgs:
        org_of = rng.integers(0, n_orgs, size=n)
        org_ids = infra.random_ids(rng, "org_", n_orgs)
        org_cc = infra.pick_countries(rng, n_orgs, spec.countries)
        countries = [org_cc[o] for o in org_of.tolist()]
        orgs = [org_ids[o] for o in org_of.tolist()]
        org_dom = [
            infra.UNIVERSITIES[int(rng.integers(len(infra.UNIVERSITIES)))]
            if spec.kind == "academic"
            else infra.org_domain(rng)
            for _ in range(n_orgs)
        ]
        emails = [org_dom[o] for o in org_of.tolist()]
    else:
        countries = infra.pick_countries(rng, n, spec.countries)
        orgs = infra.random_ids(rng, "org_", n)
        mix = dict(d.email)
        mix["disposable"] = spec.disposable_email
        emails = email_domains(rng, n, mix, [])
    acc = register(
        world,
        rng,
        n=n,
        source=spec.id,
        campaign_id="",
        orgs=orgs,
        countries=countries,
        created_at=_created(world, rng, n, 240.0),
        emails=emails,
        payments=payment_ids(rng, n),
        tiers=[d.tiers[i] for i in rng.integers(0, len(d.tiers), n).tolist()],
        verified=rng.random(n) < d.verified,
        keys_per_account=spec.keys_per_account,
    )
    if n_orgs and spec.kind == "academic":
        pools = []
        org_pool: dict[str, list[int]] = {}
        for o in sorted(set(orgs)):
            asn = infra.COUNTRIES[countries[orgs.index(o)]].residential[0]
            uas = [infra.user_agent_mix(rng, d.ua) for _ in range(3)]
            org_pool[o] = shared_clients(world, rng, asn=asn, n_ips=4, user_agents=uas)
        pools = [org_pool[o] for o in orgs]
        clients: ClientTable = org_client_table(pools)
    else:
        clients = residential_clients(world, rng, countries, d.ua)
    tz = np.array([infra.COUNTRIES[c].utc_offset for c in countries])
    rates = _lognormal_rates(rng, n, spec.rate * rate_factor, spec.rate_sigma)
    t, a = human_sessions(
        rng,
        rates,
        tz,
        world.start,
        world.scenario.days,
        profile=d.profile,
        weekly=d.weekly,
        session_mean=d.session,
        gap_mean_s=d.gap,
    )
    if not len(t):
        return
    pool_ids = content.mixed_pool(world, rng, d.mix, pool_size(len(t)))
    combos: list[dict[str, Any]] = list(d.params)
    tool_combo = {"temperature": 0.2, "tools": [tool_schema(i) for i in (0, 1, 2, 3, 4)]}
    ptable = _params_table(world, combos)
    pools_c = pool_ids[rng.integers(0, len(pool_ids), size=len(t))]
    params = _choose(rng, ptable, len(t))
    if spec.kind == "developer":
        agentic = np.isin(pools_c, pool_ids[-max(1, len(pool_ids) // 8) :])
        params = np.where(
            agentic & (rng.random(len(t)) < 0.5), world.add_params(tool_combo), params
        )
    model = world.pick_models(rng, t, spec.models)
    world.emit(
        rng,
        t,
        acc.pick_slot(rng, a),
        clients.pick(rng, a),
        pools_c,
        params,
        model,
        out_median=d.out,
    )


def _org_setup(
    world: World,
    rng: np.random.Generator,
    spec: PersonaSpec,
    *,
    tier: str,
    n_orgs: int,
    ua_app: bool,
) -> tuple[list[str], list[str], list[str], list[int], list[list[int]]]:
    """Orgs with a corporate domain, a shared payment, keys, and a cloud egress pool."""
    org_ids = infra.random_ids(rng, "org_", n_orgs)
    domains = [infra.org_domain(rng) for _ in range(n_orgs)]
    pays = payment_ids(rng, n_orgs)
    per = max(1, scaled(spec.accounts, world.scale) // n_orgs)
    owner: list[int] = [o for o in range(n_orgs) for _ in range(per)]
    pools = []
    for o in range(n_orgs):
        asn = _CLOUD[int(rng.integers(len(_CLOUD)))]
        fam = {"app": 1.0} if ua_app and rng.random() < 0.6 else {"sdk": 0.8, "tool": 0.2}
        uas = [infra.user_agent_mix(rng, fam, infra.org_app_name(domains[o]))]
        pools.append(
            shared_clients(world, rng, asn=asn, n_ips=int(rng.integers(2, 6)), user_agents=uas)
        )
    return org_ids, domains, pays, owner, pools


def _register_org_accounts(
    world: World,
    rng: np.random.Generator,
    spec: PersonaSpec,
    tier: str,
    org_ids: list[str],
    domains: list[str],
    pays: list[str],
    owner: list[int],
) -> Any:
    n = len(owner)
    keys = {
        org_ids[o]: infra.random_ids(rng, "key_", max(1, spec.keys_per_account), 6)
        for o in set(owner)
    }
    acc = register(
        world,
        rng,
        n=n,
        source=spec.id,
        campaign_id="",
        orgs=[org_ids[o] for o in owner],
        countries=[infra.country_of_asn(16509)] * n,
        created_at=_created(world, rng, n, 400.0),
        emails=[domains[o] for o in owner],
        payments=[pays[o] for o in owner],
        tiers=[tier] * n,
        verified=np.ones(n, dtype=bool),
        org_keys=keys,
    )
    if spec.allow_listed:
        for o in sorted(set(owner)):
            world.allow_orgs[org_ids[o]] = spec.id
    return acc


def _enterprise(world: World, spec: PersonaSpec, rate_factor: float) -> None:
    """Enterprise apps: one org, a few keys, one template at very high volume."""
    rng = world.rng("persona", spec.id)
    n_orgs = scaled(spec.orgs or spec.accounts, world.scale)
    org_ids, domains, pays, owner, pools = _org_setup(
        world, rng, spec, tier="enterprise", n_orgs=n_orgs, ua_app=True
    )
    acc = _register_org_accounts(world, rng, spec, "enterprise", org_ids, domains, pays, owner)
    org_cc = infra.pick_countries(rng, n_orgs, spec.countries)
    tz = np.array([infra.COUNTRIES[org_cc[o]].utc_offset for o in owner])
    rates = _lognormal_rates(rng, len(owner), spec.rate * rate_factor, spec.rate_sigma)
    t, a = human_sessions(
        rng,
        rates,
        tz,
        world.start,
        world.scenario.days,
        profile="service",
        weekly="service",
        session_mean=1.0,
        gap_mean_s=1.0,
    )
    org_of = np.asarray(owner)[a]
    cont = np.empty(len(t), dtype=np.int64)
    params = np.empty(len(t), dtype=np.int64)
    for o in range(n_orgs):
        m = org_of == o
        k = int(m.sum())
        if not k:
            continue
        style = (
            spec.template
            or content.ENTERPRISE_STYLES[int(rng.integers(len(content.ENTERPRISE_STYLES)))]
        )
        ids = content.enterprise_pool(
            world, rng, style, domains[o].split(".")[0].title(), pool_size(k)
        )
        cont[m] = ids[rng.integers(0, len(ids), size=k)]
        p = {
            "temperature": float(rng.choice([0.0, 0.2, 0.3])),
            "max_tokens": int(rng.choice([256, 512, 1024])),
        }
        params[m] = world.add_params(p)
    model = world.pick_models(rng, t, spec.models, adoption_days=20.0)
    clients = org_client_table([pools[o] for o in owner])
    world.emit(
        rng,
        t,
        acc.pick_slot(rng, a),
        clients.pick(rng, a),
        cont,
        params,
        model,
        out_median=120.0,
        out_sigma=0.5,
    )


def _eval_harness(world: World, spec: PersonaSpec, rate_factor: float) -> None:
    """Evaluation harnesses sweeping GSM8K in a fixed format at machine speed (hard negative)."""
    rng = world.rng("persona", spec.id)
    n_orgs = scaled(spec.orgs or spec.accounts, world.scale)
    org_ids, domains, pays, owner, pools = _org_setup(
        world, rng, spec, tier="tier-4", n_orgs=n_orgs, ua_app=False
    )
    acc = _register_org_accounts(world, rng, spec, "tier-4", org_ids, domains, pays, owner)
    n_acc = len(owner)
    run_len = int(rng.choice([250, 500, 1000]))
    ts, accs, conts, models, params = [], [], [], [], []
    n_models = len(world.model_names)
    for i in range(n_acc):
        fmt = int(rng.integers(4))
        bench = content.eval_pool(world, fmt, run_len)
        p = world.add_params(
            {
                "temperature": 0.0,
                "max_tokens": int(rng.choice([2048, 4096, 8192])),
                "seed": int(rng.integers(1, 10_000)),
                "n": 1,
            }
        )
        runs = max(1, int(rng.poisson(spec.rate * rate_factor * world.scenario.days / len(bench))))
        conc = float(rng.choice([4, 8, 16, 32]))
        for _ in range(runs):
            day = int(rng.integers(0, max(1, int(world.scenario.days))))
            hour = 2.0 + rng.normal(0, 0.3) if rng.random() < 0.5 else rng.uniform(7.0, 18.0)
            t0 = world.start + day * DAY + hour * 3600.0
            gaps = rng.exponential(1.8 / conc, len(bench)) + 0.02
            ts.append(t0 + np.cumsum(gaps))
            accs.append(np.full(len(bench), i))
            conts.append(bench)
            released = np.flatnonzero(world.model_release <= t0)
            models.append(
                np.full(
                    len(bench),
                    int(rng.choice(released)) if len(released) else int(rng.integers(n_models)),
                )
            )
            params.append(np.full(len(bench), p))
    t = np.concatenate(ts)
    keep = (t >= world.start) & (t < world.end)
    a = np.concatenate(accs)[keep]
    clients = org_client_table([pools[o] for o in owner])
    world.emit(
        rng,
        t[keep],
        acc.pick_slot(rng, a),
        clients.pick(rng, a),
        np.concatenate(conts)[keep],
        np.concatenate(params)[keep],
        np.concatenate(models)[keep].astype(np.int16),
        out_median=380.0,
        out_sigma=0.5,
    )


def _licensed(world: World, spec: PersonaSpec, rate_factor: float) -> None:
    """Licensed distillation: reasoning harvesting at high volume, allowed by contract."""
    rng = world.rng("persona", spec.id)
    n_orgs = scaled(spec.orgs or 1, world.scale)
    org_ids, domains, pays, owner, pools = _org_setup(
        world, rng, spec, tier="enterprise", n_orgs=n_orgs, ua_app=False
    )
    acc = _register_org_accounts(world, rng, spec, "enterprise", org_ids, domains, pays, owner)
    n_acc = len(owner)
    counts = rng.poisson(
        _lognormal_rates(rng, n_acc, spec.rate * rate_factor, 0.5) * world.scenario.days
    )
    t, a = window_times(
        rng, counts, np.full(n_acc, world.start), np.full(n_acc, world.end), mode="uniform"
    )
    wr = wrapper_set(rng, "reasoning", 3) + wrapper_set(rng, "datagen", 2)
    k = pool_size(len(t))
    ids = np.concatenate(
        [
            content.wrapped_pool(world, rng, "reasoning", wr[:3], int(k * 0.8) + 1),
            content.wrapped_pool(world, rng, "datagen", wr[3:], k // 5 + 1),
        ]
    )
    p = world.add_params({"max_tokens": 32768, "reasoning_effort": "high", "temperature": 0.6})
    model = world.pick_models(
        rng,
        t,
        spec.models
        or {
            m: (3.0 if r else 1.0)
            for m, r in zip(world.model_names, world.model_reasoning, strict=True)
        },
        adoption_days=0.5,
    )
    clients = org_client_table([pools[o] for o in owner])
    world.emit(
        rng,
        t,
        acc.pick_slot(rng, a),
        clients.pick(rng, a),
        ids[rng.integers(0, len(ids), len(t))],
        np.full(len(t), p),
        model,
        out_median=1400.0,
        out_sigma=0.6,
    )


def _reseller(world: World, spec: PersonaSpec, rate_factor: float) -> None:
    """A reseller org passing many unrelated end users through shared infrastructure."""
    rng = world.rng("persona", spec.id)
    n = scaled(spec.accounts, world.scale)
    org = infra.random_ids(rng, "org_", 1)[0]
    domain = infra.org_domain(rng)
    pay = payment_ids(rng, 1)[0]
    asn = _CLOUD[int(rng.integers(len(_CLOUD)))]
    uas = [infra.user_agent(rng, "sdk"), infra.user_agent(rng, "tool")]
    pool_c = shared_clients(world, rng, asn=asn, n_ips=int(rng.integers(4, 12)), user_agents=uas)
    world.reseller_infra[spec.id] = {
        "org": org,
        "domain": domain,
        "payment": pay,
        "clients": pool_c,
    }
    countries = infra.pick_countries(rng, n, spec.countries)
    acc = register(
        world,
        rng,
        n=n,
        source=spec.id,
        campaign_id="",
        orgs=[org] * n,
        countries=countries,
        created_at=_created(world, rng, n, 90.0),
        emails=[domain] * n,
        payments=[pay] * n,
        tiers=["tier-5"] * n,
        verified=np.zeros(n, dtype=bool),
    )
    tz = np.array([infra.COUNTRIES[c].utc_offset for c in countries])
    rates = _lognormal_rates(rng, n, spec.rate * rate_factor, spec.rate_sigma)
    t, a = human_sessions(
        rng,
        rates,
        tz,
        world.start,
        world.scenario.days,
        profile="casual",
        weekly="casual",
        session_mean=5.0,
        gap_mean_s=60.0,
    )
    mix = {"chat": 0.6, "coding": 0.25, "instruction": 0.15}
    ids = content.mixed_pool(world, rng, mix, pool_size(len(t)))
    ptable = _params_table(world, [{"stream": True}, {"temperature": 0.7, "max_tokens": 2048}])
    clients = org_client_table([pool_c] * n)
    world.emit(
        rng,
        t,
        acc.pick_slot(rng, a),
        clients.pick(rng, a),
        ids[rng.integers(0, len(ids), len(t))],
        _choose(rng, ptable, len(t)),
        world.pick_models(rng, t, spec.models),
        out_median=350.0,
    )


#: persona kind -> generator. Add a kind by adding a function and a line here.
PERSONAS: dict[str, Callable[[World, PersonaSpec, float], None]] = {
    "casual": _human,
    "developer": _human,
    "academic": _human,
    "enterprise": _enterprise,
    "eval_harness": _eval_harness,
    "licensed": _licensed,
    "reseller": _reseller,
}


def expected_events(spec: PersonaSpec, days: float, scale: float) -> float:
    """Expected events of a persona at rate factor 1 (used to hit ``legit_events``)."""
    if spec.kind in ("enterprise", "eval_harness", "licensed"):
        n_orgs = scaled(spec.orgs or (1 if spec.kind == "licensed" else spec.accounts), scale)
        per = max(1, scaled(spec.accounts, scale) // n_orgs)
        return n_orgs * per * spec.rate * days
    return scaled(spec.accounts, scale) * spec.rate * days
