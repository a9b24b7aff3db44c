"""Prompt pools: pre-rendered, pre-encoded prompts that a population's requests draw from.

Each ``pool_*`` function renders ``k`` prompts of one kind into the :class:`World` tables and
returns their indices. Pools are built per population (per persona, org or campaign), so two
populations never share a prompt unless their generators produce the same text.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable

import numpy as np

from distillguard.sim import textgen as tg
from distillguard.sim.corpus import Corpora
from distillguard.sim.world import World
from distillguard.sim.wrappers import EVAL_FORMATS, Wrapper

Msgs = list[dict[str, str]]
_CALC_RE = re.compile(r"<<[^>]*>>")


def _user(text: str, system: str = "") -> Msgs:
    msgs = [{"role": "system", "content": system}] if system else []
    msgs.append({"role": "user", "content": text})
    return msgs


def _math_payload(rng: random.Random, c: Corpora) -> str:
    if not c.math:
        return tg.coding_question(rng)
    q = tg.pick(rng, c.math)[0]
    return tg.perturb_numbers(rng, q) if rng.random() < 0.7 else q


def _template_payload(rng: random.Random, c: Corpora) -> str:
    names = list(c.templates)
    if not names:
        return tg.product_spec(rng)
    ex = c.templates[tg.pick(rng, names)]
    return tg.pick(rng, ex)


def _any_payload(rng: random.Random, c: Corpora) -> str:
    r = rng.random()
    if r < 0.55:
        return _math_payload(rng, c)
    if r < 0.75 and c.instructions:
        return tg.pick(rng, c.instructions)
    if r < 0.85 and c.chat:
        return tg.pick(rng, c.chat)
    if r < 0.93:
        return _template_payload(rng, c)
    return tg.coding_question(rng)


def _chat(rng: random.Random, c: Corpora) -> Msgs:
    r = rng.random()
    if r < 0.45 and c.chat:
        text = tg.pick(rng, c.chat)
    elif r < 0.55 and c.math:
        text = _math_payload(rng, c)
    else:
        text = tg.small_talk(rng)
    text = tg.humanise(rng, text)
    if rng.random() < 0.2:
        first = tg.humanise(rng, tg.small_talk(rng))
        reply = "Sure! " + tg.pick(
            rng, ("Here are a few ideas.", "Here's a quick answer.", "Happy to help.")
        )
        return [{"role": "user", "content": first}, {"role": "assistant", "content": reply},
                {"role": "user", "content": text}]  # fmt: skip
    return _user(text)


def _coding(rng: random.Random, c: Corpora) -> Msgs:
    if c.instructions and rng.random() < 0.1:
        return _user(tg.pick(rng, c.instructions))
    return _user(tg.humanise(rng, tg.coding_question(rng)))


def _instruction(rng: random.Random, c: Corpora) -> Msgs:
    src = c.instructions or c.chat
    text = tg.pick(rng, src) if src else tg.small_talk(rng)
    return _user(text)


_AGENT_SYS = (
    "You are a coding agent working in a git repository. Use the tools to inspect and change "
    "files; run the tests before you finish."
)


def _agentic(rng: random.Random, c: Corpora) -> Msgs:
    return _user(tg.agent_task(rng), system=_AGENT_SYS)


def _attack(rng: random.Random, corpus: tuple[str, ...], builtin: Callable[..., str]) -> Msgs:
    text = tg.pick(rng, corpus) if corpus and rng.random() < 0.8 else builtin(rng)
    org = tg.pick(rng, ("Acme Bank", "ShopRight", "HelpDesk Pro", "TravelMate"))
    return _user(text, system=tg.system_prompt(rng, org))


GENERATORS: dict[str, Callable[[random.Random, Corpora], Msgs]] = {
    "chat": _chat,
    "coding": _coding,
    "instruction": _instruction,
    "agentic": _agentic,
    "prompt_extraction": lambda r, c: _attack(r, c.extraction, tg.extraction_attack),
    "jailbreak": lambda r, c: _attack(r, c.hijacking, tg.jailbreak_attack),
    "math": lambda r, c: _user(_math_payload(r, c)),
}


def pool(world: World, rng: np.random.Generator, kind: str, k: int) -> np.ndarray:
    """Render ``k`` prompts of a built-in ``kind`` (see :data:`GENERATORS`)."""
    gen, r = GENERATORS[kind], tg.py_rng(rng)
    return np.array([world.add_content(gen(r, world.corpora)) for _ in range(k)])


def mixed_pool(world: World, rng: np.random.Generator, mix: dict[str, float], k: int) -> np.ndarray:
    """A pool mixing built-in kinds by weight."""
    kinds = sorted(mix)
    w = np.array([mix[x] for x in kinds], dtype=float)
    counts = rng.multinomial(k, w / w.sum())
    parts = [pool(world, rng, kind, int(n)) for kind, n in zip(kinds, counts, strict=True) if n]
    return rng.permutation(np.concatenate(parts)) if parts else pool(world, rng, "chat", 1)


def wrapped_pool(
    world: World, rng: np.random.Generator, family: str, wrappers: list[Wrapper], k: int
) -> np.ndarray:
    """Payloads inside campaign (or licensed) wrappers of ``family``."""
    c, r, out = world.corpora, tg.py_rng(rng), []
    for _ in range(k):
        w = wrappers[int(r.random() * len(wrappers))]
        if family == "rubric":
            q = _any_payload(r, c)
            use_math = c.math and r.random() < 0.6
            cand = _CALC_RE.sub("", tg.pick(r, c.math)[1]) if use_math else tg.small_talk(r)
            payload = f"Question:\n{q}\n\nResponse:\n{cand}"
        elif family == "datagen":
            payload = _template_payload(r, c) if r.random() < 0.6 else tg.product_spec(r)
        else:
            payload = _any_payload(r, c)
        out.append(world.add_content(_user(w.render(payload))))
    return np.array(out)


_ENTERPRISE = {
    "classify": "Classify the following customer message into one of: billing, technical, "
    "shipping, account, other. Reply with the label only.\n\nMessage: {x}",
    "summarise": "Summarize this customer conversation for the CRM in two sentences.\n\n{x}",
    "extract": "Extract product, issue and sentiment from the message below as JSON with keys "
    '"product", "issue", "sentiment".\n\n{x}',
    "datagen": "Write an engaging product description (80-120 words) for our online store, then "
    "3 FAQ questions with answers, as JSON.\n\n{x}",
}
ENTERPRISE_STYLES = (*_ENTERPRISE, "t0")


def enterprise_pool(
    world: World, rng: np.random.Generator, style: str, org_name: str, k: int
) -> np.ndarray:
    """One organisation's single prompt template filled with many payloads (legit reuse)."""
    c, r = world.corpora, tg.py_rng(rng)
    system = f"You are {org_name}'s automation assistant. Follow the output format exactly."
    if style == "t0" and c.templates:
        names = list(c.templates)
        ex = c.templates[tg.pick(r, names)]
        pre = os.path.commonprefix(list(ex))
        suf = os.path.commonprefix([e[::-1] for e in ex])[::-1]
        bodies = [e[len(pre) : len(e) - len(suf)] for e in ex if len(e) > len(pre) + len(suf)]
        out = []
        for _ in range(k):
            body = tg.pick(r, bodies) if bodies and r.random() < 0.5 else tg.support_ticket(r)
            out.append(world.add_content(_user(pre + body + suf, system="")))
        return np.array(out)
    tmpl = _ENTERPRISE.get(style, _ENTERPRISE["classify"])
    make = tg.product_spec if style == "datagen" else tg.support_ticket
    return np.array(
        [world.add_content(_user(tmpl.format(x=make(r)), system=system)) for _ in range(k)]
    )


def eval_pool(world: World, fmt: int, n_items: int) -> np.ndarray:
    """A benchmark in order (GSM8K in one fixed harness format): a sweep walks it."""
    c = world.corpora
    before, after = EVAL_FORMATS[fmt % len(EVAL_FORMATS)]
    items = c.math[:n_items] if c.math else ()
    if not items:
        return pool(world, world.rng("eval-fallback"), "instruction", n_items)
    return np.array([world.add_content(_user(f"{before}{q}{after}")) for q, _ in items])
