"""The simulation's shared state: pre-encoded JSON fragments, accounts, and event blocks.

Generators never build per-event objects. They register the few distinct pieces of an event
(an account slot, a client, a prompt, a parameter set) once, as pre-encoded JSON fragments,
and emit :class:`Block` s of numpy arrays that index into those tables. The writer then joins
fragments with a single bytes-format per event, which is what makes 50k+ events/s possible.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from distillguard.sim.corpus import Corpora
from distillguard.sim.scenario import Scenario

_enc = msgspec.json.Encoder()


def _body(obj: dict[str, Any]) -> bytes:
    """``{"a":1,"b":2}`` -> ``"a":1,"b":2`` (to splice into a larger object)."""
    return _enc.encode(obj)[1:-1]


_ENDPOINTS = {e: _body({"endpoint": e}) for e in ("/v1/chat/completions", "/v1/responses")}


@dataclass(slots=True)
class AccountRec:
    """One account, as the labels and the manifest see it."""

    account_id: str
    org_id: str
    campaign_id: str
    source: str


@dataclass(slots=True)
class Block:
    """A batch of events as parallel arrays (indices into the :class:`World` tables)."""

    t: np.ndarray
    slot: np.ndarray
    client: np.ndarray
    content: np.ndarray
    params: np.ndarray
    model: np.ndarray
    out_tok: np.ndarray
    reason_tok: np.ndarray
    status: np.ndarray
    latency: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class World:
    """Tables shared by every generator of one simulation run."""

    scenario: Scenario
    seed: int
    scale: float
    text: bool
    corpora: Corpora
    start: float = 0.0
    end: float = 0.0
    accounts: list[AccountRec] = field(default_factory=list)
    slot_frags: list[bytes] = field(default_factory=list)
    slot_account: list[int] = field(default_factory=list)
    client_frags: list[bytes] = field(default_factory=list)
    content_frags: list[bytes] = field(default_factory=list)
    content_tokens: list[int] = field(default_factory=list)
    params_frags: list[bytes] = field(default_factory=list)
    params_max: list[int] = field(default_factory=list)
    params_effort: list[float] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    allow_orgs: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, int] = field(default_factory=dict)
    reseller_infra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.start = self.scenario.start.timestamp()
        self.end = self.start + self.scenario.days * 86400.0
        self.model_names = [m.name for m in self.scenario.models]
        self.model_frags = [_body({"model": m}) for m in self.model_names]
        self.model_release = np.array(
            [self.start + m.released_day * 86400.0 for m in self.scenario.models]
        )
        self.model_reasoning = np.array([m.reasoning for m in self.scenario.models])
        self.model_weight = np.array([m.weight for m in self.scenario.models], dtype=float)

    def rng(self, *names: str) -> np.random.Generator:
        """A random source for one named generator, stable across Python runs and orderings."""
        h = hashlib.blake2b("/".join(names).encode(), digest_size=8).digest()
        return np.random.default_rng([self.seed, int.from_bytes(h, "big")])

    def add_account(
        self,
        account_id: str,
        org_id: str,
        campaign_id: str,
        source: str,
        *,
        created_at: float,
        email_domain: str,
        payment: str,
        tier: str,
        verified: bool,
        keys: list[str],
    ) -> list[int]:
        """Register an account and its API keys; return one slot index per key."""
        idx = len(self.accounts)
        self.accounts.append(AccountRec(account_id, org_id, campaign_id, source))
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created_at))
        account = _enc.encode(
            {
                "created_at": created,
                "email_domain": email_domain,
                "payment_fingerprint": payment,
                "tier": tier,
                "verified": verified,
            }
        )
        slots = []
        for key in keys:
            ids = _body({"account_id": account_id, "org_id": org_id, "api_key_id": key})
            self.slot_frags.append(ids + b',"account":' + account)
            self.slot_account.append(idx)
            slots.append(len(self.slot_frags) - 1)
        return slots

    def add_client(self, ip: str, user_agent: str, asn: int, country: str) -> int:
        """Register a client (IP, UA, ASN, country); return its index."""
        c = {"ip": ip, "user_agent": user_agent, "asn": asn, "country": country}
        self.client_frags.append(b'"client":' + _enc.encode(c))
        return len(self.client_frags) - 1

    def add_content(
        self, messages: list[dict[str, str]], endpoint: str = "/v1/chat/completions"
    ) -> int:
        """Register a prompt (messages); return its index. Text is dropped in privacy mode."""
        chars = 0
        for m in messages:
            chars += len(m["content"])
        frag = _ENDPOINTS.get(endpoint) or _body({"endpoint": endpoint})
        if self.text:
            frag += b',"messages":' + _enc.encode(messages)
        self.content_frags.append(frag)
        self.content_tokens.append(max(1, chars // 4 + 4 * len(messages)))
        return len(self.content_frags) - 1

    def add_params(self, params: dict[str, Any]) -> int:
        """Register a parameter set; return its index."""
        clean = {k: v for k, v in params.items() if v is not None}
        self.params_frags.append(b'"params":' + _enc.encode(clean))
        self.params_max.append(int(clean.get("max_tokens", 4096)))
        effort = {"low": 0.4, "medium": 1.0, "high": 2.5}.get(
            str(clean.get("reasoning_effort")), 0.8
        )
        self.params_effort.append(effort)
        return len(self.params_frags) - 1

    def pick_models(
        self,
        rng: np.random.Generator,
        t: np.ndarray,
        weights: dict[str, float],
        *,
        adoption_days: float = 3.0,
        chase: str = "",
        chase_share: float = 0.0,
        chase_lag_h: float = 0.0,
    ) -> np.ndarray:
        """Choose a model per request among those released by then.

        Legitimate users adopt a new model gradually (exponential ramp, ``adoption_days``);
        a release-chasing campaign moves ``chase_share`` of its traffic within hours.
        """
        w = (
            np.array([weights.get(m, 0.0) for m in self.model_names])
            if weights
            else self.model_weight.copy()
        )
        age = (t[:, None] - self.model_release[None, :]) / 86400.0
        ramp = np.where(age < 0, 0.0, 1.0 - np.exp(-np.maximum(age, 0.0) / adoption_days))
        ramp[:, self.model_release <= self.start] = 1.0
        mat = ramp * w[None, :]
        if chase:
            ci = self.model_names.index(chase)
            lag_age = age[:, ci] - chase_lag_h / 24.0
            on = lag_age >= 0
            mat[:, ci] = 0.0
            rest = mat.sum(axis=1)
            ramp_c = chase_share * (1.0 - np.exp(-np.maximum(lag_age, 0.0) * 24.0 / 2.0))
            ramp_c = np.where(rest > 0, ramp_c, 1.0)
            mat[:, ci] = np.where(on, rest * ramp_c / np.maximum(1.0 - ramp_c, 1e-9), 0.0)
        tot = mat.sum(axis=1, keepdims=True)
        mat = np.where(tot > 0, mat / np.where(tot > 0, tot, 1.0), 1.0 / len(self.model_names))
        cdf = np.cumsum(mat, axis=1)
        u = rng.random(len(t))[:, None]
        last = len(self.model_names) - 1
        return np.asarray(np.minimum((u > cdf).sum(axis=1), last), dtype=np.int16)

    def emit(
        self,
        rng: np.random.Generator,
        t: np.ndarray,
        slot: np.ndarray,
        client: np.ndarray,
        content: np.ndarray,
        params: np.ndarray,
        model: np.ndarray,
        *,
        out_median: float,
        out_sigma: float = 0.8,
        error_rate: float = 0.01,
    ) -> None:
        """Finish a batch (usage, status, latency) and add it as a :class:`Block`."""
        n = len(t)
        maxt = np.asarray(self.params_max, dtype=np.int64)[params]
        out = np.minimum(rng.lognormal(np.log(out_median), out_sigma, n).astype(np.int64) + 1, maxt)
        effort = np.asarray(self.params_effort)[params]
        reasoning = self.model_reasoning[model]
        rt = np.where(reasoning, rng.lognormal(np.log(900.0), 0.7, n) * effort, 0.0).astype(
            np.int64
        )
        status = np.full(n, 200, dtype=np.int16)
        r = rng.random(n)
        status[r < error_rate] = 429
        status[r < error_rate * 0.15] = 500
        status[r < error_rate * 0.05] = 400
        lat = 250.0 + out * rng.uniform(8.0, 25.0, n) + rt * 12.0
        lat *= rng.lognormal(0.0, 0.25, n)
        lat[status != 200] = rng.uniform(5.0, 60.0, int((status != 200).sum()))
        self.blocks.append(
            Block(
                t=t.astype(np.float64),
                slot=slot.astype(np.int32),
                client=client.astype(np.int32),
                content=content.astype(np.int32),
                params=params.astype(np.int32),
                model=model.astype(np.int16),
                out_tok=out.astype(np.int32),
                reason_tok=rt.astype(np.int32),
                status=status,
                latency=lat.astype(np.float32),
            )
        )
