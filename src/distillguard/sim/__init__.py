"""Realistic API traffic: legitimate personas and distillation campaigns, with ground truth.

Typical use::

    from pathlib import Path
    from distillguard.sim import load_scenario, simulate

    result = simulate(load_scenario("demo-week"), Path("sim-out"), seed=7, scale=0.1)
    print(result.events, result.campaign_accounts)

See docs/simulator.md for personas, tactics and every scenario field.
"""

from __future__ import annotations

from distillguard.sim.engine import SimResult, simulate
from distillguard.sim.scenario import (
    SCENARIOS,
    CampaignSpec,
    ModelSpec,
    PersonaSpec,
    Scenario,
    load_scenario,
    scenario_from_dict,
    with_days,
)

__all__ = [
    "SCENARIOS",
    "CampaignSpec",
    "ModelSpec",
    "PersonaSpec",
    "Scenario",
    "SimResult",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
    "with_days",
]
