"""Shipped signals on the real corpora: bounds over sets, and the training script's quick mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from distillguard.detect.signals import SIGNALS
from distillguard.detect.signals import corpus as C
from distillguard.detect.signals.model import read_model

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.needs_shared_data


_CACHE: dict[str, tuple[C.Corpora, list[C.Example]]] = {}


@pytest.fixture()
def fresh(shared_data: Path) -> tuple[C.Corpora, list[C.Example]]:
    if "x" not in _CACHE:
        cor = C.load_corpora(shared_data)
        # a seed never used in training: new paraphrases and new payload draws
        _CACHE["x"] = (cor, C.examples(cor, seed=991, per_style=60))
    return _CACHE["x"]


@pytest.mark.parametrize("name", list(SIGNALS))
def test_fresh_wrappers_score_high(fresh: tuple[C.Corpora, list[C.Example]], name: str) -> None:
    _, exs = fresh
    pos = [e for e in exs if e.labels[name] == 1 and e.style != "attack"]
    s = SIGNALS[name].score([e.text for e in pos], [None] * len(pos))
    assert (s > 0.5).mean() >= 0.9


@pytest.mark.parametrize("name", list(SIGNALS))
def test_legit_corpora_score_low(fresh: tuple[C.Corpora, list[C.Example]], name: str) -> None:
    cor, _ = fresh
    legit = cor.payloads["vicuna"] + cor.payloads["user_oriented"] + cor.payloads["gsm8k"][:500]
    s = SIGNALS[name].score(legit, [None] * len(legit))
    assert (s > 0.5).mean() <= 0.05


@pytest.mark.parametrize("name", ["prompt_extraction", "jailbreak"])
def test_real_attacks_are_caught(fresh: tuple[C.Corpora, list[C.Example]], name: str) -> None:
    cor, _ = fresh
    corpus = "tt_extraction" if name == "prompt_extraction" else "tt_hijacking"
    s = SIGNALS[name].score(cor.attacks[corpus], [None] * len(cor.attacks[corpus]))
    assert (s > 0.5).mean() >= 0.6


@pytest.mark.slow
def test_training_script_quick_mode(tmp_path: Path, shared_data: Path) -> None:
    data = shared_data
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_signals.py"), "--quick", "--data",
         str(data), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for name in SIGNALS:
        model = read_model(tmp_path / f"{name}.npz", name)
        assert model.meta["quick"] is True
        assert np.isfinite(model.w_hash).all()
        assert 0.0 <= model.meta["held_out"]["recall"] <= 1.0  # type: ignore[index]
