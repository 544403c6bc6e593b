"""The operations dashboard page: small frames in, one self-contained HTML string out.

Pure: no warehouse, no files, no clock (``flows/dashboard.py`` reads the marts and passes what it
found, the generation time included). The page has inline CSS and inline SVG charts drawn here;
no script, no font, no external reference, so it opens offline from a file share or a mail
attachment and prints as is. The 7 / 30 / 90-day switch is CSS only (radio buttons).

Every chart is an ``<svg class="chart" data-chart="<name>" data-points="<n>">`` whose marks
(bars, points) carry ``class="mk"`` and a ``<title>`` tooltip, so a test (or a person) can tell
a chart that drew its data from an empty frame.

Definitions (also printed in the page's footnote):

- periods end on the last day with orders (``as_of``, the newest ``order_date``), not on the
  wall-clock date; "last 30 days" is ``as_of - 29 .. as_of``, compared with the 30 days before;
- net sales, gross margin and return rate come from ``marts.sales_daily`` (sales dated by order
  date, refunds by refund date); gross margin % is over the net sales whose cost is known;
- orders and AOV come from ``marts.orders``: orders placed in the period, not cancelled, with
  units (till return receipts are not orders); AOV = (gross sales - discounts) / orders.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import polars as pl

WINDOWS: tuple[int, ...] = (7, 30, 90)
DEFAULT_WINDOW = 30
BESTSELLER_DAYS = 30
TOP_N = 5

# One colour per series, in a fixed order (colour-blind friendly, Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2937;color:#fff;padding:14px 24px}
header h1{font-size:20px;margin:0 0 4px}header p{margin:0;font-size:13px;color:#d1d5db}header .bad{color:#fca5a5}
nav{font-size:13px;margin-top:6px}nav a{color:#93c5fd;margin-right:12px}
main{padding:8px 24px 32px;max-width:1280px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:12px 16px;margin:14px 0}
h2{font-size:17px;margin:0 0 8px}h3{font-size:14px;margin:10px 0 4px}
p.note{font-size:12px;color:#555;margin:4px 0}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{border-bottom:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f3f4f6;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 10px}
.tile{border:1px solid #e5e7eb;border-radius:6px;padding:8px 12px;min-width:170px;max-width:300px;background:#fafafa}
.tile .k{font-size:12px;color:#555}.tile .v{font-size:20px;font-weight:600;margin:2px 0}
.tile .d{font-size:12px}
.up{color:#15803d}.down{color:#b91c1c}.flat{color:#555}
.bad{color:#b91c1c;font-weight:600}.ok{color:#15803d}.warn{color:#b45309;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:16px}
.grid>div{flex:1 1 420px;min-width:0;overflow-x:auto}
.small{display:flex;flex-wrap:wrap;gap:14px}.small>div{flex:0 1 auto}
.legend{font-size:12px;color:#444;margin:2px 0 6px}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
svg.chart{display:block;max-width:100%;height:auto;background:#fff}
svg text{font-size:10px;fill:#444}
.tabs>input{position:absolute;opacity:0;pointer-events:none}
.tabs>label{display:inline-block;padding:4px 12px;border:1px solid #cbd5e1;border-radius:4px;margin-right:6px;cursor:pointer;font-size:13px;background:#f8fafc}
.panel{display:none;margin-top:8px}
#w7:checked~label[for=w7],#w30:checked~label[for=w30],#w90:checked~label[for=w90]{background:#1f2937;color:#fff;border-color:#1f2937}
#w7:checked~.panels #p7,#w30:checked~.panels #p30,#w90:checked~.panels #p90{display:block}
@media print{.panel{display:block}.tabs>label{display:none}body{background:#fff}}
footer{font-size:12px;color:#555;padding:0 24px 24px;max-width:1280px}
"""


@dataclass
class DashboardData:
    """What the page shows, read by ``flows/dashboard.py`` (column lists in its queries).

    Frames may be empty; the page then says so instead of drawing a chart."""

    as_of: date | None  # the last day with orders; None when the warehouse has none
    generated_at: datetime
    currency: str
    kpis: pl.DataFrame  # window_days, period (current|previous), channel ('all' = every channel),
    # net_sales, gross_margin, margin_sales, units, units_returned, orders, order_value
    sales_weekly: pl.DataFrame  # week_end, channel, region, net_sales
    bestsellers: pl.DataFrame  # channel, region, rank, sku, title, units_kept, net_sales
    stock_by_location: pl.DataFrame  # location_id, pairs, stock_value, excess_value, excess_pairs,
    # dead_value, dead_pairs, stockouts
    stockouts: pl.DataFrame  # sku, location_id, title, abc_class, units_90d, on_order
    at_risk: pl.DataFrame  # sku, location_id, supplier_id, abc_class, on_hand, on_order,
    # projected_stockout_date, expected_receipt_date, suggested_qty
    segments: pl.DataFrame  # segment, region, customers, orders, lifetime_net, one_time,
    # high_aov, repeat
    suppliers: pl.DataFrame  # supplier_id, supplier_name, currency, lines, units, value, value_base
    freshness: pl.DataFrame  # channel, source, last_loaded_at, newest_record_at, records,
    # allowed_hours, judged
    quarantine: pl.DataFrame  # channel, stream, reason, records, newest
    runs: pl.DataFrame  # run_id, flow, status, started_at, finished_at, rows_landed,
    # rows_quarantined, message
    plan_date: date | None = None  # the planning run shown (po suggestions)
    requested_plan_date: date | None = None  # asked for, when it had no plan
    report_href: str | None = None  # relative link to that run's report.html
    needs_attention: int = 0
    excess_days: int = 120  # stock above this many days of cover is excess
    dead_days: int = 90  # stock with no sales in this many days is dead
    warehouse: str = ""
    at_risk_total: int | None = None  # rows of at_risk before the display limit
    stockouts_total: int | None = None
    notes: list[str] = field(default_factory=list)
    # channel, placed, shipped, open, late, on_time_share, hours_to_ship_median,
    # on_time_share_30d (marts.fulfillment_daily on the as_of day; empty before that mart)
    fulfillment: pl.DataFrame = field(default_factory=pl.DataFrame)


# ----------------------------------------------------------------------------- formatting


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _int(v: object) -> str:
    if v is None:
        return ""
    return f"{int(round(float(v))):,}"  # type: ignore[arg-type]


def _money(v: object, digits: int = 0) -> str:
    if v is None:
        return ""
    x = float(v)  # type: ignore[arg-type]
    return f"{x:,.{digits}f}"


def _pct(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v * 100:.{digits}f}%"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _num(x: float) -> str:
    return f"{x:.1f}"


def _axis(v: float) -> str:
    if abs(v) >= 1_000_000:
        return f"{v / 1_000_000:.1f}M"
    if abs(v) >= 10_000:
        return f"{v / 1000:.0f}k"
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp  # pragma: no cover


def _delta(cur: float | None, prev: float | None, points: bool = False) -> str:
    """`+12.3% vs prev.` (relative) or `+1.2 pp` (a rate's change in percentage points)."""
    if cur is None or prev is None:
        return '<span class="flat">no comparison</span>'
    if points:
        d = (cur - prev) * 100
        cls = "up" if d > 0.05 else "down" if d < -0.05 else "flat"
        return f'<span class="{cls}">{d:+.1f} pp</span>'
    if prev == 0:
        return '<span class="flat">previous 0</span>' if cur else '<span class="flat">±0</span>'
    d = (cur - prev) / abs(prev)
    cls = "up" if d > 0.0005 else "down" if d < -0.0005 else "flat"
    arrow = "▲" if d > 0.0005 else "▼" if d < -0.0005 else "="
    return f'<span class="{cls}">{arrow} {d * 100:+.1f}%</span>'


def _table(
    header: Sequence[str], rows: Iterable[Sequence[object]], numeric: Iterable[int] = ()
) -> str:
    num = set(numeric)
    out = ["<table><thead><tr>"]
    out += [f"<th{' class=n' if i in num else ''}>{_e(h)}</th>" for i, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    n = 0
    for row in rows:
        n += 1
        cells = []
        for i, v in enumerate(row):
            raw = v if isinstance(v, _Html) else _e(v)
            cells.append(f"<td{' class=n' if i in num else ''}>{raw}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    if n == 0:
        out.append(f'<tr><td colspan="{len(header)}">(none)</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


class _Html(str):
    """A table cell that is already HTML (not escaped again)."""


def _legend(names: Sequence[str], colours: Sequence[str] = PALETTE) -> str:
    items = "".join(
        f'<span><i style="background:{colours[i % len(colours)]}"></i>{_e(n)}</span>'
        for i, n in enumerate(names)
    )
    return f'<div class="legend">{items}</div>'


# ----------------------------------------------------------------------------------- charts


def line_chart(
    name: str,
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    unit: str,
    width: int = 600,
    height: int = 230,
) -> str:
    """Lines (one per series, every point marked) over shared x labels."""
    left, right, top, bottom = 52, 10, 12, height - 24
    points = sum(len(v) for v in series.values())
    values = [float(v) for vs in series.values() for v in vs] or [0.0]
    lo = min(0.0, min(values))
    hi = _nice_max(max(values) * 1.05)
    if lo < 0:
        lo = -_nice_max(-lo * 1.05)
    span = hi - lo or 1.0
    n = max(len(x_labels), 1)
    step = (width - left - right) / max(n - 1, 1)

    def x(i: int) -> float:
        return left + i * step if n > 1 else (left + width - right) / 2

    def y(v: float) -> float:
        return bottom - (v - lo) / span * (bottom - top)

    parts = [
        f'<svg class="chart" data-chart="{_e(name)}" data-points="{points}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(name)}">'
    ]
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        v = lo + span * frac
        parts.append(
            f'<line x1="{left}" y1="{_num(y(v))}" x2="{width - right}" y2="{_num(y(v))}" '
            f'stroke="{"#bbb" if v == 0 else "#eee"}"/>'
            f'<text x="{left - 4}" y="{_num(y(v) + 3)}" text-anchor="end">{_axis(v)}</text>'
        )
    every = max(1, math.ceil(n / 8))
    for i, label in enumerate(x_labels):
        # every few labels, and the last one unless it would touch the one before it
        if i == n - 1 or (i % every == 0 and n - 1 - i > every // 2):
            anchor = "end" if i == n - 1 and n > 1 else "middle"
            parts.append(
                f'<text x="{_num(x(i))}" y="{height - 8}" text-anchor="{anchor}">{_e(label)}</text>'
            )
    for s, (label, vs) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        pts = " ".join(f"{_num(x(i))},{_num(y(float(v)))}" for i, v in enumerate(vs))
        if len(vs) > 1:
            parts.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.8"/>'
            )
        for i, v in enumerate(vs):
            tip = f"{label} · {x_labels[i] if i < len(x_labels) else i}: {_money(v)} {unit}"
            parts.append(
                f'<circle class="mk" cx="{_num(x(i))}" cy="{_num(y(float(v)))}" r="2.2" '
                f'fill="{colour}"><title>{_e(tip)}</title></circle>'
            )
    parts.append("</svg>")
    return "".join(parts) + _legend(list(series))


def bar_chart(
    name: str,
    items: Sequence[tuple[str, Sequence[float]]],
    unit: str,
    stack_labels: Sequence[str] = ("",),
    colours: Sequence[str] = PALETTE,
    width: int = 600,
    bar_height: int = 18,
) -> str:
    """Horizontal bars, one per item; several values per item are stacked (``stack_labels``)."""
    left, right, top = 130, 70, 6
    height = top + len(items) * (bar_height + 6) + 22
    totals = [sum(max(float(v), 0.0) for v in vs) for _, vs in items] or [0.0]
    hi = _nice_max(max(totals) * 1.02)
    scale = (width - left - right) / hi
    points = sum(1 for _, vs in items for v in vs if float(v) > 0)
    parts = [
        f'<svg class="chart" data-chart="{_e(name)}" data-points="{points}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(name)}">'
    ]
    base_y = top + len(items) * (bar_height + 6)
    for frac in (0.0, 0.5, 1.0):
        gx = left + hi * frac * scale
        parts.append(
            f'<line x1="{_num(gx)}" y1="{top}" x2="{_num(gx)}" y2="{base_y}" stroke="#eee"/>'
            f'<text x="{_num(gx)}" y="{base_y + 14}" text-anchor="middle">{_axis(hi * frac)}</text>'
        )
    for r, (label, vs) in enumerate(items):
        by = top + r * (bar_height + 6)
        parts.append(
            f'<text x="{left - 6}" y="{by + bar_height / 2 + 3:.1f}" text-anchor="end">'
            f"{_e(label)}</text>"
        )
        bx = float(left)
        for s, v in enumerate(vs):
            w = max(float(v), 0.0) * scale
            if w <= 0:
                continue
            what = f"{label} · {stack_labels[s]}" if stack_labels[s] else label
            parts.append(
                f'<rect class="mk" x="{_num(bx)}" y="{by}" width="{_num(max(w, 1.0))}" '
                f'height="{bar_height}" fill="{colours[s % len(colours)]}">'
                f"<title>{_e(what)}: {_money(v)} {_e(unit)}</title></rect>"
            )
            bx += w
        parts.append(
            f'<text x="{_num(bx + 4)}" y="{by + bar_height / 2 + 3:.1f}">'
            f"{_money(sum(float(v) for v in vs))}</text>"
        )
    parts.append("</svg>")
    legend = _legend(stack_labels, colours) if len(stack_labels) > 1 else ""
    return "".join(parts) + legend


def _no_data(what: str) -> str:
    return f'<p class="note">No {_e(what)} yet.</p>'


# ---------------------------------------------------------------------------------- sections


def _kpi_values(frame: pl.DataFrame) -> dict[str, float | None]:
    if frame.height == 0:
        return dict.fromkeys(
            ("net_sales", "orders", "aov", "return_rate", "margin", "margin_pct"), None
        )
    r = frame.row(0, named=True)

    def f(k: str) -> float | None:
        v = r.get(k)
        return None if v is None else float(v)

    return {
        "net_sales": f("net_sales") or 0.0,
        "orders": f("orders") or 0.0,
        "aov": _ratio(f("order_value"), f("orders")),
        "return_rate": _ratio(f("units_returned"), f("units")),
        "margin": f("gross_margin"),
        "margin_pct": _ratio(f("gross_margin"), f("margin_sales")),
    }


def _period_text(as_of: date, days: int) -> tuple[str, str]:
    cur = (as_of - timedelta(days=days - 1), as_of)
    prev = (as_of - timedelta(days=2 * days - 1), as_of - timedelta(days=days))
    fmt = "{0:%d %b %Y} – {1:%d %b %Y}"
    return fmt.format(*cur), fmt.format(*prev)


def _sales_section(d: DashboardData) -> str:
    out = ['<section id="sales"><h2>Sales: the last 7, 30 and 90 days</h2>']
    if d.as_of is None or d.kpis.height == 0:
        return out[0] + _no_data("orders") + "</section>"
    cur_code = d.currency
    out.append('<div class="tabs">')
    for w in WINDOWS:
        checked = " checked" if w == DEFAULT_WINDOW else ""
        out.append(f'<input type="radio" name="window" id="w{w}"{checked}>')
    for w in WINDOWS:
        out.append(f'<label for="w{w}">last {w} days</label>')
    out.append('<div class="panels">')
    channels = sorted(c for c in d.kpis["channel"].unique().to_list() if c != "all")
    for w in WINDOWS:
        cur_txt, prev_txt = _period_text(d.as_of, w)
        k = d.kpis.filter(pl.col("window_days") == w)

        def vals(channel: str, period: str, k: pl.DataFrame = k) -> dict[str, float | None]:
            return _kpi_values(
                k.filter((pl.col("channel") == channel) & (pl.col("period") == period))
            )

        out.append(f'<div class="panel" id="p{w}">')
        out.append(
            f'<p class="note"><b>{cur_txt}</b> (last {w} days to the last day with orders) '
            f"vs the previous {w} days, {prev_txt}. Money in {_e(cur_code)}.</p>"
        )
        c, p = vals("all", "current"), vals("all", "previous")
        tiles = [
            ("Net sales", f"{_e(cur_code)} {_money(c['net_sales'])}", _delta(c["net_sales"], p["net_sales"])),
            ("Orders", _int(c["orders"]), _delta(c["orders"], p["orders"])),
            ("Average order value", f"{_e(cur_code)} {_money(c['aov'], 2)}" if c["aov"] is not None else "–", _delta(c["aov"], p["aov"])),
            ("Return rate (units)", _pct(c["return_rate"]), _delta(c["return_rate"], p["return_rate"], points=True)),
            ("Gross margin", f"{_e(cur_code)} {_money(c['margin'])} · {_pct(c['margin_pct'])}" if c["margin"] is not None else "–", _delta(c["margin_pct"], p["margin_pct"], points=True)),
        ]  # fmt: skip
        out.append('<div class="tiles">')
        for label, value, delta in tiles:
            out.append(
                f'<div class="tile"><div class="k">{label}, all channels</div>'
                f'<div class="v">{value}</div><div class="d">{delta} vs previous {w} days</div></div>'
            )
        out.append("</div>")
        rows = []
        for ch in [*channels, "all"]:
            c, p = vals(ch, "current"), vals(ch, "previous")
            rows.append(
                [
                    "all channels" if ch == "all" else ch,
                    _money(c["net_sales"]),
                    _Html(_delta(c["net_sales"], p["net_sales"])),
                    _int(c["orders"]),
                    _Html(_delta(c["orders"], p["orders"])),
                    _money(c["aov"], 2),
                    _Html(_delta(c["aov"], p["aov"])),
                    _pct(c["return_rate"]),
                    _Html(_delta(c["return_rate"], p["return_rate"], points=True)),
                    _money(c["margin"]),
                    _pct(c["margin_pct"]),
                    _Html(_delta(c["margin_pct"], p["margin_pct"], points=True)),
                ]
            )
        out.append(
            _table(
                [
                    "channel",
                    f"net sales ({cur_code})",
                    "vs prev.",
                    "orders",
                    "vs prev.",
                    f"AOV ({cur_code})",
                    "vs prev.",
                    "return rate",
                    "vs prev.",
                    f"gross margin ({cur_code})",
                    "margin %",
                    "vs prev.",
                ],
                rows,
                numeric=range(1, 12),
            )  # fmt: skip
        )
        out.append("</div>")
    out.append("</div></div></section>")
    return "".join(out)


def _weekly(frame: pl.DataFrame, by: str, weeks: list[date]) -> dict[str, list[float]]:
    agg = frame.group_by("week_end", by).agg(pl.col("net_sales").sum())
    totals = agg.group_by(by).agg(pl.col("net_sales").sum()).sort("net_sales", descending=True)
    out: dict[str, list[float]] = {}
    for key in totals[by].to_list():
        got = {
            r[0]: float(r[1] or 0)
            for r in agg.filter(pl.col(by) == key).select("week_end", "net_sales").iter_rows()
        }
        out[str(key)] = [got.get(w, 0.0) for w in weeks]
    return out


def _trend_section(d: DashboardData) -> str:
    out = ['<section id="trend"><h2>Net sales over time</h2>']
    if d.sales_weekly.height == 0:
        return out[0] + _no_data("sales") + "</section>"
    weeks = sorted(d.sales_weekly["week_end"].unique().to_list())
    labels = [f"{w:%d %b}" for w in weeks]
    out.append(
        f'<p class="note">Net sales per week in {_e(d.currency)} (weeks end on '
        f"{_e(weeks[-1].strftime('%a %d %b %Y'))}, the last day with orders; refunds count in "
        "the week they were refunded). Hover a point for its value.</p>"
    )
    out.append('<div class="grid"><div><h3>By channel</h3>')
    out.append(
        line_chart(
            "sales-by-channel", labels, _weekly(d.sales_weekly, "channel", weeks), d.currency
        )
    )
    out.append("</div><div><h3>By ship region</h3>")
    out.append(
        line_chart("sales-by-region", labels, _weekly(d.sales_weekly, "region", weeks), d.currency)
    )
    out.append("</div></div></section>")  # fmt: skip
    return "".join(out)


def _bestsellers_section(d: DashboardData) -> str:
    out = [
        f'<section id="bestsellers"><h2>Bestsellers per channel and region (last {BESTSELLER_DAYS} days)</h2>'
    ]
    if d.bestsellers.height == 0:
        return out[0] + _no_data("sales") + "</section>"
    out.append(
        f'<p class="note">Top {TOP_N} SKUs by units kept (ordered minus refunded, cancelled '
        f"orders out) per channel and ship region; net sales in {_e(d.currency)}.</p>"
    )
    out.append('<div class="small">')
    for (channel, region), g in sorted(
        d.bestsellers.partition_by("channel", "region", as_dict=True).items(),
        key=lambda kv: (str(kv[0][0]), str(kv[0][1])),
    ):
        rows = [
            [r["rank"], r["sku"], (r["title"] or "")[:28], _int(r["units_kept"]), _money(r["net_sales"])]
            for r in g.sort("rank").iter_rows(named=True)
        ]  # fmt: skip
        out.append(f"<div><h3>{_e(channel)} · {_e(region)}</h3>")
        out.append(_table(["#", "sku", "title", "units", d.currency], rows, numeric=(0, 3, 4)))
        out.append("</div>")
    out.append("</div></section>")
    return "".join(out)


def _stock_section(d: DashboardData) -> str:
    s = d.stock_by_location
    out = ['<section id="stock"><h2>Stock health</h2>']
    total = {
        c: float(s[c].sum() or 0) if s.height else 0.0
        for c in ("stock_value", "excess_value", "dead_value", "stockouts", "pairs")
    }
    at_risk_n = d.at_risk_total if d.at_risk_total is not None else d.at_risk.height
    cur = _e(d.currency)
    tiles = [
        ("Stockouts now", _int(total["stockouts"]), "SKU-locations that sold in the last 90 days and have nothing available"),
        ("Out before the next delivery", _int(at_risk_n), "projected to run out before an order placed on the plan date can arrive"),
        ("Excess stock", f"{cur} {_money(total['excess_value'])}", f"on hand beyond {d.excess_days} days of cover at the last 90 days' rate, at unit cost"),
        ("Dead stock", f"{cur} {_money(total['dead_value'])}", f"on hand with no sale in {d.dead_days} days, at unit cost"),
        ("Stock on hand", f"{cur} {_money(total['stock_value'])}", f"{_int(total['pairs'])} SKU-locations, at unit cost"),
    ]  # fmt: skip
    out.append('<div class="tiles">')
    for label, value, why in tiles:
        out.append(
            f'<div class="tile"><div class="k">{label}</div><div class="v">{value}</div>'
            f'<div class="d flat">{why}</div></div>'
        )
    out.append("</div>")
    if s.height:
        items = [
            (
                str(r["location_id"]),
                [
                    max(float(r["stock_value"] or 0) - float(r["excess_value"] or 0) - float(r["dead_value"] or 0), 0.0),
                    float(r["excess_value"] or 0),
                    float(r["dead_value"] or 0),
                ],
            )
            for r in s.sort("location_id").iter_rows(named=True)
        ]  # fmt: skip
        out.append(f"<h3>Stock value per location ({cur})</h3>")
        out.append(
            bar_chart(
                "stock-value-by-location",
                items,
                d.currency,
                ("healthy", "excess", "dead"),
                colours=("#009E73", "#E69F00", "#B91C1C"),
            )
        )
    else:
        out.append(_no_data("stock counts"))
    out.append('<div class="grid"><div>')
    more = (
        f" (first {d.stockouts.height} of {d.stockouts_total})"
        if d.stockouts_total and d.stockouts_total > d.stockouts.height
        else ""
    )
    out.append(f"<h3>Stockouts now{more}</h3>")
    out.append(
        _table(
            ["sku", "location", "title", "ABC", "units sold 90 d", "on order"],
            (
                [
                    r["sku"],
                    r["location_id"],
                    (r["title"] or "")[:30],
                    r["abc_class"],
                    _int(r["units_90d"]),
                    _int(r["on_order"]),
                ]
                for r in d.stockouts.iter_rows(named=True)
            ),
            numeric=(4, 5),
        )  # fmt: skip
    )
    out.append("</div><div>")
    more = f" (first {d.at_risk.height} of {at_risk_n})" if at_risk_n > d.at_risk.height else ""
    out.append(f"<h3>Projected to stock out before their next possible delivery{more}</h3>")
    out.append(
        _table(
            [
                "sku",
                "location",
                "supplier",
                "ABC",
                "on hand",
                "on order",
                "stockout",
                "earliest delivery",
                "suggested",
            ],
            (
                [
                    r["sku"],
                    r["location_id"],
                    r["supplier_id"],
                    r["abc_class"],
                    _int(r["on_hand"]),
                    _int(r["on_order"]),
                    r["projected_stockout_date"],
                    r["expected_receipt_date"],
                    _int(r["suggested_qty"]),
                ]
                for r in d.at_risk.iter_rows(named=True)
            ),
            numeric=(4, 5, 8),
        )  # fmt: skip
    )
    out.append("</div></div></section>")
    return "".join(out)


def _customers_section(d: DashboardData) -> str:
    seg = d.segments
    out = ['<section id="customers"><h2>Customers by segment</h2>']
    if seg.height == 0:
        return out[0] + _no_data("customers") + "</section>"
    seg = seg.with_columns(pl.col("region").fill_null("Unknown"))
    by_seg = (
        seg.group_by("segment")
        .agg(pl.col("customers", "orders", "lifetime_net").sum())
        .sort("customers", descending=True)
    )
    regions = (
        seg.group_by("region").agg(pl.col("customers").sum()).sort("customers", descending=True)
    )["region"].to_list()
    total = int(seg["customers"].sum())
    flags = {c: int(seg[c].sum() or 0) for c in ("one_time", "high_aov", "repeat")}
    out.append('<div class="tiles">')
    for label, n in (
        ("Customers", total),
        ("One-time buyers", flags["one_time"]),
        ("High AOV (top 20 %)", flags["high_aov"]),
        ("Repeat customers", flags["repeat"]),
    ):
        share = (
            f"{n / total * 100:.0f}% of customers"
            if total and label != "Customers"
            else "resolved across channels"
        )
        out.append(
            f'<div class="tile"><div class="k">{label}</div><div class="v">{n:,}</div>'
            f'<div class="d flat">{share}</div></div>'
        )  # fmt: skip
    out.append("</div>")
    out.append('<div class="grid"><div>')
    out.append("<h3>Customers per segment</h3>")
    out.append(
        bar_chart(
            "customers-by-segment",
            [(str(r["segment"]), [float(r["customers"])]) for r in by_seg.iter_rows(named=True)],
            "customers",
        )
    )
    out.append("</div><div><h3>Per segment and region</h3>")
    pivot = {(r["segment"], r["region"]): int(r["customers"]) for r in seg.iter_rows(named=True)}
    rows = []
    for r in by_seg.iter_rows(named=True):
        aov = _ratio(float(r["lifetime_net"] or 0), float(r["orders"] or 0))
        rows.append(
            [r["segment"], _int(r["customers"]), _money(aov, 2), _money(r["lifetime_net"])]
            + [_int(pivot.get((r["segment"], reg), 0)) for reg in regions]
        )
    out.append(
        _table(
            [
                "segment",
                "customers",
                f"AOV ({d.currency})",
                f"lifetime net ({d.currency})",
                *regions,
            ],
            rows,
            numeric=range(1, 4 + len(regions)),
        )
    )
    out.append(
        '<p class="note">Segments over full history (marts.customers); AOV = lifetime net sales / '
        "orders; region from the customer's country.</p>"
    )
    out.append("</div></div></section>")
    return "".join(out)


def _po_section(d: DashboardData) -> str:
    out = ['<section id="purchase-orders"><h2>Purchase-order suggestions</h2>']
    if d.plan_date is None:
        asked = (
            f" for {d.requested_plan_date.isoformat()}" if d.requested_plan_date is not None else ""
        )
        return (
            out[0]
            + f'<p class="note">No replenishment plan{asked} yet (`oms reorder`).</p></section>'
        )
    link = (
        f' · <a href="{_e(d.report_href)}">the buyer report (report.html)</a>'
        if d.report_href
        else " · report.html not found next to the dashboard"
    )
    lines = int(d.suppliers["lines"].sum() or 0) if d.suppliers.height else 0
    out.append(
        f'<p class="note">Plan of <b>{d.plan_date.isoformat()}</b>: {lines} suggested lines, '
        f"{d.needs_attention} items need attention{link}. Values in the supplier's currency and "
        f"in {_e(d.currency)} at the latest rate.</p>"
    )
    if d.suppliers.height == 0:
        return "".join(out) + '<p class="note">Nothing to order.</p></section>'
    out.append('<div class="grid"><div>')
    out.append(
        _table(
            ["supplier", "name", "lines", "units", "value", "currency", f"value ({d.currency})"],
            (
                [
                    r["supplier_id"],
                    r["supplier_name"],
                    _int(r["lines"]),
                    _int(r["units"]),
                    _money(r["value"], 2),
                    r["currency"],
                    _money(r["value_base"], 2),
                ]
                for r in d.suppliers.sort("supplier_id").iter_rows(named=True)
            ),
            numeric=(2, 3, 4, 6),
        )  # fmt: skip
    )
    out.append("</div><div>")
    out.append(
        bar_chart(
            "po-value-by-supplier",
            [
                (str(r["supplier_id"]), [float(r["value_base"] or 0)])
                for r in d.suppliers.sort("supplier_id").iter_rows(named=True)
            ],
            d.currency,
        )
    )
    out.append("</div></div></section>")
    return "".join(out)


def _age(then: datetime | None, now: datetime) -> float | None:
    if then is None:
        return None
    if then.tzinfo is None or now.tzinfo is None:
        then, now = then.replace(tzinfo=None), now.replace(tzinfo=None)
    return (now - then).total_seconds() / 3600


def _ts(v: object) -> str:
    return f"{v:%Y-%m-%d %H:%M}" if isinstance(v, datetime) else ("" if v is None else str(v))


def _freshness_verdict(r: dict, now: datetime) -> tuple[str, str]:
    """(fresh | stale | not judged, its HTML) for one row of `freshness`."""
    age = _age(r["last_loaded_at"], now)
    if not r["judged"]:
        return "not judged", '<span class="flat">not judged</span>'
    if age is None:
        return "stale", '<span class="bad">nothing landed</span>'
    if age > float(r["allowed_hours"]):
        return "stale", f'<span class="bad">stale (&gt; {r["allowed_hours"]:g} h)</span>'
    return "fresh", '<span class="ok">fresh</span>'


def _health_banner(d: DashboardData) -> str:
    """One line for the header: stale channels, quarantined records, the last run."""
    stale = [
        str(r["channel"])
        for r in d.freshness.iter_rows(named=True)
        if _freshness_verdict(r, d.generated_at)[0] == "stale"
    ]
    parts = [
        f'<span class="bad">stale: {_e(", ".join(stale))}</span>'
        if stale
        else f"{d.freshness.height} channels fresh"
    ]
    n_q = int(d.quarantine["records"].sum() or 0) if d.quarantine.height else 0
    parts.append(f"{n_q:,} records quarantined")
    if d.runs.height:
        last = d.runs.row(0, named=True)
        parts.append(
            f"last run {_e(last['flow'])}: {_e(last['status'])} ({_ts(last['started_at'])})"
        )
    else:
        parts.append("no runs recorded")
    return '<a href="#health" style="color:inherit">Data health</a>: ' + " · ".join(parts)


def _share(v: object) -> str:
    return "" if v is None else f"{float(v):.0%}"  # type: ignore[arg-type]


def _fulfilment_section(d: DashboardData) -> str:
    """Open and late orders of the last day with orders, per channel (marts.fulfillment_daily)."""
    f = d.fulfillment
    late = int(f["late"].sum() or 0) if f.height else 0
    open_ = int(f["open"].sum() or 0) if f.height else 0
    cls = "bad" if late else "ok"
    out = [
        '<section id="fulfilment"><h2>Fulfilment</h2>',
        f"<h3>Open orders at the end of {_e(d.as_of)}: {open_:,}, "
        f'late: <span class="{cls}">{late:,}</span></h3>',
        _table(
            [
                "channel",
                "placed",
                "shipped",
                "open",
                "late",
                "shipped on time",
                "median hours to ship",
                "on time, 30 days",
            ],
            (
                [
                    r["channel"],
                    _int(r["placed"]),
                    _int(r["shipped"]),
                    _int(r["open"]),
                    _int(r["late"]),
                    _share(r["on_time_share"]),
                    "" if r["hours_to_ship_median"] is None else f"{r['hours_to_ship_median']:.1f}",
                    _share(r["on_time_share_30d"]),
                ]
                for r in f.iter_rows(named=True)
            ),
            numeric=(1, 2, 3, 4, 5, 6, 7),
        ),  # fmt: skip
        '<p class="note">Open = placed and not shipped complete by the end of the day; late = '
        "open past its ship-by promise (Amazon's LatestShipDate, else the channel's SLA: "
        "<code>fulfillment_ship_sla_hours</code> in dbt_project.yml). Shipped on time: the "
        "day's shipments within their order's promise (marts.fulfillment_daily).</p>",
        "</section>",
    ]
    return "".join(out)


def _health_section(d: DashboardData) -> str:
    out = ['<section id="health"><h2>Data health</h2><div class="grid"><div>']
    out.append("<h3>Freshness per channel</h3>")
    rows = []
    for r in d.freshness.iter_rows(named=True):
        age = _age(r["last_loaded_at"], d.generated_at)
        verdict = _Html(_freshness_verdict(r, d.generated_at)[1])
        rows.append(
            [r["channel"], _ts(r["last_loaded_at"]), "" if age is None else f"{age:,.1f}",
             verdict, _ts(r["newest_record_at"]), _int(r["records"])]
        )  # fmt: skip
    out.append(
        _table(
            [
                "channel",
                "last landing (UTC)",
                "hours ago",
                "status",
                "newest record (UTC)",
                "records",
            ],
            rows,
            numeric=(2, 5),
        )
    )
    out.append(
        '<p class="note">Last landing = newest <code>_loaded_at</code> of the channel\'s order '
        "table (all its tables for a stock report), judged against "
        "<code>quality.freshness_hours</code> at the time the page was written.</p>"
    )
    q = d.quarantine
    n_q = int(q["records"].sum() or 0) if q.height else 0
    cls = "bad" if n_q else "ok"
    out.append(f'<h3>Quarantined records: <span class="{cls}">{n_q:,}</span> not released</h3>')
    out.append(
        _table(
            ["channel", "stream", "reason", "records", "newest (UTC)"],
            (
                [
                    r["channel"],
                    r["stream"],
                    (r["reason"] or "")[:70],
                    _int(r["records"]),
                    _ts(r["newest"]),
                ]
                for r in q.iter_rows(named=True)
            ),
            numeric=(3,),
        )  # fmt: skip
    )
    if n_q:
        out.append('<p class="note">See them with <code>oms quarantine</code>.</p>')
    out.append("</div><div><h3>Last runs</h3>")
    rows = []
    for r in d.runs.iter_rows(named=True):
        st = r["status"]
        warn = st in ("running", "checks_failed", "partial", "interrupted")
        cls = "ok" if st == "success" else "warn" if warn else "bad"
        dur = ""
        if isinstance(r["started_at"], datetime) and isinstance(r["finished_at"], datetime):
            dur = f"{(r['finished_at'] - r['started_at']).total_seconds() / 60:.1f}"
        rows.append(
            [r["flow"], _Html(f'<span class="{cls}">{_e(st)}</span>'), _ts(r["started_at"]), dur,
             _int(r["rows_landed"]), _int(r["rows_quarantined"]), (r["message"] or "")[:60]]
        )  # fmt: skip
    out.append(
        _table(
            ["flow", "outcome", "started (UTC)", "minutes", "landed", "quarantined", "message"],
            rows,
            numeric=(3, 4, 5),
        )
    )
    out.append("</div></div></section>")
    return "".join(out)


def render_dashboard(d: DashboardData) -> str:
    """The whole page (see the module docstring)."""
    as_of = d.as_of.isoformat() if d.as_of else "no orders yet"
    nav = "".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in (
            ("sales", "Sales"),
            ("trend", "Over time"),
            ("stock", "Stock"),
            ("fulfilment", "Fulfilment"),
            ("purchase-orders", "Purchase orders"),
            ("bestsellers", "Bestsellers"),
            ("customers", "Customers"),
            ("health", "Data health"),
        )
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Operations dashboard · data to {_e(as_of)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<header><h1>Operations dashboard</h1>",
        f"<p>Data to <b>{_e(as_of)}</b> (the last day with orders) · money in "
        f"<b>{_e(d.currency)}</b> · written {_e(_ts(d.generated_at))} UTC</p>",
        f"<p>{_health_banner(d)}</p>",
        f"<nav>{nav}</nav></header><main>",
        _sales_section(d),
        _trend_section(d),
        _stock_section(d),
        _fulfilment_section(d),
        _po_section(d),
        _bestsellers_section(d),
        _customers_section(d),
        _health_section(d),
        "</main><footer>",
        f"<p>From the warehouse {_e(d.warehouse)}.</p>" if d.warehouse else "",
        "<p>Periods end on the last day with orders, not today. Net sales = gross sales − "
        "discounts − refunds, without shipping and the tax a channel charges on top; sales dated "
        "by order date, refunds by refund date (marts.sales_daily). Orders: placed in the period, "
        "not cancelled, with units (till return receipts are not orders); AOV = (gross sales − "
        "discounts) / orders (marts.orders). Return rate = units refunded / units sold in the "
        "period. Gross margin % is over the net sales whose cost is known.</p>",
        *(f"<p>{_e(n)}</p>" for n in d.notes),
        "</footer></body></html>",
    ]
    return "\n".join(out) + "\n"
