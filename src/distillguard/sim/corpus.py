"""Prompt corpora: the shared public corpora, a user's own, or the slice shipped in the package.

Lookup order for :func:`load_corpora`:

1. ``corpus_dir`` when given (same layout as ``../shared/data``: ``legit/``, ``payloads/``,
   ``templates/``, ``attacks/``, files ``*.jsonl`` or ``*.jsonl.gz``);
2. ``<repository root>/../shared/data`` when it exists;
3. the MIT / Apache-2.0 slice in ``distillguard/sim/data`` (see its ``NOTICE.md``).

``corpus_dir="builtin"`` forces the shipped slice. Records are recognised by their keys, not
by file name, so other corpora of the same shapes work unchanged.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.errors import InputError

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
BUILTIN = "builtin"


@dataclass(frozen=True, slots=True)
class Corpora:
    """Prompt texts by role in the simulation.

    Attributes:
        chat: everyday questions and requests (Vicuna questions, user-oriented instructions).
        instructions: task instructions with optional input (Self-Instruct seed tasks).
        math: (question, worked answer) pairs (GSM8K).
        templates: template name -> filled prompts (PromptSource / T0).
        extraction: human-written system-prompt extraction attacks (may be empty).
        hijacking: human-written prompt-hijacking / jailbreak attacks (may be empty).
        origin: where the corpora came from (a directory or ``"builtin"``).
    """

    chat: tuple[str, ...]
    instructions: tuple[str, ...]
    math: tuple[tuple[str, str], ...]
    templates: dict[str, tuple[str, ...]]
    extraction: tuple[str, ...]
    hijacking: tuple[str, ...]
    origin: str


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if isinstance(obj, dict):
                yield lineno, obj


def _instruction_text(obj: dict[str, Any]) -> str:
    text = str(obj["instruction"]).strip()
    inst = obj.get("instances")
    if isinstance(inst, list) and inst and isinstance(inst[0], dict):
        extra = str(inst[0].get("input") or "").strip()
        if extra:
            text = f"{text}\n\n{extra}"
    return text


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))


def _template_name(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".jsonl")


@functools.lru_cache(maxsize=8)
def _load_dir(root_s: str) -> Corpora:
    root = Path(root_s)
    chat: list[str] = []
    instructions: list[str] = []
    math: list[tuple[str, str]] = []
    templates: dict[str, list[str]] = {}
    extraction: list[str] = []
    hijacking: list[str] = []
    flat = root == PACKAGE_DATA
    folders = [root] if flat else [root / d for d in ("legit", "payloads", "templates", "attacks")]
    for folder in folders:
        for path in _files(folder):
            for _, obj in _read_jsonl(path):
                if "attack" in obj:
                    target = extraction if "extraction" in path.name else hijacking
                    target.append(str(obj["attack"]))
                elif "question" in obj and "answer" in obj:
                    math.append((str(obj["question"]), str(obj["answer"])))
                elif "prompt" in obj:
                    name = str(obj.get("template") or _template_name(path))
                    templates.setdefault(name, []).append(str(obj["prompt"]).strip())
                elif "instruction" in obj:
                    bucket = (
                        instructions if "seed" in path.name or "is_classification" in obj else chat
                    )
                    bucket.append(_instruction_text(obj))
                elif "text" in obj:
                    chat.append(str(obj["text"]).strip())
    if not (chat or instructions or math or templates):
        raise InputError(f"{root}: no usable prompt records (expected legit/, payloads/, ...)")
    return Corpora(
        chat=tuple(chat),
        instructions=tuple(instructions),
        math=tuple(math),
        templates={k: tuple(v) for k, v in sorted(templates.items())},
        extraction=tuple(extraction),
        hijacking=tuple(hijacking),
        origin="builtin" if flat else str(root),
    )


def load_corpora(corpus_dir: str | Path | None = None) -> Corpora:
    """Load prompt corpora (see the module docstring for the lookup order).

    Raises:
        InputError: ``corpus_dir`` does not exist or holds no usable records.
    """
    if corpus_dir is not None and str(corpus_dir) != BUILTIN:
        root = Path(corpus_dir).expanduser().resolve()
        if not root.is_dir():
            raise InputError(f"corpus directory {root} does not exist")
        return _load_dir(str(root))
    if corpus_dir is None and SHARED_DATA.is_dir():
        return _load_dir(str(SHARED_DATA))
    return _load_dir(str(PACKAGE_DATA))
