from __future__ import annotations

import json

import pytest

from distillguard.cli import main
from distillguard.watermark.keys import MasterSecret
from distillguard.watermark.models import generate
from distillguard.watermark.processors import KGWLogitsProcessor
from distillguard.watermark.transform import WatermarkTransform

TEXT = (
    "This is a large problem. Perhaps we should quickly choose an enormous method, for "
    "example the main approach. Children often make mistakes, but kids rarely make a huge "
    "error. Therefore it is essentially useful to reduce errors and improve the whole idea."
)


@pytest.fixture()
def key_file(tmp_path):
    """A fixed master secret on disk: the detection and audit tests are statistical, and with
    a fresh random key each run one in a few dozen generations of the tiny model scored too
    few tokens to detect (a fresh-clone CI run failed so). `keygen` is tested on its own."""
    MasterSecret(b"distillguard-test-master-secret!").save(tmp_path / "m.key")
    return tmp_path / "m.key"


def test_help_lists_commands_with_examples(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "watermark" in out and "audit" in out
    for args in (
        ["watermark", "--help"],
        ["watermark", "detect", "--help"],
        ["audit", "closed", "--help"],
        ["audit", "open", "--help"],
    ):
        assert main(args) == 0
        assert "Example" in capsys.readouterr().out


def test_keygen_lists_ids_never_material(key_file, tmp_path, capsys) -> None:
    fresh = tmp_path / "fresh.key"
    assert main(["watermark", "keygen", "--out", str(fresh)]) == 0
    assert (fresh.stat().st_mode & 0o777) == 0o600
    assert MasterSecret.load(fresh).secret_id != MasterSecret.load(key_file).secret_id
    capsys.readouterr()
    assert (
        main(
            [
                "watermark",
                "keygen",
                "--master",
                str(key_file),
                "--scope",
                "cohort:a",
                "--scope",
                "account:x",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["scope"] for r in rows] == ["cohort:a", "account:x"]
    assert rows[0]["tokenizer_fingerprint"].startswith("tok_")
    secret = key_file.read_text().strip()
    material = MasterSecret.from_hex(secret).derive("cohort:a", "kgw").material.hex()
    assert material not in json.dumps(rows)
    assert main(["watermark", "keygen", "--out", str(key_file)]) == 2  # refuses to overwrite


def test_apply_then_detect_lexical_names_the_cohort(key_file, tmp_path, capsys) -> None:
    src = tmp_path / "answer.txt"
    src.write_text(TEXT)
    assert (
        main(
            [
                "watermark",
                "apply",
                "--master",
                str(key_file),
                "--account",
                "acct_7",
                "--cohorts",
                "8",
                str(src),
            ]
        )
        == 0
    )
    marked = capsys.readouterr().out
    dump = tmp_path / "dump.jsonl"
    dump.write_text(
        "\n".join(json.dumps({"text": marked.replace("problem", f"problem {i}")}) for i in range(4))
    )
    assert (
        main(
            [
                "watermark",
                "detect",
                "--master",
                str(key_file),
                "--scheme",
                "lexical",
                "--cohorts",
                "8",
                "--json",
                str(dump),
            ]
        )
        == 0
    )
    res = json.loads(capsys.readouterr().out)
    scope = WatermarkTransform(MasterSecret.load(key_file), cohorts=8).scope_for("acct_7")
    assert res["matches"] == [scope]


def test_detect_kgw_text_and_bad_input(key_file, tmp_path, tiny_lm, capsys) -> None:
    key = MasterSecret.load(key_file).derive("cohort:a", "kgw")
    ids = generate(
        tiny_lm,
        ["Question: What is 3 plus 4?\nAnswer:"],
        processors=[KGWLogitsProcessor(key, tiny_lm.vocab_size)],
        max_new_tokens=150,
        seed=5,
    )[0]
    f = tmp_path / "out.txt"
    f.write_text(tiny_lm.tokenizer.decode(ids))
    assert (
        main(
            [
                "watermark",
                "detect",
                "--master",
                str(key_file),
                "--scope",
                "cohort:a",
                "--scope",
                "cohort:b",
                str(f),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "watermark found for: cohort:a" in out
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert (
        main(["watermark", "detect", "--master", str(key_file), "--scope", "cohort:a", str(empty)])
        == 0
    )
    out = capsys.readouterr().out
    assert "insufficient" in out and "empty input" in out and "watermark found for: none" in out
    assert (
        main(
            [
                "watermark",
                "detect",
                "--master",
                str(key_file),
                "--scope",
                "cohort:a",
                str(tmp_path / "missing.txt"),
            ]
        )
        == 2
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n')
    assert (
        main(["watermark", "detect", "--master", str(key_file), "--scope", "cohort:a", str(bad)])
        == 2
    )
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_audit_closed_cli_against_stand_in(key_file, tmp_path, tiny_lm, stand_in, capsys) -> None:
    key = MasterSecret.load(key_file).derive(
        "cohort:b", "kgw", tokenizer_fingerprint=tiny_lm.tokenizer.fingerprint
    )
    proc = KGWLogitsProcessor(key, tiny_lm.vocab_size)

    def answer(prompt: str, n: int) -> str:
        return tiny_lm.tokenizer.decode(
            generate(tiny_lm, [prompt], processors=[proc], max_new_tokens=50, seed=n)[0]
        )

    probes = tmp_path / "probes.jsonl"
    probes.write_text(
        "\n".join(
            json.dumps({"prompt": f"Question: What is {i} times {i + 2}?\nAnswer:"})
            for i in range(10)
        )
    )
    with stand_in(answer) as server:
        rc = main(
            [
                "audit",
                "closed",
                "--master",
                str(key_file),
                "--scope",
                "cohort:a",
                "--scope",
                "cohort:b",
                "--controls",
                "5",
                "--base-url",
                server.url,
                "--probes",
                str(probes),
                "--out",
                str(tmp_path / "rep"),
            ]
        )
    assert rc == 0
    out = capsys.readouterr().out
    assert "watermark found for: cohort:b" in out
    assert (tmp_path / "rep" / "audit.html").is_file() and (
        tmp_path / "rep" / "audit.json"
    ).is_file()


def test_audit_open_cli_reports_the_soft_score(key_file, tmp_path, tiny_lm, capsys) -> None:
    from distillguard.watermark.tokenizer import tiny_model_path

    texts = tmp_path / "served.jsonl"
    texts.write_text("\n".join(json.dumps({"text": TEXT + f" Number {i}."}) for i in range(4)))
    rc = main(
        [
            "audit",
            "open",
            "--master",
            str(key_file),
            "--scope",
            "cohort:a",
            "--controls",
            "5",
            "--suspect-model",
            str(tiny_model_path()),
            "--texts",
            str(texts),
            "--out",
            str(tmp_path / "rep"),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "soft green-mass score: watermark found for: none" in out
    rep = json.loads((tmp_path / "rep" / "audit.json").read_text())
    assert rep["soft"]["keys"][0]["windows"] > 25 and len(rep["soft"]["control"]) == 5
    assert "probability mass on the green lists" in (tmp_path / "rep" / "audit.html").read_text()
