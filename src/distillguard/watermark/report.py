"""Evidence reports for audits: JSON for machines, HTML for people."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from distillguard.errors import WatermarkError
from distillguard.watermark.audit import AuditResult


@dataclass(frozen=True)
class ReportPaths:
    """Files written by :func:`write_report`."""

    json: Path
    html: Path


def render_html(result: AuditResult) -> str:
    """Render the audit as a self-contained HTML page a non-specialist can follow."""
    text = (
        resources.files("distillguard.watermark")
        .joinpath("assets/audit_report.html.j2")
        .read_text(encoding="utf-8")
    )
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    d = result.to_dict()
    rows = d["tested"]["keys"]
    best = min(rows, key=lambda k: k["p_holm"]) if rows else None
    return env.from_string(text).render(
        r=result, d=d, rows=rows, controls=d["control"]["keys"], best=best
    )


def write_report(result: AuditResult, out_dir: str | Path, stem: str = "audit") -> ReportPaths:
    """Write ``<stem>.json`` and ``<stem>.html`` into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        jp, hp = out / f"{stem}.json", out / f"{stem}.html"
        jp.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
        hp.write_text(render_html(result), encoding="utf-8")
    except OSError as exc:
        raise WatermarkError(f"{out}: cannot write audit report: {exc}") from None
    return ReportPaths(jp, hp)
