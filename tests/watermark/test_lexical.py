from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.errors import WatermarkError
from distillguard.watermark.base import correct
from distillguard.watermark.keys import MasterSecret
from distillguard.watermark.lexical import LexicalWatermark, SynonymTable
from distillguard.watermark.transform import WatermarkTransform

MASTER = MasterSecret(b"L" * 32)
TEXT = (
    "This is a large problem. Perhaps we should quickly choose an enormous method, for "
    "example the main approach. Children often make mistakes, but kids rarely make a huge "
    "error. Therefore it is essentially useful to reduce errors and improve the whole idea. "
    "Sometimes the primary goal is almost certainly to purchase additional tools."
)


def test_apply_marks_and_detects_and_keeps_other_words() -> None:
    wm = LexicalWatermark(MASTER.derive("a", "lexical"))
    marked = wm.apply(TEXT)
    assert wm.apply(marked) == marked  # idempotent
    assert wm.detect(marked).p_value < 1e-5
    assert wm.detect(marked).green_fraction == 1.0
    strip = {w.lower().strip(".,") for w in TEXT.split()} - set(wm.table.index())
    assert strip <= {w.lower().strip(".,") for w in marked.split()} | {"an", "a"}


def test_article_and_case_follow_the_new_word() -> None:
    table = SynonymTable((("enormous", "big"),))
    for scope in range(40):
        wm = LexicalWatermark(MASTER.derive(f"s{scope}", "lexical"), table)
        out = wm.apply("An enormous dog.")
        assert out in ("An enormous dog.", "A big dog.")


def test_other_key_and_clean_text_not_detected() -> None:
    wm = LexicalWatermark(MASTER.derive("a", "lexical"))
    other = LexicalWatermark(MASTER.derive("b", "lexical"))
    assert other.detect(wm.apply(TEXT)).p_value > 1e-3


def test_clean_text_p_values_uniform_over_keys() -> None:
    corpus = " ".join([TEXT] * 1)
    ps = np.array(
        [
            LexicalWatermark(MASTER.derive(f"k{i}", "lexical")).detect(corpus).p_value
            for i in range(300)
        ]
    )
    for alpha in (0.01, 0.05, 0.2):  # exact, hence conservative
        assert (ps <= alpha).mean() <= alpha + 3 * np.sqrt(alpha / len(ps))


def test_empty_and_short_text_flagged() -> None:
    wm = LexicalWatermark(MASTER.derive("a", "lexical"))
    assert wm.apply("") == ""
    r = wm.detect("")
    assert r.insufficient and r.p_value == 1.0 and "empty" in r.note
    r = wm.detect("A large dog.")
    assert r.insufficient and "only 1 synonym" in r.note


def test_table_rejects_duplicates() -> None:
    with pytest.raises(WatermarkError, match="in synonym groups"):
        SynonymTable((("big", "large"), ("big", "huge")))
    with pytest.raises(WatermarkError, match="fewer than two"):
        SynonymTable((("big",),))


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
@settings(max_examples=80, deadline=None)
def test_apply_never_crashes_and_changes_only_group_words(text: str) -> None:
    wm = LexicalWatermark(MASTER.derive("a", "lexical"))
    out = wm.apply(text)
    if not any(w in text.lower() for w in wm.table.index()):
        assert out == text


def test_transform_routes_accounts_to_cohorts_and_flagged_accounts() -> None:
    tf = WatermarkTransform(MASTER, cohorts=8)
    assert tf.transform("", "acct_1") == ""
    scope = tf.scope_for("acct_1")
    assert scope.startswith("cohort:bucket-") and scope in tf.all_scopes()
    tf.flag_account("acct_1")
    assert tf.scope_for("acct_1") == "account:acct_1"
    assert tf.key_id_for("acct_1").startswith("wk_")
    # harvested responses of one flagged account: the audit names that account
    harvested = [tf.transform(TEXT.replace("problem", f"problem {i}"), "acct_1") for i in range(5)]
    ring = tf.key_ring()
    dets = [LexicalWatermark(k).detect(harvested) for k in ring.keys]
    res = correct(dets, [k.scope for k in ring.keys], alpha=0.01)
    assert res.matches == ("account:acct_1",)
    with pytest.raises(WatermarkError):
        WatermarkTransform(MASTER, cohorts=0)


def test_transform_from_config_and_config_errors(tmp_path) -> None:
    from distillguard.errors import ConfigError
    from distillguard.watermark.config import WatermarkConfig, load_config

    MASTER.save(tmp_path / "m.key")
    cfg = load_config(
        {
            "watermark": {
                "enabled": True,
                "master_secret_file": str(tmp_path / "m.key"),
                "cohorts": 4,
            }
        }
    )
    tf = WatermarkTransform.from_config(cfg)
    assert tf.cohorts == 4 and tf.scope_for("a") == WatermarkTransform(MASTER, cohorts=4).scope_for(
        "a"
    )
    with pytest.raises(ConfigError, match="needs master_secret_file"):
        WatermarkConfig(enabled=True)
    with pytest.raises(ConfigError, match="unknown key"):
        load_config({"watermark": {"colour": "red"}})


def test_registry_and_fake() -> None:
    from distillguard.watermark.kgw import KGWDetector
    from distillguard.watermark.registry import FakeDetector, Scheme, detector_class

    assert detector_class("kgw") is KGWDetector
    assert detector_class("lexical") is LexicalWatermark
    with pytest.raises(WatermarkError, match="unknown watermark scheme"):
        detector_class("nope")
    fake = FakeDetector(0.01)
    assert isinstance(fake, Scheme) and isinstance(
        LexicalWatermark(MASTER.derive("a", "lexical")), Scheme
    )
    assert fake.detect([1, 2, 3]).p_value == 0.01 and fake.calls == 1
