from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.cli import cli
from distillguard.detect.ruleset import load_rule_file, load_rules, test_rules
from distillguard.errors import RuleError

GOOD = """id: my-rule
title: Heavy logprobs
level: medium
tags: [attack.AML.T0024.002]
condition: logprobs_share >= 0.5
tests:
  positive: [{logprobs_share: 0.9}]
  negative: [{logprobs_share: 0.1}]
"""


def test_builtin_rules_load_and_pass_their_own_tests() -> None:
    rules = load_rules()
    assert len(rules) >= 8
    assert all(r.atlas for r in rules)
    report = test_rules(rules)
    assert report.ok, report.failures
    assert report.cases >= 2 * len(rules)


def test_bad_condition_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("# comment\n" + GOOD.replace("logprobs_share >= 0.5", "logprobs_share >="))
    with pytest.raises(RuleError) as exc:
        load_rule_file(p)
    assert exc.value.line == 2 and str(p) in str(exc.value)


def test_missing_keys_unknown_level_and_no_atlas(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(GOOD.replace("level: medium", "level: severe"))
    with pytest.raises(RuleError, match="level"):
        load_rule_file(p)
    p.write_text(GOOD.replace("tags: [attack.AML.T0024.002]", "tags: [foo]"))
    with pytest.raises(RuleError, match="ATLAS"):
        load_rule_file(p)
    p.write_text("title: x\n")
    with pytest.raises(RuleError, match="missing id"):
        load_rule_file(p)
    p.write_text("id: [unclosed\n")
    with pytest.raises(RuleError, match="invalid YAML"):
        load_rule_file(p)


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(RuleError, match="duplicate"):
        load_rules([tmp_path], builtin=False)


def test_cli_rules_test_fails_on_a_wrong_case(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(GOOD)
    runner = CliRunner()
    ok = runner.invoke(cli, ["rules", "test", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    (tmp_path / "ok.yaml").write_text(
        GOOD.replace("[{logprobs_share: 0.1}]", "[{logprobs_share: 0.7}]")
    )
    bad = runner.invoke(cli, ["rules", "test", str(tmp_path)])
    assert bad.exit_code == 1
    assert "FAIL" in bad.output and "my-rule" in bad.output
    listed = runner.invoke(cli, ["rules", "list", "--rules", str(tmp_path)])
    assert "my-rule" in listed.output and "dg-logprobs-harvest" in listed.output


def test_unknown_feature_names_are_refused_with_a_hint(tmp_path: Path) -> None:
    # A misspelt feature reads as null for every account: the rule would never fire while
    # its own cases, misspelt the same way, still passed.
    p = tmp_path / "typo.yaml"
    p.write_text("# a comment\n" + GOOD.replace("logprobs_share", "logprob_share"))
    hint = "'logprob_share' \\(did you mean 'logprobs_share'\\?\\)"
    with pytest.raises(RuleError, match=hint) as exc:
        load_rule_file(p)
    assert exc.value.line == 2 and str(p) in str(exc.value)
    p.write_text(GOOD.replace("negative: [{logprobs_share: 0.1}]", "negative: [{n_event: 3}]"))
    with pytest.raises(RuleError, match="tests.negative case names unknown feature"):
        load_rule_file(p)
    # Every signal's columns and the peer-intel columns are names a condition may use.
    p.write_text(
        GOOD.replace(
            "logprobs_share >= 0.5",
            "sig_prompt_extraction_share + sig_jailbreak_mean >= 0.5 or intel_score > 0.5",
        ).replace("positive: [{logprobs_share: 0.9}]", "positive: [{sig_jailbreak_mean: 0.9}]")
    )
    assert load_rule_file(p)[0].id == "my-rule"


def test_cli_rules_features_lists_what_conditions_can_name() -> None:
    out = CliRunner().invoke(cli, ["rules", "features"])
    assert out.exit_code == 0, out.output
    names = {line.split()[0] for line in out.output.splitlines()}
    assert {"n_events", "sig_prompt_extraction_share", "intel_score", "tier"} <= names
