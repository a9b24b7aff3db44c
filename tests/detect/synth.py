"""A tiny, seeded traffic maker for detection unit tests (the simulator drives benchmarks)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2025, 3, 3, tzinfo=UTC)
TOPICS = ["billing", "travel", "poetry", "sql", "biology", "cooking", "law", "tax", "music"]


def legit_events(rng: random.Random, n_accounts: int, days: int = 3) -> list[dict[str, Any]]:
    out = []
    for i in range(n_accounts):
        acc = f"legit-{i:03d}"
        org = f"org-{i // 3:03d}"
        n = rng.randint(5, 80)
        for j in range(n):
            ts = T0 + timedelta(days=rng.randrange(days), hours=9 + rng.random() * 8)
            topic = rng.choice(TOPICS)
            out.append(
                {
                    "ts": ts.isoformat(),
                    "account_id": acc,
                    "org_id": org,
                    "request_id": f"{acc}-{j}",
                    "model": "m-1",
                    "prompt": f"Help me with {topic}: item {rng.randrange(10**6)} please.",
                    "client": {
                        "ip": f"10.{i}.{rng.randrange(3)}.{rng.randrange(250)}",
                        "asn": 1000 + i,
                        "user_agent": "app/1.0",
                        "country": "US",
                    },
                    "account": {
                        "created_at": (T0 - timedelta(days=300 + i)).isoformat(),
                        "payment_fingerprint": f"pay-{org}",
                        "verified": True,
                        "tier": "tier1",
                        "email_domain": "corp.com",
                    },
                    "params": {"max_tokens": rng.choice([256, 512, 1024])},
                    "usage": {"input_tokens": 50, "output_tokens": 200},
                }
            )
    return out


def campaign_events(
    rng: random.Random,
    n_accounts: int,
    per_account: int,
    *,
    prefix: str = "camp",
    start: datetime = T0,
    step_s: float = 60.0,
    privacy: bool = False,
) -> list[dict[str, Any]]:
    out = []
    for i in range(n_accounts):
        acc = f"{prefix}-{i:03d}"
        for j in range(per_account):
            ts = start + timedelta(seconds=j * step_s + rng.random() * 5)
            ev: dict[str, Any] = {
                "ts": ts.isoformat(),
                "account_id": acc,
                "request_id": f"{acc}-{j}",
                "model": "m-1",
                "client": {
                    "ip": f"203.0.113.{i % 4}",
                    "asn": 64500,
                    "user_agent": "python-requests/2.31",
                    "country": "SG",
                },
                "account": {
                    "created_at": (start - timedelta(days=1, minutes=i)).isoformat(),
                    "payment_fingerprint": f"pay-{prefix}",
                    "verified": False,
                    "tier": "free",
                    "email_domain": "mail.ru",
                },
                "params": {"max_tokens": 1024, "logprobs": True},
                "usage": {"input_tokens": 80, "output_tokens": 900},
            }
            if not privacy:
                ev["prompt"] = (
                    "Solve the following problem. Think step by step and write out your full "
                    f"internal reasoning before the answer. Problem {rng.randrange(10**6)}."
                )
            out.append(ev)
    return out


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path
