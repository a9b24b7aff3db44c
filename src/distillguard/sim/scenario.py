"""Scenarios: what traffic to simulate, as data (YAML), with a registry of shipped presets.

A scenario lists legitimate persona populations and campaigns with their tactic parameters,
a time span, and the models served with their release times. See docs/simulator.md for every
field with an example.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import yaml

from distillguard.errors import ConfigError

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

PERSONA_KINDS = (
    "casual",
    "developer",
    "enterprise",
    "eval_harness",
    "academic",
    "licensed",
    "reseller",
)
CONTENT_TACTICS = (
    "reasoning_harvest",
    "rubric_grading",
    "capability_sweep",
    "prompt_extraction",
    "jailbreak",
    "datagen",
)
TIMINGS = ("human", "uniform", "periodic", "burst")
PROXIES = ("residential", "datacenter", "mobile", "mixed", "reseller")


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A model served by the API.

    Attributes:
        name: the model name requests carry.
        released_day: release time in days after the scenario start (negative: before it).
        reasoning: whether it emits reasoning tokens.
        weight: base popularity among legitimate users.
    """

    name: str
    released_day: float = -365.0
    reasoning: bool = False
    weight: float = 1.0


class PersonaSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A population of legitimate users of one kind.

    Attributes:
        id: population name (appears in the manifest only, never in events).
        kind: one of :data:`PERSONA_KINDS`.
        accounts: number of accounts (multiplied by the scale).
        orgs: organisations the accounts belong to (0: a personal org per account).
        rate: mean requests per account per day (heavy-tailed across accounts).
        rate_sigma: lognormal sigma of the per-account rate (1.0-2.0 is realistic).
        countries: restrict users to these country codes (empty: world mix).
        models: preferred models (name -> weight); empty: every model by its weight.
        allow_listed: the operator knows these orgs (licensed, partner): listed in the manifest.
        keys_per_account: API keys per account.
        template: enterprise template style (classify, summarise, extract, datagen, t0).
        disposable_email: fraction of accounts on disposable e-mail domains.
    """

    id: str
    kind: str
    accounts: int
    orgs: int = 0
    rate: float = 5.0
    rate_sigma: float = 1.3
    countries: tuple[str, ...] = ()
    models: dict[str, float] = msgspec.field(default_factory=dict)
    allow_listed: bool = False
    keys_per_account: int = 1
    template: str = ""
    disposable_email: float = 0.01


class CampaignSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One distillation campaign and how careful it is.

    Attributes:
        id: the campaign id written to labels.csv.
        accounts: accounts in the campaign (multiplied by the scale).
        exchanges: total requests over the campaign window (multiplied by the scale).
        tactics: content tactics with weights (see :data:`CONTENT_TACTICS`).
        tactic_per_account: each account runs one tactic (drawn by the weights: an
            operation that gives each account a role) instead of every account mixing them.
        start_day / end_day: window in days from the scenario start (end None: span end).
        creation_batch: accounts created per burst; creation_spread_min: minutes per burst.
        account_age_days: accounts are created this many days (up to) before first use;
            large values model bought, aged accounts.
        lifetime_days: how long each account is used (0: whole window); hydras rotate.
        proxy: residential, datacenter, mobile, mixed, or reseller (hide in ``reseller``).
        reseller: persona id of a reseller whose org the campaign's sub-accounts join.
        ip_mode: sticky (one IP per account), rotating (new IP per request).
        ip_pool: distinct IPs (0: one per account for sticky, 4 x accounts for rotating).
        subnets: /24 networks the IPs are packed into (0: fully diverse).
        asn_pool: how many ASNs the IPs come from.
        countries: proxy exit countries (empty: world mix).
        operator_utc_offset: time zone the operators work in (human timing).
        payment_instruments: distinct payment fingerprints (0: one per account).
        email: e-mail domain mix (webmail, disposable, custom -> weight).
        user_agents: user-agent family mix; ua_pool: distinct UA strings (0: one per account).
        timing: human, uniform, periodic, or burst; jitter: 0..1 randomness of periodic gaps.
        daily_cap: max requests per account per UTC day (slow-and-low); 0: no cap.
        load_balance: split volume evenly over accounts (else heavy-tailed).
        paraphrases: distinct wrappers per family (1: one fixed wrapper).
        release_chase: model name to move to when released; chase_share: fraction moved;
            chase_lag_hours: delay after the release.
        models: model weights before any chase (empty: every model equally).
        verified / tier: fraction verified and the tier label of the accounts.
        max_tokens: the cap requested (harvesting asks for the maximum).
    """

    id: str
    accounts: int
    exchanges: int
    tactics: dict[str, float]
    tactic_per_account: bool = False
    start_day: float = 0.0
    end_day: float | None = None
    creation_batch: int = 50
    creation_spread_min: float = 20.0
    account_age_days: float = 2.0
    lifetime_days: float = 0.0
    proxy: str = "residential"
    reseller: str = ""
    ip_mode: str = "rotating"
    ip_pool: int = 0
    subnets: int = 0
    asn_pool: int = 20
    countries: tuple[str, ...] = ()
    operator_utc_offset: float = 8.0
    payment_instruments: int = 0
    email: dict[str, float] = msgspec.field(
        default_factory=lambda: {"webmail": 0.8, "disposable": 0.15, "custom": 0.05}
    )
    user_agents: dict[str, float] = msgspec.field(
        default_factory=lambda: {"sdk": 0.6, "tool": 0.3, "browser": 0.1}
    )
    ua_pool: int = 0
    timing: str = "human"
    jitter: float = 0.5
    daily_cap: int = 0
    load_balance: bool = False
    paraphrases: int = 1
    release_chase: str = ""
    chase_share: float = 0.5
    chase_lag_hours: float = 8.0
    models: dict[str, float] = msgspec.field(default_factory=dict)
    verified: float = 0.1
    tier: str = "tier-1"
    max_tokens: int = 16384


class Scenario(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything :func:`distillguard.sim.simulate` needs besides the seed and scale.

    Attributes:
        name: scenario name. description: one paragraph for people.
        start: first instant simulated (UTC). days: span length.
        models: models served. personas: legitimate populations. campaigns: campaigns.
        legit_events: if set, persona rates are rescaled so legitimate traffic totals about
            this many events at scale 1.
        corpus_dir: prompt corpora directory (None: ../shared/data, else the shipped slice;
            "builtin": the shipped slice).
    """

    name: str
    description: str = ""
    start: datetime = datetime(2025, 3, 3, tzinfo=UTC)
    days: float = 7.0
    models: tuple[ModelSpec, ...] = (
        ModelSpec(name="orion-4", weight=3.0),
        ModelSpec(name="orion-4-mini", weight=4.0),
        ModelSpec(name="orion-4-reasoner", reasoning=True, weight=1.0),
    )
    personas: tuple[PersonaSpec, ...] = ()
    campaigns: tuple[CampaignSpec, ...] = ()
    legit_events: int | None = None
    corpus_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain JSON-able data (as written into scenario.json)."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


def _validate(s: Scenario, where: str) -> Scenario:
    names = {m.name for m in s.models}
    if not names:
        raise ConfigError(f"{where}: at least one model is required")
    if s.days <= 0:
        raise ConfigError(f"{where}: days must be positive, got {s.days}")
    ids = [p.id for p in s.personas] + [c.id for c in s.campaigns]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{where}: duplicate persona/campaign id(s) {', '.join(dup)}")
    persona_ids = {p.id: p for p in s.personas}
    for p in s.personas:
        if p.kind not in PERSONA_KINDS:
            known = ", ".join(PERSONA_KINDS)
            raise ConfigError(f"{where}: persona {p.id}: unknown kind {p.kind!r}; known: {known}")
        for m in p.models:
            if m not in names:
                raise ConfigError(f"{where}: persona {p.id}: unknown model {m!r}")
    for c in s.campaigns:
        at = f"{where}: campaign {c.id}"
        bad = sorted(set(c.tactics) - set(CONTENT_TACTICS))
        if bad or not c.tactics:
            known = ", ".join(CONTENT_TACTICS)
            raise ConfigError(f"{at}: unknown or no tactics {bad}; known: {known}")
        if c.timing not in TIMINGS:
            raise ConfigError(f"{at}: unknown timing {c.timing!r}; known: {', '.join(TIMINGS)}")
        if c.proxy not in PROXIES:
            raise ConfigError(f"{at}: unknown proxy {c.proxy!r}; known: {', '.join(PROXIES)}")
        if c.proxy == "reseller" and persona_ids.get(c.reseller) is None:
            raise ConfigError(
                f"{where}: campaign {c.id}: proxy 'reseller' needs reseller: <persona id>"
            )
        if c.proxy == "reseller" and persona_ids[c.reseller].kind != "reseller":
            raise ConfigError(f"{where}: campaign {c.id}: persona {c.reseller!r} is not a reseller")
        for m in list(c.models) + ([c.release_chase] if c.release_chase else []):
            if m not in names:
                raise ConfigError(f"{where}: campaign {c.id}: unknown model {m!r}")
        if c.ip_mode not in ("sticky", "rotating"):
            raise ConfigError(f"{where}: campaign {c.id}: ip_mode must be sticky or rotating")
    return s


def scenario_from_dict(data: Any, where: str = "<scenario>") -> Scenario:
    """Validate plain data (from YAML or JSON) as a :class:`Scenario`.

    Raises:
        ConfigError: naming the field at fault.
    """
    try:
        s = msgspec.convert(data, Scenario, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return _validate(s, where)


def _registry() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


#: preset name -> YAML file shipped in the package.
SCENARIOS: dict[str, Path] = _registry()


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a preset by name (see :data:`SCENARIOS`) or a YAML file by path.

    Raises:
        ConfigError: unknown name, missing file, invalid YAML or invalid fields.
    """
    key = str(name_or_path)
    path = SCENARIOS.get(key) or Path(key).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"unknown scenario {key!r}: not a preset ({', '.join(SCENARIOS)}) nor a file"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return scenario_from_dict(data, str(path))


def with_days(s: Scenario, days: float) -> Scenario:
    """``s`` over ``days`` days instead; ``legit_events`` scales with the span."""
    if days <= 0:
        raise ConfigError(f"days must be positive, got {days}")
    legit = round(s.legit_events * days / s.days) if s.legit_events else None
    return msgspec.structs.replace(s, days=days, legit_events=legit)
