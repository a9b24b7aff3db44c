"""The gateway configuration and Redis contents shared by the gateway benchmarks."""

from __future__ import annotations

from pathlib import Path

from common import SECRET


def bench_env(rport: int, uport: int, tmp: Path, **extra: str) -> dict[str, str]:
    """Environment of a gateway worker: limits evaluated on every request, capture on."""
    return {
        "DISTILLGUARD_GATEWAY_REDIS_URL": f"redis://127.0.0.1:{rport}/0",
        "DISTILLGUARD_GATEWAY_KEY_SECRET": SECRET,
        "DISTILLGUARD_GATEWAY_UPSTREAM_URL": f"http://127.0.0.1:{uport}",
        "DISTILLGUARD_GATEWAY_SPOOL_DIR": str(tmp / "spool"),
        "DISTILLGUARD_STORE_DB": str(tmp / "bench.duckdb"),
        # limits on and evaluated on every request, high enough never to refuse
        "DISTILLGUARD_GATEWAY_KEY_RPM": "1000000",
        "DISTILLGUARD_GATEWAY_ACCOUNT_TPM": "1000000000",
        "DISTILLGUARD_GATEWAY_ORG_CONCURRENCY": "10000",
        **extra,
    }


def seed_redis(rport: int, decisions: int = 1000, account: str = "bench-acct") -> str:
    """Create the bench key and a decision table of ``decisions`` + 1 rows; returns the key."""
    import redis

    from distillguard.gateway.keys import KeyAdmin, RedisKeyBackend
    from distillguard.policy import DecisionTable, MemoryLog, RedisPublisher, make_decision

    client = redis.Redis(port=rport)
    try:
        key = (
            KeyAdmin(RedisKeyBackend(client), SECRET.encode())
            .create(account, org_id="bench-org", actor="b")
            .raw_key
        )
        table = DecisionTable(RedisPublisher(client), MemoryLog())
        for i in range(decisions):
            table.put(
                make_decision("account", f"other-{i}", "throttle", params={"rpm": 5}), actor="b"
            )
        table.put(make_decision("account", account, "watermark", reason="bench"), actor="b")
    finally:
        client.close()
    return key
