"""``simulate``: run a scenario and write events.jsonl, labels.csv and scenario.json."""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec
import numpy as np
import zstandard

from distillguard.errors import ConfigError
from distillguard.sim.campaigns import ATLAS, behaviours, generate_campaign
from distillguard.sim.corpus import CorpusFile, load_corpora
from distillguard.sim.personas import PERSONAS, expected_events
from distillguard.sim.scenario import Scenario
from distillguard.sim.world import World

CHUNK = 10_000
GENERATOR_VERSION = "1"
_OK = (
    b'{"ts":"%sT%02d:%02d:%02d.%03dZ","request_id":"req_%016x",%s,%s,%s,%s,%s,"response":{"finish_reason":"%s"},'
    b'"usage":{"input_tokens":%d,"output_tokens":%d,"reasoning_tokens":%d},"status":200,'
    b'"latency_ms":%.1f}\n'
)
_ERR = (
    b'{"ts":"%sT%02d:%02d:%02d.%03dZ","request_id":"req_%016x",%s,%s,%s,%s,%s,"usage":{"input_tokens":%d,'
    b'"output_tokens":0},"status":%d,"latency_ms":%.1f}\n'
)


@dataclass(frozen=True, slots=True)
class SimResult:
    """What one simulation produced.

    Attributes:
        events: events written. legit_events: of them, from legitimate accounts.
        accounts: distinct accounts in the events. campaign_accounts: of them, in campaigns.
        campaign_events / campaign_account_counts: per campaign id.
        events_path / labels_path / manifest_path: the files written.
        seconds: wall-clock time of the run.
        corpus_files: per corpus file, the records read, used and skipped.
    """

    events: int
    legit_events: int
    accounts: int
    campaign_accounts: int
    campaign_events: dict[str, int]
    campaign_account_counts: dict[str, int]
    events_path: Path
    labels_path: Path
    manifest_path: Path
    seconds: float
    corpus_files: tuple[CorpusFile, ...] = ()


@contextlib.contextmanager
def _open_out(path: Path, compress: str | None) -> Iterator[IO[bytes]]:
    with path.open("wb") as raw:
        if compress == "zst":
            with zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False) as z:
                yield z  # type: ignore[misc]
        elif compress == "gz":
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="", compresslevel=6) as g:
                yield g  # type: ignore[misc]
        else:
            yield raw


def _concat(world: World) -> dict[str, np.ndarray]:
    names = (
        "t",
        "slot",
        "client",
        "content",
        "params",
        "model",
        "out_tok",
        "reason_tok",
        "status",
        "latency",
    )
    return {n: np.concatenate([getattr(b, n) for b in world.blocks]) for n in names}


def _write_events(
    world: World, path: Path, compress: str | None, tick: Callable[[int], None]
) -> dict[str, np.ndarray]:
    cols = _concat(world) if world.blocks else {}
    if not cols:
        path.write_bytes(b"")
        return {}
    order = np.argsort(cols["t"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    n = len(order)
    rids = world.rng("request-ids").integers(0, 2**63, size=n, dtype=np.int64)
    slot_f, client_f, cont_f = world.slot_frags, world.client_frags, world.content_frags
    params_f, model_f = world.params_frags, world.model_frags
    in_tok = np.asarray(world.content_tokens, dtype=np.int64)
    maxt = np.asarray(world.params_max, dtype=np.int64)
    ok, err = _OK, _ERR
    with _open_out(path, compress) as fh:
        for lo in range(0, n, CHUNK):
            sl = slice(lo, min(n, lo + CHUNK))
            ms = (cols["t"][sl] * 1000.0).astype(np.int64)
            day, rem = np.divmod(ms, 86_400_000)
            days = [_day(d) for d in day.tolist()]
            hh, rem = np.divmod(rem, 3_600_000)
            mm, rem = np.divmod(rem, 60_000)
            ss, mss = np.divmod(rem, 1000)
            cont, par, out = cols["content"][sl], cols["params"][sl], cols["out_tok"][sl]
            fin = np.where(out >= maxt[par], b"length", b"stop").tolist()
            lines = [
                ok
                % (
                    d,
                    h,
                    mi,
                    se,
                    x,
                    r,
                    slot_f[s],
                    model_f[m],
                    cont_f[c],
                    client_f[cl],
                    params_f[p],
                    f,
                    it,
                    o,
                    rt,
                    la,
                )
                if st == 200
                else err
                % (
                    d,
                    h,
                    mi,
                    se,
                    x,
                    r,
                    slot_f[s],
                    model_f[m],
                    cont_f[c],
                    client_f[cl],
                    params_f[p],
                    it,
                    st,
                    la,
                )
                for d, h, mi, se, x, r, s, m, c, cl, p, f, it, o, rt, st, la in zip(
                    days,
                    hh.tolist(),
                    mm.tolist(),
                    ss.tolist(),
                    mss.tolist(),
                    rids[sl].tolist(),
                    cols["slot"][sl].tolist(),
                    cols["model"][sl].tolist(),
                    cont.tolist(),
                    cols["client"][sl].tolist(),
                    par.tolist(),
                    fin,
                    in_tok[cont].tolist(),
                    out.tolist(),
                    cols["reason_tok"][sl].tolist(),
                    cols["status"][sl].tolist(),
                    cols["latency"][sl].tolist(),
                    strict=True,
                )
            ]
            fh.write(b"".join(lines))
            tick(sl.stop - sl.start)
    return cols


@functools.lru_cache(maxsize=4096)
def _day(epoch_day: int) -> bytes:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch_day * 86400)).encode()


def _manifest(world: World, scale: float, counts: dict[str, Any]) -> dict[str, Any]:
    s = world.scenario
    camps = []
    for c in s.campaigns:
        tactics = sorted(c.tactics) + behaviours(c)
        atlas = sorted({a for x in [*tactics, "api_access"] for a in ATLAS.get(x, ())})
        camps.append(
            {
                "id": c.id,
                "tactics": tactics,
                "atlas": atlas,
                "events": world.volumes.get(c.id, 0),
                "accounts": counts["campaign_account_counts"].get(c.id, 0),
            }
        )
    releases = [
        {
            "name": m.name,
            "released_at": _iso(world.start + m.released_day * 86400.0),
            "reasoning": m.reasoning,
        }
        for m in s.models
    ]
    return {
        "generator": {"name": "distillguard.sim", "version": GENERATOR_VERSION},
        "scenario": s.to_dict(),
        "seed": world.seed,
        "scale": scale,
        "text": world.text,
        "corpora": world.corpora.origin if world.corpora.origin == "builtin" else "directory",
        "corpus_records": {
            "files": len(world.corpora.files),
            "used": sum(f.used for f in world.corpora.files),
            "skipped": world.corpora.skipped,
        },
        "span": {"start": _iso(world.start), "end": _iso(world.end)},
        "campaigns": camps,
        "allow_list": [{"org_id": o, "persona": p} for o, p in sorted(world.allow_orgs.items())],
        "models": releases,
        "counts": {k: v for k, v in counts.items() if k != "campaign_account_counts"},
    }


def _iso(epoch: float) -> str:
    return str(np.datetime_as_string(np.datetime64(int(epoch * 1000), "ms"), unit="s")) + "Z"


def simulate(
    scenario: Scenario,
    out_dir: Path,
    *,
    seed: int = 0,
    scale: float = 1.0,
    text: bool = True,
    compress: str | None = None,
    progress: bool = False,
) -> SimResult:
    """Simulate ``scenario``; write ``events.jsonl[.zst|.gz]``, ``labels.csv``, ``scenario.json``.

    The same scenario, seed and scale always give byte-identical files.

    Args:
        scenario: what to simulate (see :func:`distillguard.sim.load_scenario`).
        out_dir: output directory (created if missing).
        seed: random seed.
        scale: multiplies account counts and volumes (0.01 for quick runs).
        text: write prompt messages (False: privacy mode, no text).
        compress: None, "zst" or "gz".
        progress: show a progress bar on stderr.

    Raises:
        ConfigError: bad scale or compression.
    """
    if scale <= 0:
        raise ConfigError(f"scale must be positive, got {scale}")
    if compress not in (None, "zst", "gz"):
        raise ConfigError(f"compress must be zst or gz, got {compress!r}")
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = World(
        scenario=scenario,
        seed=seed,
        scale=scale,
        text=text,
        corpora=load_corpora(scenario.corpus_dir),
    )
    factor = 1.0
    if scenario.legit_events:
        exp = sum(expected_events(p, scenario.days, scale) for p in scenario.personas)
        factor = scenario.legit_events * scale / exp if exp > 0 else 1.0
    for p in scenario.personas:
        PERSONAS[p.kind](world, p, factor)
    for c in scenario.campaigns:
        generate_campaign(world, c)
    total = sum(len(b) for b in world.blocks)
    suffix = {"zst": ".zst", "gz": ".gz"}.get(compress or "", "")
    events_path = out_dir / f"events.jsonl{suffix}"
    with _progress(progress, total) as tick:
        cols = _write_events(world, events_path, compress, tick)
    slot_acc = np.asarray(world.slot_account, dtype=np.int64)
    seen = np.unique(slot_acc[cols["slot"]]) if cols else np.zeros(0, dtype=np.int64)
    recs = [world.accounts[i] for i in seen.tolist()]
    labels_path = out_dir / "labels.csv"
    with labels_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["account_id", "campaign_id"])
        for r in sorted(recs, key=lambda r: r.account_id):
            w.writerow([r.account_id, r.campaign_id])
    camp_acc: dict[str, int] = {}
    for r in recs:
        if r.campaign_id:
            camp_acc[r.campaign_id] = camp_acc.get(r.campaign_id, 0) + 1
    camp_events = {c.id: world.volumes.get(c.id, 0) for c in scenario.campaigns}
    legit_events = total - sum(camp_events.values())
    counts: dict[str, Any] = {
        "events": total,
        "legit_events": legit_events,
        "accounts": len(recs),
        "campaign_accounts": sum(camp_acc.values()),
        "campaign_account_counts": camp_acc,
    }
    manifest_path = out_dir / "scenario.json"
    manifest_path.write_bytes(
        msgspec.json.format(msgspec.json.encode(_manifest(world, scale, counts)), indent=2) + b"\n"
    )
    return SimResult(
        events=total,
        legit_events=legit_events,
        accounts=len(recs),
        campaign_accounts=sum(camp_acc.values()),
        campaign_events=camp_events,
        campaign_account_counts=camp_acc,
        events_path=events_path,
        labels_path=labels_path,
        manifest_path=manifest_path,
        seconds=time.perf_counter() - t0,
        corpus_files=world.corpora.files,
    )


@contextlib.contextmanager
def _progress(show: bool, total: int) -> Iterator[Callable[[int], None]]:
    if not show:
        yield lambda _n: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("writing events", total=total)
        yield lambda n: bar.advance(task, n)
