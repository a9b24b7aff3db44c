"""Vega-Lite specifications of the console's charts (rendered in the browser by vega-embed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distillguard.console.data import Tactic


def _iso(v: Any) -> str:
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def timeline_spec(
    rows: Sequence[dict[str, Any]], unit: str, fields: Sequence[str]
) -> dict[str, Any]:
    """Lines of ``fields`` per time bucket, one small chart per field, shared x axis."""
    values = [
        {"t": _iso(r["bucket"]), "series": f, "value": int(r[f] or 0)} for r in rows for f in fields
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "data": {"values": values},
        "facet": {"row": {"field": "series", "type": "nominal", "title": None}},
        "spec": {
            "width": 640,
            "height": 110,
            "mark": {"type": "area", "line": True, "opacity": 0.35, "interpolate": "step-after"},
            "encoding": {
                "x": {"field": "t", "type": "temporal", "title": f"time ({unit})"},
                "y": {"field": "value", "type": "quantitative", "title": None},
                "tooltip": [
                    {"field": "t", "type": "temporal", "timeUnit": "yearmonthdatehours"},
                    {"field": "series"},
                    {"field": "value", "type": "quantitative"},
                ],
            },
        },
        "resolve": {"scale": {"y": "independent"}},
    }


def tactic_spec(tactics: Sequence[Tactic]) -> dict[str, Any]:
    """Bar chart of the share of traffic (or accounts) behind each tactic that has one."""
    values = [
        {"tactic": t.name, "share": t.share, "atlas": ", ".join(t.atlas)}
        for t in tactics
        if t.share is not None
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "data": {"values": values},
        "width": 420,
        "height": {"step": 22},
        "mark": "bar",
        "encoding": {
            "y": {"field": "tactic", "type": "nominal", "sort": "-x", "title": None},
            "x": {
                "field": "share",
                "type": "quantitative",
                "axis": {"format": "%"},
                "scale": {"domain": [0, 1]},
            },
            "tooltip": [
                {"field": "tactic"},
                {"field": "atlas"},
                {"field": "share", "format": ".1%"},
            ],
        },
    }
