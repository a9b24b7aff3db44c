"""The ``distillguard simulate`` command and compressed outputs."""

from __future__ import annotations

import gzip
from pathlib import Path

import zstandard
from click.testing import CliRunner

from distillguard.events import decode_event
from distillguard.sim import load_scenario, simulate
from distillguard.sim.cli import simulate as simulate_cmd


def test_list_shows_every_preset() -> None:
    res = CliRunner().invoke(simulate_cmd, ["--list"])
    assert res.exit_code == 0
    for name in ("demo-week", "reseller-mix", "slow-and-low", "small-in-large", "scale-10m"):
        assert name in res.output


def test_run_with_days_and_no_text(tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = ["--scale", "0.01", "--days", "1", "--no-text", "--out", str(out), "--quiet"]
    res = CliRunner().invoke(simulate_cmd, args)
    assert res.exit_code == 0, res.output
    assert "total" in res.output
    lines = (out / "events.jsonl").read_bytes().splitlines()
    events = [decode_event(x) for x in lines]
    assert events and all(e.messages is None for e in events)
    span = events[-1].ts_utc - events[0].ts_utc
    assert span.total_seconds() <= 86400


def test_unknown_scenario_exits_with_a_message(tmp_path: Path) -> None:
    res = CliRunner().invoke(simulate_cmd, ["--scenario", "nope", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "unknown scenario" in str(res.exception or res.output)


def test_compressed_outputs_decode_to_the_same_events(tmp_path: Path) -> None:
    s = load_scenario("demo-week")
    plain = simulate(s, tmp_path / "p", seed=1, scale=0.01)
    zst = simulate(s, tmp_path / "z", seed=1, scale=0.01, compress="zst")
    gz = simulate(s, tmp_path / "g", seed=1, scale=0.01, compress="gz")
    raw = plain.events_path.read_bytes()
    assert zst.events_path.name == "events.jsonl.zst" and gz.events_path.name == "events.jsonl.gz"
    assert (
        zstandard.ZstdDecompressor().decompressobj().decompress(zst.events_path.read_bytes()) == raw
    )
    assert gzip.decompress(gz.events_path.read_bytes()) == raw
    again = simulate(s, tmp_path / "g2", seed=1, scale=0.01, compress="gz")
    assert again.events_path.read_bytes() == gz.events_path.read_bytes()
