"""Shared simulation runs: each scenario is simulated once per test session (small scale)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from distillguard.events import Event, decode_event
from distillguard.sim import SimResult, load_scenario, simulate


@dataclass
class Run:
    result: SimResult
    events: list[Event]
    labels: dict[str, str]
    manifest: dict[str, Any]

    def of(self, campaign: str) -> list[Event]:
        return [e for e in self.events if self.labels[e.account_id] == campaign]

    def legit(self) -> list[Event]:
        return [e for e in self.events if not self.labels[e.account_id]]


def read_run(result: SimResult) -> Run:
    with result.events_path.open("rb") as fh:
        events = [decode_event(line) for line in fh]
    with result.labels_path.open(newline="") as fh:
        labels = {r["account_id"]: r["campaign_id"] for r in csv.DictReader(fh)}
    manifest = json.loads(result.manifest_path.read_text())
    return Run(result, events, labels, manifest)


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Run]:
    cache: dict[tuple[str, float, int, bool, str | None], Run] = {}

    def run(
        name: str, scale: float, seed: int = 0, text: bool = True, corpus: str | None = None
    ) -> Run:
        key = (name, scale, seed, text, corpus)
        if key not in cache:
            scenario = load_scenario(name)
            if corpus is not None:
                import msgspec

                scenario = msgspec.structs.replace(scenario, corpus_dir=corpus)
            out: Path = tmp_path_factory.mktemp(f"sim-{Path(name).stem}")
            cache[key] = read_run(simulate(scenario, out, seed=seed, scale=scale, text=text))
        return cache[key]

    return run
