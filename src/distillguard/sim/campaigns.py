"""Distillation campaigns: hydra account clusters, proxies, timing, content tactics.

One generator, :func:`generate_campaign`, combines every tactic of a :class:`CampaignSpec`;
each tactic is a parameter, so one campaign can be a careless datacenter hydra and another a
careful residential slow-and-low operation with paraphrased wrappers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from distillguard.sim import content, infra
from distillguard.sim.identity import email_domains, payment_ids, register
from distillguard.sim.personas import pool_size, scaled
from distillguard.sim.scenario import CampaignSpec
from distillguard.sim.textgen import ASSISTANT_TOOLS, CODING_TOOLS, tool_schema
from distillguard.sim.timing import DAY, window_times
from distillguard.sim.world import World
from distillguard.sim.wrappers import wrapper_set

#: tactic -> ATLAS technique ids it exercises.
ATLAS: dict[str, tuple[str, ...]] = {
    "reasoning_harvest": ("AML.T0024.002", "AML.T0005.001"),
    "rubric_grading": ("AML.T0024.002", "AML.T0005.001"),
    "capability_sweep": ("AML.T0024.002", "AML.T0005.001"),
    "datagen": ("AML.T0024.002", "AML.T0005.001"),
    "prompt_extraction": ("AML.T0056",),
    "jailbreak": ("AML.T0054",),
    "hydra": ("AML.T0021", "AML.T0008.005"),
    "proxy_reseller": ("AML.T0008.005",),
    "api_access": ("AML.T0040",),
}

_OUT = {
    "reasoning_harvest": 1800.0,
    "rubric_grading": 160.0,
    "capability_sweep": 900.0,
    "datagen": 700.0,
    "prompt_extraction": 90.0,
    "jailbreak": 140.0,
}


def behaviours(c: CampaignSpec) -> list[str]:
    """The observable behaviours a campaign exhibits (manifest ``tactics`` besides content)."""
    out = ["hydra"] if c.accounts > 1 else []
    if c.proxy == "reseller":
        out.append("proxy_reseller")
    if c.daily_cap:
        out.append("slow_and_low")
    if c.release_chase:
        out.append("release_chasing")
    if c.paraphrases > 1:
        out.append("template_paraphrasing")
    if c.load_balance:
        out.append("load_balancing")
    return out


def _creation_times(
    rng: np.random.Generator, c: CampaignSpec, n: int, ws: float, we: float
) -> np.ndarray:
    # the batch size scales with the accounts, so a scaled-down hydra keeps its burst count
    size = max(1, round(c.creation_batch * n / max(1, c.accounts)))
    n_batches = max(1, -(-n // size))
    lo = ws - c.account_age_days * DAY
    hi = we - 0.25 * c.lifetime_days * DAY if c.lifetime_days else ws
    batch_t = np.sort(rng.uniform(lo, max(lo + 60.0, hi), n_batches))
    batch = np.minimum(np.arange(n) // size, n_batches - 1)
    return batch_t[batch] + rng.uniform(0.0, c.creation_spread_min * 60.0, n)


def _counts(
    rng: np.random.Generator, c: CampaignSpec, total: int, act_s: np.ndarray, act_e: np.ndarray
) -> np.ndarray:
    dur = np.maximum(act_e - act_s, 0.0)
    w = dur if c.load_balance else dur * rng.lognormal(0.0, 1.0, len(dur))
    share = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    raw = share * total
    counts = np.floor(raw).astype(np.int64)
    rest = total - int(counts.sum())
    if rest > 0:
        counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    if c.daily_cap:
        ndays = np.maximum(1, np.ceil(act_e / DAY) - np.floor(act_s / DAY)).astype(np.int64)
        counts = np.minimum(counts, ndays * c.daily_cap)
    counts[dur <= 0] = 0
    return np.asarray(counts, dtype=np.int64)


def _asns(rng: np.random.Generator, c: CampaignSpec) -> list[int]:
    ccs = list(c.countries) or list(infra.COUNTRIES)
    res = [a for cc in ccs for a in infra.COUNTRIES[cc].residential]
    mob = [a for cc in ccs for a in infra.COUNTRIES[cc].mobile]
    dc = list(infra.DATACENTER_ASNS)
    cand = {"residential": res, "mobile": mob, "datacenter": dc, "mixed": res + mob + dc}[c.proxy]
    k = min(len(cand), max(1, c.asn_pool))
    return [cand[i] for i in rng.choice(len(cand), size=k, replace=False).tolist()]


def _clients(
    world: World, rng: np.random.Generator, c: CampaignSpec, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(first client, count) per account: sticky -> its own client; rotating -> the pool."""
    if c.proxy == "reseller":
        pool = world.reseller_infra[c.reseller]["clients"]
        return np.full(n, pool[0]), np.full(n, len(pool))
    asns = _asns(rng, c)
    n_ua = c.ua_pool or n
    uas = [infra.user_agent_mix(rng, c.user_agents) for _ in range(min(n_ua, 5000))]
    n_ips = c.ip_pool or (n if c.ip_mode == "sticky" else min(4 * n, 200_000))
    asn_of = rng.integers(0, len(asns), size=n_ips)
    first = len(world.client_frags)
    subnets = max(1, c.subnets // len(asns)) if c.subnets else None
    for j, asn in enumerate(asns):
        idx = np.flatnonzero(asn_of == j)
        ips = infra.ips_in_asn(rng, asn, len(idx), subnets=subnets)
        cc = infra.country_of_asn(asn)
        for ip, i in zip(ips, idx.tolist(), strict=True):
            world.add_client(ip, uas[i % len(uas)], asn, cc)
    if c.ip_mode == "sticky":
        return first + (np.arange(n) % n_ips), np.ones(n, dtype=np.int64)
    return np.full(n, first), np.full(n, n_ips)


def _params(world: World, rng: np.random.Generator, c: CampaignSpec, tactic: str) -> np.ndarray:
    temps = [0.7] if c.timing in ("uniform", "periodic") else [0.3, 0.6, 0.7, 1.0]
    combos: list[dict[str, Any]] = []
    for temp in temps:
        if tactic == "reasoning_harvest":
            combos.append(
                {"max_tokens": c.max_tokens, "reasoning_effort": "high", "temperature": temp}
            )
        elif tactic == "capability_sweep":
            tools = [
                tool_schema(i) for i in (CODING_TOOLS if rng.random() < 0.6 else ASSISTANT_TOOLS)
            ]
            combos.append({"max_tokens": c.max_tokens, "temperature": temp, "tools": tools})
        elif tactic == "rubric_grading":
            combos.append(
                {"max_tokens": 1024, "temperature": 0.0, "logprobs": True, "top_logprobs": 5}
            )
        elif tactic == "datagen":
            combos.append({"max_tokens": c.max_tokens // 2, "temperature": temp, "n": 1})
        else:
            combos.append({"max_tokens": 512, "temperature": temp})
    return np.array([world.add_params(p) for p in combos])


def _content(
    world: World, rng: np.random.Generator, c: CampaignSpec, tactic: str, n: int
) -> np.ndarray:
    k = pool_size(n)
    family = {
        "reasoning_harvest": "reasoning",
        "rubric_grading": "rubric",
        "datagen": "datagen",
    }.get(tactic)
    if family:
        return content.wrapped_pool(
            world, rng, family, wrapper_set(rng, family, max(1, c.paraphrases)), k
        )
    kind = {"capability_sweep": "agentic"}.get(tactic, tactic)
    return content.pool(world, rng, kind, k)


def generate_campaign(world: World, c: CampaignSpec) -> None:
    """Register the campaign's accounts and emit its traffic into ``world``."""
    rng = world.rng("campaign", c.id)
    ws = world.start + c.start_day * DAY
    full_end = world.start + (c.end_day if c.end_day is not None else world.scenario.days) * DAY
    we = min(full_end, world.end)
    if we <= ws:
        world.volumes[c.id] = 0
        return
    total = scaled(c.exchanges, world.scale) * (we - ws) / max(full_end - ws, 1.0)
    n = scaled(c.accounts, world.scale)
    created = _creation_times(rng, c, n, ws, we)
    act_s = np.maximum(created + rng.uniform(0.5, 6.0, n) * 3600.0, ws)
    act_e = np.minimum(created + c.lifetime_days * DAY, we) if c.lifetime_days else np.full(n, we)
    if c.lifetime_days:
        # An aged account (made long before the window: bought, or farmed) whose lifetime
        # would end before its first use is used for its lifetime from a first use spread
        # over the window, as the hydra rotates through its stock, rather than never.
        # Its own random source, so that every other account's traffic stays as it was.
        dead = act_e <= act_s
        if dead.any():
            life = world.rng("campaign-lifetime", c.id)
            first = life.uniform(ws, max(ws, we - 0.25 * c.lifetime_days * DAY), int(dead.sum()))
            act_s[dead] = first
            act_e[dead] = np.minimum(first + c.lifetime_days * DAY, we)
    counts = _counts(rng, c, round(total), act_s, act_e)
    if c.proxy == "reseller":
        r = world.reseller_infra[c.reseller]
        orgs, emails, pays = [r["org"]] * n, [r["domain"]] * n, [r["payment"]] * n
        tiers, verified = ["tier-5"] * n, np.zeros(n, dtype=bool)
    else:
        orgs = infra.random_ids(rng, "org_", n)
        custom = [infra.org_domain(rng) for _ in range(3)]
        emails = email_domains(
            rng, n, {("corporate" if k == "custom" else k): v for k, v in c.email.items()}, custom
        )
        inst = payment_ids(rng, c.payment_instruments or n)
        if c.payment_instruments:
            pays = [inst[i] for i in rng.integers(0, len(inst), size=n).tolist()]
        else:
            pays = inst
        tiers, verified = [c.tier] * n, rng.random(n) < c.verified
    acc = register(
        world,
        rng,
        n=n,
        source=c.id,
        campaign_id=c.id,
        orgs=orgs,
        countries=[""] * n,
        created_at=created,
        emails=emails,
        payments=pays,
        tiers=tiers,
        verified=verified,
    )
    cfirst, ccount = _clients(world, rng, c, n)
    t, a = window_times(
        rng,
        counts,
        act_s,
        act_e,
        mode=c.timing,
        tz_hours=c.operator_utc_offset,
        jitter=c.jitter,
        daily_cap=c.daily_cap,
        profile="developer",
    )
    world.volumes[c.id] = len(t)
    if not len(t):
        return
    tactics = sorted(c.tactics)
    w = np.array([c.tactics[x] for x in tactics], dtype=float)
    if c.tactic_per_account:
        # one role per account: every request of an account runs that account's tactic
        which = rng.choice(len(tactics), size=n, p=w / w.sum())[a]
    else:
        which = rng.choice(len(tactics), size=len(t), p=w / w.sum())
    models = world.pick_models(
        rng,
        t,
        c.models or dict.fromkeys(world.model_names, 1.0),
        chase=c.release_chase,
        chase_share=c.chase_share,
        chase_lag_h=c.chase_lag_hours,
    )
    for j, tactic in enumerate(tactics):
        m = which == j
        k = int(m.sum())
        if not k:
            continue
        ids = _content(world, rng, c, tactic, k)
        ptab = _params(world, rng, c, tactic)
        aa = a[m]
        client = cfirst[aa] + (rng.random(k) * ccount[aa]).astype(np.int64)
        world.emit(
            rng,
            t[m],
            acc.pick_slot(rng, aa),
            client,
            ids[rng.integers(0, len(ids), k)],
            ptab[rng.integers(0, len(ptab), k)],
            models[m],
            out_median=_OUT[tactic],
        )
