"""Tiny self-contained SVG charts for the report (no JavaScript, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    width: int = 560,
    height: int = 160,
    color: str = "#c0392b",
) -> str:
    """A vertical bar chart; ``labels`` name the bars (first and last are printed)."""
    if not values:
        return (
            f'<svg width="{width}" height="30"><text x="4" y="20">{escape(title)}: no data'
            "</text></svg>"
        )
    top = max(max(values), 1e-9)
    pad, plot_h = 28, height - 44
    bw = (width - 2 * pad) / len(values)
    bars = []
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * v / top
        x = pad + i * bw
        bars.append(
            f'<rect x="{x:.1f}" y="{20 + plot_h - h:.1f}" width="{max(bw - 1, 0.5):.1f}" '
            f'height="{h:.1f}" fill="{color}"><title>{escape(lab)}: {v:g}</title></rect>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">'
        f'<text x="{pad}" y="14" font-size="12">{escape(title)} (max {top:g})</text>'
        + "".join(bars)
        + f'<text x="{pad}" y="{height - 6}" font-size="10">{escape(labels[0])}</text>'
        f'<text x="{width - pad}" y="{height - 6}" font-size="10" text-anchor="end">'
        f"{escape(labels[-1])}</text></svg>"
    )


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    width: int = 560,
    color: str = "#2c3e50",
) -> str:
    """A horizontal bar chart of shares in [0, 1] (e.g. the tactic mix)."""
    row = 18
    height = 24 + row * max(len(values), 1)
    label_w = 260
    parts = [f'<text x="0" y="14" font-size="12">{escape(title)}</text>']
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 22 + i * row
        w = (width - label_w - 50) * max(min(v, 1.0), 0.0)
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="11">{escape(lab[:40])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row - 4}" fill="{color}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 12}" font-size="11">{v:.0%}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">' + "".join(parts) + "</svg>"
    )
