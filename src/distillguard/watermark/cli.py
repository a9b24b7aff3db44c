"""``distillguard watermark keygen|apply|detect|generate`` and ``distillguard audit``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from distillguard.errors import WatermarkError
from distillguard.watermark.base import Detection, correct
from distillguard.watermark.keys import KeyRing, MasterSecret
from distillguard.watermark.kgw import KGWDetector, KGWParams, UnigramDetector
from distillguard.watermark.lexical import LexicalWatermark
from distillguard.watermark.transform import WatermarkTransform

SCHEMES = ("kgw", "unigram", "synthid", "lexical")


def _read_texts(paths: tuple[str, ...], jsonl_field: str) -> list[str]:
    """Read texts: plain files (one text each), ``-`` for stdin, or JSONL (one per line)."""
    texts: list[str] = []
    for p in paths or ("-",):
        if p == "-":
            texts.append(sys.stdin.read())
            continue
        path = Path(p)
        if not path.is_file():
            raise WatermarkError(f"{path}: no such file")
        raw = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            for i, line in enumerate(raw.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    texts.append(str(json.loads(line)[jsonl_field]))
                except (ValueError, KeyError, TypeError):
                    raise WatermarkError(
                        f"{path}:{i}: expected a JSON object with a {jsonl_field!r} field"
                    ) from None
        else:
            texts.append(raw)
    return texts


def _scopes(scope: tuple[str, ...], cohorts: int, flagged: tuple[str, ...]) -> list[str]:
    out = list(scope)
    out += [f"cohort:bucket-{i:03d}" for i in range(cohorts)]
    out += [f"account:{a}" for a in flagged]
    if not out:
        raise WatermarkError("give --scope, --cohorts or --flagged: which keys to test")
    return out


def _kgw_params(gamma: float, delta: float, width: int, seeding: str) -> KGWParams:
    return KGWParams(gamma=gamma, delta=delta, context_width=width, seeding=seeding)  # type: ignore[arg-type]


def _print_table(rows: list[dict[str, Any]]) -> None:
    click.echo(
        f"{'scope':<28} {'key id':<20} {'scored':>7} {'green':>6} "
        f"{'p-value':>10} {'holm':>10}  flags"
    )
    for r in rows:
        flags = ("insufficient " if r["insufficient"] else "") + ("partial" if r["partial"] else "")
        click.echo(
            f"{r['scope']:<28} {r['key_id']:<20} {r['tokens_scored']:>7} "
            f"{r['green_fraction']:>6.3f} {r['p_value']:>10.3g} {r['p_holm']:>10.3g}  {flags}"
        )


@click.group()
def watermark() -> None:
    """Keyed watermarks: make keys, mark text, test text.

    \b
    Examples:
      distillguard watermark keygen --out master.key
      distillguard watermark keygen --master master.key --scope cohort:resellers
      echo "A large answer." | distillguard watermark apply --master master.key --account acct_1
      distillguard watermark detect --master master.key --scheme lexical --cohorts 64 dump.jsonl
      distillguard watermark detect --master master.key --scheme kgw --scope cohort:a out.txt
    """


@watermark.command()
@click.option("--out", type=click.Path(dir_okay=False), help="Write a new master secret here.")
@click.option("--master", type=click.Path(dir_okay=False), help="Existing master secret file.")
@click.option("--scope", multiple=True, help="cohort:<name> or account:<id> to derive a key for.")
@click.option("--scheme", type=click.Choice(SCHEMES), default="kgw", show_default=True)
@click.option("--tokenizer", type=click.Path(), help="Bind to this tokenizer (default: tiny).")
def keygen(
    out: str | None, master: str | None, scope: tuple[str, ...], scheme: str, tokenizer: str | None
) -> None:
    """Create a master secret (--out) or list derived key ids (--master --scope).

    Key material is never printed: only key ids, scopes and tokenizer fingerprints.

    \b
    Examples:
      distillguard watermark keygen --out master.key
      distillguard watermark keygen --master master.key --scope cohort:eu --scope account:acct_9
    """
    if out:
        m = MasterSecret.generate()
        m.save(out)
        click.echo(f"wrote master secret {m.secret_id} to {out} (mode 0600); keep it secret")
        return
    if not master or not scope:
        raise click.UsageError("give --out to create a secret, or --master and --scope")
    fp = ""
    if scheme != "lexical":
        from distillguard.watermark.tokenizer import load_tokenizer

        fp = load_tokenizer(tokenizer).fingerprint
    ring = KeyRing.derive(MasterSecret.load(master), scope, scheme, tokenizer_fingerprint=fp)
    click.echo(ring.listing())


@watermark.command()
@click.option("--master", type=click.Path(dir_okay=False), required=True)
@click.option("--account", required=True, help="Account the text is served to.")
@click.option("--cohorts", type=int, default=64, show_default=True)
@click.option("--flag", is_flag=True, help="Use the account's own key (flagged account).")
@click.argument("files", nargs=-1)
def apply(master: str, account: str, cohorts: int, flag: bool, files: tuple[str, ...]) -> None:
    """Mark text with the keyed lexical watermark, as the gateway does (stdout).

    \b
    Example:
      distillguard watermark apply --master master.key --account acct_1 answer.txt
    """
    tf = WatermarkTransform(
        MasterSecret.load(master), cohorts=cohorts, flagged=[account] if flag else []
    )
    for text in _read_texts(files, "text"):
        click.echo(tf.transform(text, account))
    click.echo(f"key {tf.key_id_for(account)} ({tf.scope_for(account)})", err=True)


@watermark.command()
@click.option("--master", type=click.Path(dir_okay=False), required=True)
@click.option("--scheme", type=click.Choice(SCHEMES), default="kgw", show_default=True)
@click.option("--scope", multiple=True, help="Scope to test (repeatable).")
@click.option("--cohorts", type=int, default=0, help="Also test cohort:bucket-000..N-1.")
@click.option("--flagged", multiple=True, help="Also test account:<id> (repeatable).")
@click.option("--tokenizer", type=click.Path(), help="Tokenizer (default: shipped tiny one).")
@click.option("--gamma", type=float, default=0.25, show_default=True)
@click.option("--context-width", type=int, default=1, show_default=True)
@click.option("--seeding", type=click.Choice(["left", "self"]), default="left", show_default=True)
@click.option("--field", "jsonl_field", default="text", show_default=True, help="JSONL text field.")
@click.option("--alpha", type=float, default=1e-3, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.argument("files", nargs=-1)
def detect(
    master: str,
    scheme: str,
    scope: tuple[str, ...],
    cohorts: int,
    flagged: tuple[str, ...],
    tokenizer: str | None,
    gamma: float,
    context_width: int,
    seeding: str,
    jsonl_field: str,
    alpha: float,
    as_json: bool,
    files: tuple[str, ...],
) -> None:
    """Test texts for the watermark of every given scope, pooled, with Holm/BH correction.

    Exit code 0 whether or not a watermark is found; read the table or --json.

    \b
    Examples:
      distillguard watermark detect --master master.key --scope cohort:a --scope cohort:b out.txt
      distillguard watermark detect --master master.key --scheme lexical --cohorts 64 dump.jsonl
    """
    m = MasterSecret.load(master)
    texts = _read_texts(files, jsonl_field)
    scopes = _scopes(scope, cohorts, flagged)
    dets: list[Detection] = []
    if scheme == "lexical":
        for s in scopes:
            dets.append(LexicalWatermark(m.derive(s, "lexical")).detect(texts))
    else:
        from distillguard.watermark.tokenizer import load_tokenizer

        tok = load_tokenizer(tokenizer)
        for s in scopes:
            key = m.derive(s, scheme, tokenizer_fingerprint=tok.fingerprint)
            if scheme == "synthid":
                from distillguard.watermark.synthid import SynthIDDetector

                dets.append(SynthIDDetector(key, tok).detect_corpus(texts))
            elif scheme == "unigram":
                dets.append(
                    UnigramDetector(key, tok, _kgw_params(gamma, 2.0, 0, "left")).detect_corpus(
                        texts
                    )
                )
            else:
                det = KGWDetector(key, tok, _kgw_params(gamma, 2.0, context_width, seeding))
                dets.append(det.detect_corpus(texts))
    res = correct(dets, scopes, alpha)
    if as_json:
        click.echo(json.dumps(res.to_dict(), indent=2))
        return
    _print_table(res.to_dict()["keys"])
    for d in dets:
        if d.note:
            click.echo(f"note ({d.key_id}): {d.note}")
    click.echo("watermark found for: " + (", ".join(res.matches) if res.matches else "none"))


@watermark.command()
@click.option("--master", type=click.Path(dir_okay=False), required=True)
@click.option("--scope", required=True)
@click.option(
    "--model", "model_path", type=click.Path(file_okay=False), help="Model dir (default: tiny)."
)
@click.option("--max-new-tokens", type=int, default=100, show_default=True)
@click.option("--delta", type=float, default=2.0, show_default=True)
@click.option("--gamma", type=float, default=0.25, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.argument("prompt")
def generate(
    master: str,
    scope: str,
    model_path: str | None,
    max_new_tokens: int,
    delta: float,
    gamma: float,
    seed: int,
    prompt: str,
) -> None:
    """Generate a KGW-watermarked completion with a local model (demo of the processor).

    \b
    Example:
      distillguard watermark generate --master master.key --scope cohort:a "Question: ...\\nAnswer:"
    """
    from distillguard.watermark.models import generate as gen
    from distillguard.watermark.models import load_model
    from distillguard.watermark.processors import KGWLogitsProcessor

    lm = load_model(model_path)
    key = MasterSecret.load(master).derive(
        scope, "kgw", tokenizer_fingerprint=lm.tokenizer.fingerprint
    )
    params = _kgw_params(gamma, delta, 1, "left")
    ids = gen(
        lm,
        [prompt],
        processors=[KGWLogitsProcessor(key, lm.vocab_size, params)],
        max_new_tokens=max_new_tokens,
        seed=seed,
    )[0]
    click.echo(lm.tokenizer.decode(ids))
