"""Side by side with LiteLLM's proxy: added latency at the same loads, limits across 4 replicas.

LiteLLM runs from its own virtual environment (``--litellm``, default
``/tmp/litellm-venv/bin/litellm``; create it with ``python3 -m venv /tmp/litellm-venv &&
/tmp/litellm-venv/bin/pip install 'litellm[proxy]'``), against the same stand-in upstream,
with the same open-loop load (``loadgen.py``, its own process). Limits: LiteLLM's per-key
``rpm_limit`` needs its Postgres key database, so the same 100/min limit is set where
LiteLLM enforces it without a database — the deployment's ``rpm`` with usage-based routing —
and LiteLLM runs without Redis (its default); ours runs with Redis. For the latency levels the
limits are set high enough never to refuse, on both. Loopback only; cleans up.

    .venv/bin/python benchmarks/gateway/litellm_compare.py [--rates 20,50,100] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import free_port, load_average, start_cli, start_redis, stop_all, wait_port  # noqa: E402
from setup import bench_env, seed_redis  # noqa: E402

from bench_gateway import burst, pct, run_load  # noqa: E402

MASTER = "sk-bench-master-0123456789"


def litellm_config(path: Path, upstream: int, rpm: int) -> None:
    """Write a LiteLLM proxy config: one deployment on the stand-in, rpm enforced per instance."""
    path.write_text(
        "model_list:\n"
        "  - model_name: standin-1\n"
        "    litellm_params:\n"
        "      model: openai/standin-1\n"
        f"      api_base: http://127.0.0.1:{upstream}/v1\n"
        "      api_key: none\n"
        f"      rpm: {rpm}\n"
        "router_settings:\n"
        "  routing_strategy: usage-based-routing-v2\n"
        "  enable_pre_call_checks: true\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  num_retries: 0\n"
        "general_settings:\n"
        f"  master_key: {MASTER}\n"
        "  disable_spend_logs: true\n"
    )


def start_litellm(binary: str, cfg: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "NO_PROXY": "*",
    }
    log = open(cfg.with_suffix(f".{port}.log"), "wb")  # noqa: SIM115 - closed with the process
    p = subprocess.Popen(
        [
            binary,
            "--config",
            str(cfg),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, timeout=240)
    except TimeoutError:
        p.kill()
        raise
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="20,50,100")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--litellm", default="/tmp/litellm-venv/bin/litellm")
    ap.add_argument("--rpm", type=int, default=100, help="the shared limit of the burst test")
    a = ap.parse_args()
    if not Path(a.litellm).exists():
        sys.exit(f"{a.litellm} not found: install LiteLLM in its own venv (see the docstring)")
    procs: list[subprocess.Popen[bytes]] = []
    rows = [
        (
            "load",
            "direct p50/p99 ms",
            "ours added p50/p99",
            "LiteLLM added p50/p99",
            "errors d/ours/LiteLLM",
            "loadavg",
        )
    ]
    with tempfile.TemporaryDirectory(prefix="dg-litellm-") as t:
        tmp = Path(t)
        try:
            rport, uport, gport, lport = free_port(), free_port(), free_port(), free_port()
            procs.append(start_redis(rport))
            procs.append(start_cli(["upstream", "--port", str(uport)], {}, uport))
            env = bench_env(rport, uport, tmp)
            key = seed_redis(rport, decisions=1000)
            procs.append(start_cli(["serve", "--port", str(gport)], env, gport))
            cfg_hi = tmp / "litellm-hi.yaml"
            litellm_config(cfg_hi, uport, 1_000_000)
            procs.append(start_litellm(a.litellm, cfg_hi, lport))
            path = "/v1/chat/completions"
            for rate in [int(r) for r in a.rates.split(",")]:
                d = run_load(f"http://127.0.0.1:{uport}{path}", key, rate, a.seconds)
                g = run_load(f"http://127.0.0.1:{gport}{path}", key, rate, a.seconds)
                ll = run_load(f"http://127.0.0.1:{lport}{path}", MASTER, rate, a.seconds)
                (d50, d99), (g50, g99), (l50, l99) = pct(d), pct(g), pct(ll)
                rows.append(
                    (
                        f"{rate} req/s",
                        f"{d50:.2f}/{d99:.2f}",
                        f"{g50 - d50:.2f}/{g99 - d99:.2f}",
                        f"{l50 - d50:.2f}/{l99 - d99:.2f}",
                        f"{d['errors']}/{g['errors']}/{ll['errors']}",
                        f"{load_average():.1f}",
                    )
                )
            stop_all(procs[3:])
            del procs[3:]
            # limits across 4 replicas: ours share Redis, LiteLLM's instances do not
            cfg_lim = tmp / "litellm-lim.yaml"
            litellm_config(cfg_lim, uport, a.rpm)
            lports = [free_port() for _ in range(4)]
            for p in lports:
                procs.append(start_litellm(a.litellm, cfg_lim, p))
            l_ok = asyncio.run(burst([f"http://127.0.0.1:{p}" for p in lports], MASTER, a.rpm * 4))
            stop_all(procs[3:])
            del procs[3:]
            e = {
                **env,
                "DISTILLGUARD_GATEWAY_KEY_RPM": str(a.rpm),
                "DISTILLGUARD_GATEWAY_SINK": "false",
            }
            gports = [free_port() for _ in range(4)]
            for p in gports:
                procs.append(start_cli(["serve", "--port", str(p)], e, p))
            k2 = seed_redis(rport, decisions=0, account="limit-acct")
            g_ok = asyncio.run(burst([f"http://127.0.0.1:{p}" for p in gports], k2, a.rpm * 4))
            rows.append(
                (
                    f"4 replicas, limit {a.rpm}/min, {a.rpm * 4} at once",
                    "-",
                    f"admitted {g_ok}",
                    f"admitted {l_ok}",
                    "-",
                    f"{load_average():.1f}",
                )
            )
        finally:
            stop_all(procs)
            for f in sorted(tmp.glob("*.log")):
                tail = f.read_bytes()[-600:].decode(errors="replace")
                if "Traceback" in tail or "rror" in tail:
                    print(f"--- {f.name} (tail)\n{tail}", file=sys.stderr)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print(" | ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
