"""``oms simulate``'s files: ``<out>/simulate/<date>/simulate.md`` and ``inventory.svg``.

The chart is an SVG written here (matplotlib is not a dependency of the project): the end-of-day
inventory value of our policy and of the merchant's rule on each replayed day.
"""

from __future__ import annotations

from datetime import date
from html import escape
from pathlib import Path

import numpy as np

from forecasting.simulation import ReplayResult

CHART = "inventory.svg"
REPORT = "simulate.md"
_COLOURS = ("#1f77b4", "#d62728")


def inventory_svg(result: ReplayResult, width: int = 720, height: int = 300) -> str:
    """Two polylines: daily inventory value (base currency), ours and the rule's."""
    series = [
        ("our policy", result.policy.daily_inventory_value),
        (result.rule_label, result.rule.daily_inventory_value),
    ]
    days = max((len(v) for _, v in series), default=0)
    top = max((max(v) for _, v in series if v), default=1.0) or 1.0
    left, right, upper, lower = 70, 10, 30, 40
    w, h = width - left - right, height - upper - lower

    def xy(i: int, v: float) -> str:
        x = left + (w * i / max(days - 1, 1))
        y = upper + h * (1 - v / top)
        return f"{x:.1f},{y:.1f}"

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="16" font-size="13">Inventory value at the end of each day '
        "(base currency)</text>",
        f'<line x1="{left}" y1="{upper + h}" x2="{left + w}" y2="{upper + h}" stroke="#444"/>',
        f'<line x1="{left}" y1="{upper}" x2="{left}" y2="{upper + h}" stroke="#444"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        y = upper + h * (1 - frac)
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{top * frac:,.0f}</text>'
        )
    for label, at in (
        (result.measure_start.isoformat(), left),
        (result.measure_end.isoformat(), left + w),
    ):
        anchor = "start" if at == left else "end"
        out.append(f'<text x="{at}" y="{upper + h + 16}" text-anchor="{anchor}">{label}</text>')
    for k, (label, values) in enumerate(series):
        if values:
            pts = " ".join(xy(i, v) for i, v in enumerate(values))
            out.append(
                f'<polyline fill="none" stroke="{_COLOURS[k]}" stroke-width="1.6" points="{pts}"/>'
            )
        ly = upper + h + 32
        lx = left + k * 260
        out.append(
            f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 18}" y2="{ly - 4}" '
            f'stroke="{_COLOURS[k]}" stroke-width="2"/>'
        )
        out.append(f'<text x="{lx + 24}" y="{ly}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def simulate_markdown(result: ReplayResult, run_date: date) -> str:
    """The side-by-side table and how it was made, in markdown."""
    weeks = ((result.measure_end - result.measure_start).days + 1) // 7
    lines = [
        f"# Replay of the last {weeks} weeks ({run_date.isoformat()})",
        "",
        f"{result.series} SKU-locations, measured {result.measure_start} to "
        f"{result.measure_end} ({result.reviews} weekly reviews including the warm-up). "
        "Both start from the stock on hand the day before the replay and meet the same demand "
        "(what was ordered; on stockout days the recent average stands in) with the same "
        "sampled lead times. Our policy re-forecasts at every review from what was recorded "
        "before that day.",
        "",
        f"| Metric | Our policy | Merchant's rule ({result.rule_label}) |",
        "|---|---|---|",
    ]
    lines += [f"| {m} | {a} | {b} |" for m, a, b in result.rows()]
    if result.line_cover is not None and result.line_cover.height:
        cover = result.line_cover["days_of_cover"].drop_nulls().cast(float).to_numpy()
        after = result.line_cover["days_of_cover_after"].drop_nulls().cast(float).to_numpy()
        if cover.size and after.size:
            lines += [
                "",
                f"Our {result.line_cover.height} suggested lines: days of cover before the "
                f"order median {np.median(cover):.0f} (90th percentile "
                f"{np.quantile(cover, 0.9):.0f}), after receipt median {np.median(after):.0f}.",
            ]
    lines += ["", f"![inventory value]({CHART})", ""]
    return "\n".join(lines)


def write_simulation_report(result: ReplayResult, out_dir: Path, run_date: date) -> list[Path]:
    """Write ``simulate.md`` and ``inventory.svg`` into ``<out_dir>/simulate/<run_date>/``."""
    folder = Path(out_dir) / "simulate" / run_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    md, svg = folder / REPORT, folder / CHART
    md.write_text(simulate_markdown(result, run_date), encoding="utf-8")
    svg.write_text(inventory_svg(result), encoding="utf-8")
    return [md, svg]


__all__ = ["inventory_svg", "simulate_markdown", "write_simulation_report"]
