"""Prompt corpora: the shared public corpora, a user's own, or the slice shipped in the package.

Lookup order for :func:`load_corpora`:

1. ``corpus_dir`` when given (same layout as ``../shared/data``: ``legit/``, ``payloads/``,
   ``templates/``, ``attacks/``);
2. ``<repository root>/../shared/data`` when it exists;
3. the MIT / Apache-2.0 slice in ``distillguard/sim/data`` (see its ``NOTICE.md``).

``corpus_dir="builtin"`` forces the shipped slice.

**Files.** Every file under a role folder (sub-folders included, in path order) whose name
ends in ``.jsonl``, ``.ndjson``, ``.json``, ``.csv``, ``.tsv`` or ``.txt`` (each optionally
``.gz``) or ``.parquet``: JSON Lines records; a JSON array of records (or an object holding
one); CSV/TSV rows under a header; one prompt per line of a text file. A record may also be a
plain string.

**Records.** The folder says what a record is for, and the record's keys say where its text
is, so corpora of other shapes work unchanged:

- ``legit/``: everyday requests (``chat``); Self-Instruct style task lists whose file name
  contains ``seed`` or whose records carry ``is_classification`` are task ``instructions``.
- ``payloads/``: a question with a reference answer (``question``/``problem``/``query``/...
  plus ``answer``/``solution``/``output``/...) is a ``math`` pair (a payload and its worked
  answer); an ``instruction`` record or a lone text is a task ``instruction``.
- ``templates/``: filled prompts of one template per file (or per ``template`` field).
- ``attacks/``: attack texts; a file whose name contains ``extract`` or ``leak`` holds
  system-prompt extraction attacks, any other jailbreak / hijacking attacks.

The text of a record is the first of: a dialogue's first user turn (``conversations``,
``messages``, ``conversation``, ``turns``, ``dialogue``), an ``instruction`` with its input
(``instances[0].input``, ``input``, ``context``), then ``attack``, ``prompt``, ``question``,
``problem``, ``text``, ``query``, ``goal``, ``input``, ``content``, ``request``,
``user_input``, ``behavior``. In a folder without role folders (the shipped slice) the keys
alone decide, as they did before role folders existed.

Nothing is dropped silently: :attr:`Corpora.files` counts, per file, the records read, used
and skipped, with the first skipped line and why; ``distillguard simulate`` prints them.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.errors import InputError

log = logging.getLogger(__name__)

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
BUILTIN = "builtin"
ROLES = ("legit", "payloads", "templates", "attacks")

_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt")
_DIALOGUE_KEYS = ("conversations", "messages", "conversation", "turns", "dialogue")
_TEXT_KEYS = (
    "attack", "prompt", "question", "problem", "text", "query", "goal", "input", "inputs",
    "content", "request", "user_input", "behavior", "message", "utterance", "source",
)  # fmt: skip
_QUESTION_KEYS = ("question", "problem", "query", "prompt", "input", "inputs", "text")
_ANSWER_KEYS = ("answer", "solution", "output", "response", "completion", "target", "targets")
_USER_ROLES = {"user", "human", "prompter", "customer"}


@dataclass(frozen=True, slots=True)
class CorpusFile:
    """What one corpus file gave: counts, and the first record that was skipped and why."""

    path: str
    role: str
    read: int
    used: int
    skipped: int
    first_skipped: str = ""


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
        files: per-file counts of records read, used and skipped.
    """

    chat: tuple[str, ...]
    instructions: tuple[str, ...]
    math: tuple[tuple[str, str], ...]
    templates: dict[str, tuple[str, ...]]
    extraction: tuple[str, ...]
    hijacking: tuple[str, ...]
    origin: str
    files: tuple[CorpusFile, ...] = ()

    @property
    def skipped(self) -> int:
        """Records read but not used, over all files."""
        return sum(f.skipped for f in self.files)


class _Skip(Exception):
    """A record that cannot be used; the message says why."""


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace", newline="")  # noqa: SIM115


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line or record number, record) pairs; a record that cannot be parsed is a _Skip."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        n = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                n += 1
                yield n, row
        return
    with _open_text(path) as fh:
        if name.endswith((".jsonl", ".ndjson")):
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield lineno, _Skip(f"not valid JSON ({exc.msg})")
        elif name.endswith(".json"):
            try:
                doc = json.load(fh)
            except json.JSONDecodeError as exc:
                yield exc.lineno, _Skip(f"not valid JSON ({exc.msg})")
                return
            yield from enumerate(_json_rows(doc), 1)
        elif name.endswith((".csv", ".tsv")):
            # a long prompt (a pasted document) is one field: allow 16 MiB, not 128 KiB
            csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))
            reader = csv.DictReader(fh, delimiter="\t" if name.endswith(".tsv") else ",")
            for row in reader:
                yield reader.line_num, row
        else:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    yield lineno, line.strip()


def _json_rows(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in ("data", "examples", "instances", "rows", "records", "items"):
            if isinstance(doc.get(key), list):
                return list(doc[key])
        lists = [v for v in doc.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) == 1:
            return lists[0]
        return [doc]
    return [doc]


def _str(v: Any) -> str:
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    return ""


def _first_user_turn(v: Any) -> str:
    if isinstance(v, str):
        return v.strip()
    if not isinstance(v, list):
        return ""
    for turn in v:
        if isinstance(turn, str):
            return turn.strip()
        if isinstance(turn, dict):
            who = str(turn.get("role") or turn.get("from") or turn.get("speaker") or "user")
            if who.lower() in _USER_ROLES:
                return _str(turn.get("content") or turn.get("value") or turn.get("text"))
    return ""


def _instruction_text(obj: dict[str, Any]) -> str:
    text = _str(obj["instruction"])
    inst = obj.get("instances")
    extra = ""
    if isinstance(inst, list) and inst and isinstance(inst[0], dict):
        extra = _str(inst[0].get("input"))
    elif "instances" not in obj:
        extra = _str(obj.get("input")) or _str(obj.get("context"))
    return f"{text}\n\n{extra}" if text and extra else text


def _text(obj: Any) -> str:
    if not isinstance(obj, dict):
        return _str(obj)
    if isinstance(obj.get("attack"), str) and obj["attack"].strip():
        return str(obj["attack"])  # as written: attacks keep their leading whitespace
    for key in _DIALOGUE_KEYS:
        if key in obj:
            text = _first_user_turn(obj[key])
            if text:
                return text
    if "instruction" in obj:
        text = _instruction_text(obj)
        if text:
            return text
    for key in _TEXT_KEYS:
        text = _str(obj.get(key))
        if text:
            return text
    return ""


def _pair(obj: Any) -> tuple[str, str] | None:
    if not isinstance(obj, dict):
        return None
    q = next((t for k in _QUESTION_KEYS if (t := _str(obj.get(k)))), "")
    a = next((t for k in _ANSWER_KEYS if (t := _str(obj.get(k)))), "")
    return (q, a) if q and a else None


class _Sink:
    def __init__(self) -> None:
        self.chat: list[str] = []
        self.instructions: list[str] = []
        self.math: list[tuple[str, str]] = []
        self.templates: dict[str, list[str]] = {}
        self.extraction: list[str] = []
        self.hijacking: list[str] = []

    def attack(self, path: Path, text: str) -> None:
        extraction = any(w in path.name.lower() for w in ("extract", "leak"))
        (self.extraction if extraction else self.hijacking).append(text)

    def template(self, path: Path, obj: Any, text: str) -> None:
        name = _str(obj.get("template")) if isinstance(obj, dict) else ""
        self.templates.setdefault(name or _template_name(path), []).append(text)

    def by_role(self, role: str, path: Path, obj: Any) -> None:
        """Place a record of a role folder; raise _Skip when it has no usable text."""
        obj = _lower_keys(obj)
        if role == "payloads":
            if isinstance(obj, dict) and "instruction" in obj:
                self._need(self.instructions, _instruction_text(obj))
                return
            pair = _pair(obj)
            if pair is not None:
                self.math.append(pair)
                return
            self._need(self.instructions, _text(obj))
            return
        text = _text(obj)
        if not text:
            raise _Skip(_why(obj))
        if role == "attacks":
            self.attack(path, text)
        elif role == "templates":
            self.template(path, obj, text)
        elif isinstance(obj, dict) and "instruction" in obj and _task_list(path, obj):
            self.instructions.append(text)
        else:
            self.chat.append(text)

    def by_keys(self, path: Path, obj: Any) -> None:
        """Place a record of a folder without role folders, by its keys alone."""
        obj = _lower_keys(obj)
        if not isinstance(obj, dict):
            self._need(self.chat, _str(obj))
        elif "attack" in obj:
            if not _str(obj["attack"]):
                raise _Skip("empty attack")
            self.attack(path, str(obj["attack"]))
        elif "question" in obj and "answer" in obj:
            q, a = _str(obj["question"]), _str(obj["answer"])
            if not (q and a):
                raise _Skip("empty question or answer")
            self.math.append((q, a))
        elif "prompt" in obj:
            text = _str(obj["prompt"])
            if not text:
                raise _Skip("empty prompt")
            self.template(path, obj, text)
        elif "instruction" in obj:
            bucket = self.instructions if _task_list(path, obj) else self.chat
            self._need(bucket, _instruction_text(obj))
        else:
            pair = _pair(obj)
            if pair is not None:
                self.math.append(pair)
            else:
                self._need(self.chat, _text(obj))

    @staticmethod
    def _need(bucket: list[str], text: str) -> None:
        if not text:
            raise _Skip("no prompt text")
        bucket.append(text)


def _lower_keys(obj: Any) -> Any:
    if isinstance(obj, dict) and not all(isinstance(k, str) and k.islower() for k in obj):
        return {str(k).lower(): v for k, v in obj.items()}
    return obj


def _task_list(path: Path, obj: dict[str, Any]) -> bool:
    return "seed" in path.name or "is_classification" in obj


def _why(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = ", ".join(sorted(map(str, obj))[:8])
        return f"no prompt text under a known key (keys: {keys})"
    return f"no prompt text (a {type(obj).__name__})"


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and (p.name.removesuffix(".gz").endswith(_SUFFIXES) or p.name.endswith(".parquet"))
    )


def _template_name(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    for suffix in (*_SUFFIXES, ".parquet"):
        name = name.removesuffix(suffix)
    return name


@functools.lru_cache(maxsize=8)
def _load_dir(root_s: str) -> Corpora:
    root = Path(root_s)
    sink = _Sink()
    roles = [r for r in ROLES if (root / r).is_dir()]
    plan = [(r, root / r) for r in roles] if roles else [("", root)]
    report: list[CorpusFile] = []
    for role, folder in plan:
        for path in _files(folder):
            read = used = 0
            first = ""
            try:
                for where, obj in _records(path):
                    read += 1
                    try:
                        if isinstance(obj, _Skip):
                            raise obj
                        if role:
                            sink.by_role(role, path, obj)
                        else:
                            sink.by_keys(path, obj)
                        used += 1
                    except _Skip as exc:
                        first = first or f"{path}:{where}: {exc}"
            except (OSError, EOFError, UnicodeError, csv.Error, ValueError) as exc:
                first = first or f"{path}: unreadable after {read} records ({exc})"
            rec = CorpusFile(str(path), role or "keys", read, used, read - used, first)
            if rec.skipped or (first and not used):
                log.warning("corpus %s: %d of %d records skipped; first: %s",
                            path, rec.skipped, read, first)  # fmt: skip
            report.append(rec)
    if not (sink.chat or sink.instructions or sink.math or sink.templates):
        raise InputError(
            f"{root}: no usable prompt records (expected folders {', '.join(ROLES)} "
            "holding .jsonl, .json, .csv, .tsv, .txt or .parquet files)"
        )
    return Corpora(
        chat=tuple(sink.chat),
        instructions=tuple(sink.instructions),
        math=tuple(sink.math),
        templates={k: tuple(v) for k, v in sorted(sink.templates.items())},
        extraction=tuple(sink.extraction),
        hijacking=tuple(sink.hijacking),
        origin="builtin" if root == PACKAGE_DATA else str(root),
        files=tuple(report),
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
