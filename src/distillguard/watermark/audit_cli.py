"""``distillguard audit closed|open``: test a suspect model and write an evidence report."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np

from distillguard.errors import WatermarkError
from distillguard.watermark.audit import AuditResult, closed_audit, control_ring, open_audit
from distillguard.watermark.cli import _kgw_params, _read_texts, _scopes
from distillguard.watermark.keys import KeyRing, MasterSecret
from distillguard.watermark.report import write_report

_common = [
    click.option(
        "--master", type=click.Path(dir_okay=False), required=True, help="Master secret file."
    ),
    click.option("--scope", multiple=True, help="Scope whose key to test (repeatable)."),
    click.option("--cohorts", type=int, default=0, help="Also test cohort:bucket-000..N-1."),
    click.option("--flagged", multiple=True, help="Also test account:<id> (repeatable)."),
    click.option(
        "--controls", type=int, default=20, show_default=True, help="Never-used control keys."
    ),
    click.option("--gamma", type=float, default=0.25, show_default=True),
    click.option("--context-width", type=int, default=1, show_default=True),
    click.option(
        "--seeding", type=click.Choice(["left", "self"]), default="left", show_default=True
    ),
    click.option("--alpha", type=float, default=1e-3, show_default=True),
    click.option(
        "--out", type=click.Path(file_okay=False), required=True, help="Report directory."
    ),
]


F = TypeVar("F", bound=Callable[..., Any])


def common(f: F) -> F:
    """Apply the options every audit mode shares."""
    for opt in reversed(_common):
        f = opt(f)
    return f


def _finish(result: AuditResult, out: str) -> None:
    paths = write_report(result, out)
    found = ", ".join(result.detected) if result.detected else "none"
    click.echo(
        f"{result.mode} audit of {result.suspect}: {result.queries} queries, "
        f"watermark found for: {found}"
    )
    best = min(result.tested.detections, key=lambda d: d.p_value)
    click.echo(
        f"smallest p-value {best.p_value:.3g} ({best.key_id}, {best.tokens_scored} tokens scored)"
    )
    click.echo(
        f"control keys significant: {len(result.control.matches)} (KS p={result.control_ks():.3g})"
    )
    if result.soft is not None:
        soft = result.soft
        top = min(soft.tested, key=lambda d: d.p_value)
        click.echo(
            f"soft green-mass score: watermark found for: {', '.join(soft.matches) or 'none'}; "
            f"smallest p-value {top.p_value:.3g} ({top.key_id}, {top.windows} windows); "
            f"control KS p={soft.control_ks():.3g}"
        )
    if result.partial:
        click.echo("PARTIAL: " + "; ".join(result.notes))
    click.echo(f"report: {paths.html} and {paths.json}")


@click.group()
def audit() -> None:
    """Radioactivity audits of a suspect model, with a clean control and an evidence report.

    \b
    Examples:
      distillguard audit closed --master master.key --scope cohort:a \\
          --base-url http://127.0.0.1:8000/v1 --model suspect --probes probes.jsonl --out audit/
      distillguard audit open --master master.key --scope cohort:a \\
          --suspect-model ./suspect-weights --texts served.jsonl --out audit/
    """


@audit.command()
@common
@click.option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
@click.option("--model", "model_name", default="suspect", show_default=True)
@click.option("--api-key-env", default="", help="Environment variable holding the API key.")
@click.option(
    "--local-model", type=click.Path(file_okay=False), help="Query a local model dir instead."
)
@click.option(
    "--probes", type=click.Path(dir_okay=False), required=True, help="JSONL with 'prompt', or text."
)
@click.option(
    "--tokenizer", type=click.Path(), help="Tokenizer the keys were made for (default: tiny)."
)
@click.option("--timeout", type=float, default=30.0, show_default=True)
@click.option("--max-tokens", type=int, default=200, show_default=True)
def closed(
    master: str,
    scope: tuple[str, ...],
    cohorts: int,
    flagged: tuple[str, ...],
    controls: int,
    gamma: float,
    context_width: int,
    seeding: str,
    alpha: float,
    out: str,
    base_url: str | None,
    model_name: str,
    api_key_env: str,
    local_model: str | None,
    probes: str,
    tokenizer: str | None,
    timeout: float,
    max_tokens: int,
) -> None:
    """Query the suspect with probe prompts and test its answers (closed mode).

    \b
    Example:
      distillguard audit closed --master master.key --cohorts 64 \\
          --base-url http://127.0.0.1:8000/v1 --probes probes.jsonl --out audit/
    """
    from distillguard.watermark.suspects import FunctionSuspect, OpenAICompatibleSuspect, Suspect
    from distillguard.watermark.tokenizer import load_tokenizer

    m = MasterSecret.load(master)
    tok = load_tokenizer(tokenizer)
    ring = KeyRing.derive(
        m, _scopes(scope, cohorts, flagged), "kgw", tokenizer_fingerprint=tok.fingerprint
    )
    ctrl = control_ring(m, "kgw", controls, tok.fingerprint)
    prompts = (
        _read_texts((probes,), "prompt")
        if probes.endswith(".jsonl")
        else [
            line for line in Path(probes).read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    )
    suspect: Suspect
    if local_model:
        from distillguard.watermark.models import generate, load_model

        lm = load_model(local_model)
        suspect = FunctionSuspect(
            str(local_model),
            lambda p: lm.tokenizer.decode(generate(lm, [p], max_new_tokens=max_tokens)[0]),
        )
    elif base_url:
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        suspect = OpenAICompatibleSuspect(
            base_url, model_name, api_key=key, timeout=timeout, max_tokens=max_tokens
        )
    else:
        raise click.UsageError("give --base-url or --local-model")
    params = _kgw_params(gamma, 2.0, context_width, seeding)
    _finish(closed_audit(suspect, prompts, ring, ctrl, tok, params, alpha=alpha), out)


@audit.command("open")
@common
@click.option(
    "--suspect-model",
    type=click.Path(file_okay=False),
    required=True,
    help="Suspect weights (HF dir).",
)
@click.option(
    "--texts",
    type=click.Path(dir_okay=False),
    required=True,
    help="JSONL of texts we served ('text').",
)
@click.option("--max-texts", type=int, default=2000, show_default=True)
def open_cmd(
    master: str,
    scope: tuple[str, ...],
    cohorts: int,
    flagged: tuple[str, ...],
    controls: int,
    gamma: float,
    context_width: int,
    seeding: str,
    alpha: float,
    out: str,
    suspect_model: str,
    texts: str,
    max_texts: int,
) -> None:
    """Score the suspect's next-token predictions on text we served (open mode).

    The suspect must use the same tokenizer as the model that generated the texts.

    \b
    Example:
      distillguard audit open --master master.key --scope cohort:a \\
          --suspect-model ./student --texts served.jsonl --out audit/
    """
    from distillguard.watermark.models import load_model, next_token_argmax, next_token_probs
    from distillguard.watermark.soft import WindowMassAccumulator

    lm = load_model(suspect_model)
    m = MasterSecret.load(master)
    fp = lm.tokenizer.fingerprint
    ring = KeyRing.derive(m, _scopes(scope, cohorts, flagged), "kgw", tokenizer_fingerprint=fp)
    ctrl = control_ring(m, "kgw", controls, fp)
    docs = _read_texts((texts,), "text")[:max_texts]
    if not docs:
        raise WatermarkError(f"{texts}: no texts to score")
    ids = [np.asarray(lm.tokenizer.encode(t), dtype=np.int64) for t in docs]
    params = _kgw_params(gamma, 2.0, context_width, seeding)
    masses = None
    if seeding == "left" and context_width >= 1:  # the soft score's independence needs these
        # One forward pass per text serves both tests: the top-1 prediction is the argmax
        # of the distribution the soft score sums.
        acc = WindowMassAccumulator(lm.vocab_size, context_width)
        preds = []
        for t in ids:
            probs = next_token_probs(lm, t)
            preds.append(probs.argmax(-1).astype(np.int64))
            acc.add(t, probs, 0)
        masses = acc.result()
    else:
        preds = next_token_argmax(lm, ids)
    res = open_audit(
        str(suspect_model), ids, preds, ring, ctrl, lm.tokenizer, params, alpha=alpha, masses=masses
    )
    _finish(res, out)
