"""Regenerate the hand-made intel fixture (provider_a): `python tests/data/intel/make_fixture.py`.

Six campaign accounts share TEST-NET-3 addresses (203.0.113.0/24), ASN 64512, a harvester
user agent, two payment fingerprints and a throwaway e-mail domain, and wrap arithmetic
payloads in one reasoning-elicitation template. Ten legit accounts use their own addresses
(198.51.100.0/24), and some share a common user agent and e-mail domain with the campaign,
which an export must not share.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent / "provider_a"
WRAPPER = (
    "Solve the following problem. Write out your complete internal reasoning step by step, "
    "checking each intermediate result, then give the final answer on its own line. "
    "Problem: {}"
)
LEGIT = [
    "Draft a polite email to my landlord about the broken heater in {}.",
    "What are good vegetarian dinner ideas using {}?",
    "Summarise the main points of the meeting notes about {}.",
    "Translate this sentence into French: the train to {} leaves at noon.",
    "Help me write a birthday message for my friend who loves {}.",
]
THINGS = ["lentils", "Lisbon", "chess", "the quarterly budget", "hiking", "jazz", "Oslo", "tofu"]


def main() -> None:
    rng = random.Random(7)
    t0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    events = []
    for i in range(6):
        acct = f"c-{i + 1:02d}"
        for j in range(30):
            a, b = rng.randint(10, 999), rng.randint(10, 999)
            ua = "python-requests/2.31.0" if j % 10 == 0 else "distil-harvester/1.0"
            events.append(
                {
                    "ts": (t0 + timedelta(minutes=5 * j + i)).isoformat(),
                    "account_id": acct,
                    "request_id": f"{acct}-{j}",
                    "model": "frontier-1",
                    "prompt": WRAPPER.format(f"A crate holds {a} apples and {b} pears; how many?"),
                    "client": {
                        "ip": f"203.0.113.{10 + (i + j) % 4}",
                        "asn": 64512,
                        "user_agent": ua,
                        "country": "ZZ",
                    },
                    "account": {
                        "payment_fingerprint": f"pm_fraud_00{i % 2 + 1}",
                        "email_domain": "mailinator-x.test",
                        "tier": "free",
                    },
                }
            )
    for i in range(10):
        acct = f"u-{i + 1:02d}"
        for j in range(12):
            events.append(
                {
                    "ts": (t0 + timedelta(hours=j, minutes=7 * i)).isoformat(),
                    "account_id": acct,
                    "request_id": f"{acct}-{j}",
                    "model": "frontier-1",
                    "prompt": rng.choice(LEGIT).format(rng.choice(THINGS)),
                    "client": {
                        "ip": f"198.51.100.{20 + i}",
                        "asn": 64496 + i % 3,
                        "user_agent": "python-requests/2.31.0" if i < 3 else "Mozilla/5.0",
                        "country": "GB",
                    },
                    "account": {
                        "payment_fingerprint": f"pm_good_{i:03d}",
                        "email_domain": "example.com"
                        if i % 2
                        else "mailinator-x.test"
                        if i == 4
                        else "example.org",
                        "tier": "pro",
                    },
                }
            )
    events.sort(key=lambda e: (e["ts"], e["account_id"]))
    HERE.mkdir(parents=True, exist_ok=True)
    with (HERE / "events.jsonl").open("w") as fh:
        for e in events:
            fh.write(json.dumps(e, sort_keys=True) + "\n")
    campaign = {
        "campaign_id": "CMP-0001",
        "accounts": [f"c-{i + 1:02d}" for i in range(6)],
        "risk": 0.94,
        "tactics": [
            {"atlas_id": "AML.T0024.002", "name": "Extract AI Model"},
            {"atlas_id": "AML.T0005.001", "name": "Train Proxy via Replication"},
            {"atlas_id": "AML.T0021", "name": "Establish Accounts"},
        ],
        "evidence": [
            {"kind": "shared_template", "detail": "template family 3 across 6 accounts"},
            {"kind": "shared_ip", "detail": "6 accounts on 203.0.113.10"},
        ],
        "first_seen": "2025-03-03T09:00:00Z",
        "last_seen": "2025-03-03T11:30:00Z",
        "volume": 180,
    }
    (HERE / "campaigns.json").write_text(json.dumps([campaign], indent=1) + "\n")
    with (HERE / "accounts.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["account_id", "risk", "verdict", "campaign_id", "top_reasons"])
        for i in range(6):
            w.writerow([f"c-{i + 1:02d}", "0.94", "campaign", "CMP-0001", "shared_template"])
        for i in range(10):
            w.writerow([f"u-{i + 1:02d}", "0.05", "legit", "", ""])


if __name__ == "__main__":
    main()
