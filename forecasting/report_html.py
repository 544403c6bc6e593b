"""``report.html``: the buyer's one-page view of a run, readable offline.

One static HTML file with inline CSS and inline SVG charts drawn here (no scripts, no fonts, no
external references), so it opens from a mail attachment or a file share and prints as is.
Per suggested SKU-location line it shows:

- top panel, demand per week: the last ``history_weeks`` weeks of history (bars; hatched when
  the week had stockout days, so the bar is a floor on demand) and the forecast for the next
  weeks: the mean (line) and the p10-p90 band. The weekly band combines the daily spreads as if
  days were independent: ``sum(mean) -/+ sqrt(sum((mean - p10)^2))`` resp. ``(p90 - mean)``.
- bottom panel, projected available stock per day (on hand - committed, plus open-PO receipts,
  minus the forecast mean) without the suggested order (dashed) and with it (solid, the order
  arriving after the lead time), against the reorder point and zero.

Deterministic: the same inputs give byte-identical output.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

SERIES_KEYS = ["sku", "location_id"]
HISTORY_WEEKS = 26

_W, _H = 760, 300  # chart size
_L, _R = 56, 16  # left / right margin
_TOP = (18, 128)  # demand panel y range
_BOT = (160, 270)  # stock panel y range

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}h3{font-size:15px;margin:0 0 4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}th{background:#f3f3f3}
section.line{border-top:1px solid #ddd;padding:12px 0;page-break-inside:avoid}
p.why{font-size:13px;margin:2px 0 6px;color:#333}
.legend{font-size:12px;color:#555}
svg.chart{display:block;max-width:100%;height:auto}
svg text{font-size:10px;fill:#444}
"""


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _e(value: object) -> str:
    return html.escape(_fmt(value), quote=True)


def _num(x: float) -> str:
    # Fixed precision keeps the bytes stable and the file small.
    return f"{x:.1f}"


def _table(header: list[str], rows: Iterable[Iterable[object]], numeric: set[str]) -> list[str]:
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"n" if h in numeric else ""}">{_e(h)}</th>' for h in header]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = [
            f'<td class="{"n" if h in numeric else ""}">{_e(v)}</td>'
            for h, v in zip(header, row, strict=True)
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return out


def weekly_history(
    history: pl.DataFrame | None, run_date: date, weeks: int = HISTORY_WEEKS
) -> pl.DataFrame:
    """``sku, location_id, week (0 = the week before run_date, 1 = before that...), units,
    stockout`` from a ``daily_demand``-shaped frame (``date, sku, location_id, units_ordered,
    is_stockout``)."""
    schema: dict[str, pl.DataType] = {
        "sku": pl.String(),
        "location_id": pl.String(),
        "week": pl.Int64(),
        "units": pl.Float64(),
        "stockout": pl.Boolean(),
    }
    if history is None or history.height == 0:
        return pl.DataFrame(schema=schema)
    units = "units_ordered" if "units_ordered" in history.columns else "units"
    stock = (
        pl.col("is_stockout").fill_null(False)
        if "is_stockout" in history.columns
        else pl.lit(False)
    )
    start = run_date - timedelta(days=7 * weeks)
    return (
        history.filter((pl.col("date") < run_date) & (pl.col("date") >= start))
        .with_columns(
            week=((pl.lit(run_date) - pl.col("date")).dt.total_days() - 1) // 7,
            _u=pl.col(units).cast(pl.Float64).fill_null(0.0),
            _s=stock,
        )
        .group_by([*SERIES_KEYS, "week"])
        .agg(units=pl.col("_u").sum(), stockout=pl.col("_s").any())
        .select(list(schema))
        .with_columns(pl.col(c).cast(t) for c, t in schema.items())
        .sort([*SERIES_KEYS, "week"])
    )


def weekly_forecast(forecast: pl.DataFrame | None, run_date: date) -> pl.DataFrame:
    """``sku, location_id, week (0 = the week from run_date), mean, lo, hi`` (p10-p90 band)."""
    schema: dict[str, pl.DataType] = {
        "sku": pl.String(),
        "location_id": pl.String(),
        "week": pl.Int64(),
        "mean": pl.Float64(),
        "lo": pl.Float64(),
        "hi": pl.Float64(),
    }
    if forecast is None or forecast.height == 0:
        return pl.DataFrame(schema=schema)
    return (
        forecast.filter(pl.col("period_start") >= run_date)
        .with_columns(
            week=(pl.col("period_start") - pl.lit(run_date)).dt.total_days() // 7,
            _m=pl.col("mean").cast(pl.Float64),
            _d=(pl.col("mean") - pl.col("p10")).cast(pl.Float64).clip(lower_bound=0).pow(2),
            _u=(pl.col("p90") - pl.col("mean")).cast(pl.Float64).clip(lower_bound=0).pow(2),
        )
        .group_by([*SERIES_KEYS, "week"])
        .agg(
            mean=pl.col("_m").sum(),
            lo=(pl.col("_m").sum() - pl.col("_d").sum().sqrt()).clip(lower_bound=0),
            hi=pl.col("_m").sum() + pl.col("_u").sum().sqrt(),
            n=pl.len(),
        )
        .filter(pl.col("n") == 7)  # whole weeks only
        .select(list(schema))
        .with_columns(pl.col(c).cast(t) for c, t in schema.items())
        .sort([*SERIES_KEYS, "week"])
    )


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp  # pragma: no cover


def _scale(lo: float, hi: float, top: float, bottom: float):
    span = hi - lo if hi > lo else 1.0
    return lambda v: bottom - (v - lo) / span * (bottom - top)


def line_chart(
    line: dict,
    hist: pl.DataFrame,
    fc: pl.DataFrame,
    proj: pl.DataFrame,
    run_date: date,
    history_weeks: int = HISTORY_WEEKS,
    chart_id: str = "c",
) -> str:
    """The SVG of one suggested line (see module docstring); ``chart_id`` keeps ids unique."""
    fc_weeks = int(fc.select(pl.col("week").max()).item()) + 1 if fc.height else 0
    proj_days = proj.height
    future_weeks = max(fc_weeks, math.ceil(proj_days / 7), 1)
    total_weeks = history_weeks + future_weeks
    x0, x1 = _L, _W - _R
    wx = (x1 - x0) / total_weeks

    def xw(week_from_start: float) -> float:  # 0 = first history week
        return x0 + week_from_start * wx

    now_x = xw(history_weeks)
    parts: list[str] = []
    label = f"{line['sku']} at {line['location_id']}"
    parts.append(
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{_e(label)}">'
    )
    parts.append(f'<rect x="0" y="0" width="{_W}" height="{_H}" fill="#fff"/>')
    parts.append(
        f'<defs><pattern id="hatch-{chart_id}" width="4" height="4" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="2" height="4" fill="#9db7d5"/></pattern></defs>'
    )

    # --- demand panel ----------------------------------------------------------------------
    top_max = _nice_max(
        max([0.0] + hist["units"].to_list() + fc["hi"].to_list() + fc["mean"].to_list()) * 1.05
    )
    yd = _scale(0.0, top_max, *_TOP)
    for frac in (0.0, 0.5, 1.0):
        v = top_max * frac
        y = yd(v)
        parts.append(f'<line x1="{x0}" y1="{_num(y)}" x2="{x1}" y2="{_num(y)}" stroke="#eee"/>')
        parts.append(
            f'<text x="{x0 - 4}" y="{_num(y + 3)}" text-anchor="end">{_fmt_axis(v)}</text>'
        )
    parts.append(f'<text x="{x0}" y="{_TOP[0] - 6}">units per week: history | forecast</text>')
    for week, units, stockout in hist.select("week", "units", "stockout").iter_rows():
        pos = history_weeks - 1 - week
        y = yd(units)
        fill = f"url(#hatch-{chart_id})" if stockout else "#9db7d5"
        parts.append(
            f'<rect x="{_num(xw(pos) + 1)}" y="{_num(y)}" width="{_num(wx - 2)}" '
            f'height="{_num(_TOP[1] - y)}" fill="{fill}"/>'
        )
    if fc.height:
        f = fc.sort("week")
        xs = [xw(history_weeks + w + 0.5) for w in f["week"].to_list()]
        hi = [yd(v) for v in f["hi"].to_list()]
        lo = [yd(v) for v in f["lo"].to_list()]
        band = " ".join(f"{_num(x)},{_num(y)}" for x, y in zip(xs, hi, strict=True))
        band += " " + " ".join(
            f"{_num(x)},{_num(y)}" for x, y in zip(reversed(xs), reversed(lo), strict=True)
        )
        parts.append(f'<polygon points="{band}" fill="#f6c89f" fill-opacity="0.6"/>')
        mean = " ".join(
            f"{_num(x)},{_num(yd(v))}" for x, v in zip(xs, f["mean"].to_list(), strict=True)
        )
        parts.append(f'<polyline points="{mean}" fill="none" stroke="#d9730d" stroke-width="2"/>')

    # --- stock panel -----------------------------------------------------------------------
    rp = float(line.get("reorder_point") or 0)
    with_o = proj["stock_with_order"].to_list() if proj.height else []
    without = proj["stock_without_order"].to_list() if proj.height else []
    vals = [0.0, rp, float(line.get("inventory_position") or 0)] + with_o + without
    s_max = _nice_max(max(vals) * 1.05)
    s_min = -_nice_max(-min(vals) * 1.05) if min(vals) < 0 else 0.0
    ys = _scale(s_min, s_max, *_BOT)
    parts.append(
        f'<text x="{x0}" y="{_BOT[0] - 6}">projected stock (units): without order (dashed), '
        "with order (solid), reorder point (red)</text>"
    )
    for v in sorted({s_min, 0.0, s_max}):
        y = ys(v)
        stroke = "#bbb" if v == 0 else "#eee"
        parts.append(f'<line x1="{x0}" y1="{_num(y)}" x2="{x1}" y2="{_num(y)}" stroke="{stroke}"/>')
        parts.append(
            f'<text x="{x0 - 4}" y="{_num(y + 3)}" text-anchor="end">{_fmt_axis(v)}</text>'
        )
    y_rp = ys(rp)
    parts.append(
        f'<line x1="{_num(now_x)}" y1="{_num(y_rp)}" x2="{x1}" y2="{_num(y_rp)}" '
        'stroke="#c62828" stroke-dasharray="2 2"/>'
    )
    parts.append(
        f'<text x="{x1}" y="{_num(y_rp - 3)}" text-anchor="end" fill="#c62828">'
        f"reorder point {_fmt_axis(rp)}</text>"
    )

    def path(values: list[float]) -> str:
        return " ".join(
            f"{_num(now_x + (i + 1) * wx / 7)},{_num(ys(v))}" for i, v in enumerate(values)
        )

    if without:
        parts.append(
            f'<polyline points="{path(without)}" fill="none" stroke="#555" '
            'stroke-dasharray="5 3" stroke-width="1.5"/>'
        )
    if with_o:
        parts.append(
            f'<polyline points="{path(with_o)}" fill="none" stroke="#2e7d32" stroke-width="2"/>'
        )
    receipt = line.get("expected_receipt_date")
    if isinstance(receipt, date):
        rx = now_x + ((receipt - run_date).days + 0.5) * wx / 7
        if rx <= x1:
            parts.append(
                f'<line x1="{_num(rx)}" y1="{_BOT[0]}" x2="{_num(rx)}" y2="{_BOT[1]}" '
                'stroke="#2e7d32" stroke-dasharray="1 3"/>'
            )
            right = rx > x1 - 160
            anchor = ' text-anchor="end"' if right else ""
            tx = rx - 3 if right else rx + 3
            parts.append(
                f'<text x="{_num(tx)}" y="{_BOT[0] + 9}" fill="#2e7d32"{anchor}>'
                f"+{_fmt_axis(float(line['suggested_qty']))} expected {receipt.isoformat()}</text>"
            )

    # --- time axis -------------------------------------------------------------------------
    parts.append(
        f'<line x1="{_num(now_x)}" y1="{_TOP[0]}" x2="{_num(now_x)}" y2="{_BOT[1]}" '
        'stroke="#333" stroke-dasharray="3 3"/>'
    )
    for w in range(0, total_weeks + 1, 4):
        d = run_date + timedelta(days=7 * (w - history_weeks))
        parts.append(
            f'<text x="{_num(xw(w))}" y="{_H - 14}" text-anchor="middle">{d.strftime("%d %b")}</text>'
        )
    parts.append(
        f'<text x="{_num(now_x)}" y="{_H - 2}" text-anchor="middle">run date {run_date}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _fmt_axis(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if float(v).is_integer():
        return f"{int(v)}"
    return f"{v:.1f}"


def render_report(
    lines: pl.DataFrame,
    needs: pl.DataFrame,
    run_date: date,
    projection: pl.DataFrame | None = None,
    history: pl.DataFrame | None = None,
    forecast: pl.DataFrame | None = None,
    history_weeks: int = HISTORY_WEEKS,
) -> str:
    """The whole page. ``lines`` are the buyer lines (sorted), ``needs`` the attention rows."""
    stamp = run_date.isoformat()
    hist = weekly_history(history, run_date, history_weeks)
    fcw = weekly_forecast(forecast, run_date)
    proj = (
        projection
        if projection is not None
        else pl.DataFrame(
            schema={
                "sku": pl.String,
                "location_id": pl.String,
                "period_start": pl.Date,
                "stock_without_order": pl.Float64,
                "stock_with_order": pl.Float64,
            }
        )
    )
    hist_by = {k: g for k, g in hist.partition_by(SERIES_KEYS, as_dict=True).items()}
    fc_by = {k: g for k, g in fcw.partition_by(SERIES_KEYS, as_dict=True).items()}
    proj_by = {
        k: g.sort("period_start") for k, g in proj.partition_by(SERIES_KEYS, as_dict=True).items()
    }
    empty_h, empty_f, empty_p = hist.head(0), fcw.head(0), proj.head(0)

    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Purchase order suggestions {stamp}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Purchase order suggestions for {stamp}</h1>",
        f"<p>{lines.height} suggested lines for {lines['supplier_id'].n_unique()} suppliers; "
        f"{needs.height} items need attention. Fill in <code>approved_qty</code> in "
        f"<code>purchase_orders_{stamp}.xlsx</code> or the supplier CSV (0 to skip a line) and "
        "drop the file back into the inbox.</p>",
    ]
    if lines.height:
        totals = (
            lines.group_by(["supplier_id", "supplier_name", "currency"])
            .agg(
                lines=pl.len().cast(pl.Int64),
                units=pl.col("suggested_qty").sum().cast(pl.Int64),
                value=pl.col("line_value").sum(),
            )
            .sort(["supplier_id", "currency"])
        )
        out.append("<h2>Totals per supplier</h2>")
        out += _table(
            ["supplier_id", "supplier_name", "currency", "lines", "units", "value"],
            totals.select(
                "supplier_id", "supplier_name", "currency", "lines", "units", "value"
            ).iter_rows(),
            {"lines", "units", "value"},
        )
        out.append("<h2>Lines</h2>")
        cols = [
            "supplier_id",
            "location_id",
            "sku",
            "suggested_qty",
            "line_value",
            "currency",
            "projected_stockout_date",
            "days_of_cover",
            "days_of_cover_after",
            "revenue_at_risk",
            "revenue_currency",
        ]
        out += _table(
            cols,
            lines.select(cols).iter_rows(),
            {
                "suggested_qty",
                "line_value",
                "days_of_cover",
                "days_of_cover_after",
                "revenue_at_risk",
            },
        )
    else:
        out.append("<p>No purchase orders suggested.</p>")

    out.append(f"<h2>Needs attention ({needs.height})</h2>")
    if needs.height:
        out += _table(["sku", "location_id", "reason"], needs.iter_rows(), set())
    else:
        out.append("<p>Nothing.</p>")

    if lines.height:
        out.append("<h2>Charts</h2>")
        out.append(
            '<p class="legend">Top: units per week, history (bars; hatched = the week had '
            "stockout days, so sales understate demand) and forecast mean (orange line) with "
            "its p10-p90 band. Bottom: projected available stock per day without the suggested "
            "order (dashed) and with it (green), against the reorder point (red).</p>"
        )
    for n, row in enumerate(lines.iter_rows(named=True), start=1):
        key = (row["sku"], row["location_id"])
        anchor = html.escape(f"{row['supplier_id']}-{row['location_id']}-{row['sku']}", quote=True)
        out.append(f'<section class="line" id="{anchor}">')
        out.append(
            f"<h3>{_e(row['sku'])} at {_e(row['location_id'])}: order {_e(row['suggested_qty'])}"
            f" from {_e(row['supplier_id'])} ({_e(row.get('supplier_name'))})</h3>"
        )
        out.append(f'<p class="why">{_e(row["reason"])}</p>')
        if row.get("revenue_at_risk") is not None:
            # forecasting/revenue_at_risk.py: what skipping the line would cost in sales
            out.append(
                f'<p class="why">Revenue at risk if not ordered: {_e(row["revenue_at_risk"])} '
                f"{_e(row.get('revenue_currency'))} ({_e(row.get('units_at_risk'))} units short "
                "at the forecast mean before an order at the next review could arrive)</p>"
            )
        elif row.get("units_at_risk"):
            out.append(
                f'<p class="why">Revenue at risk if not ordered: no price (no sale in 90 days, '
                f"no list price); {_e(row['units_at_risk'])} units short before an order at the "
                "next review could arrive</p>"
            )
        out.append(
            line_chart(
                row,
                hist_by.get(key, empty_h),
                fc_by.get(key, empty_f),
                proj_by.get(key, empty_p),
                run_date,
                history_weeks,
                chart_id=str(n),
            )
        )
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
