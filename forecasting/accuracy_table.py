"""The forecast accuracy table a merchant reads: ours beside the plain baselines.

:func:`accuracy_markdown` renders :func:`forecasting.engine.accuracy_summary` (rolling-origin
backtest of the run) as markdown, written beside the buyer files as ``forecast_accuracy.md``.
Every scope (overall, then each demand class) lists ours, naive, a 4-period moving average and
seasonal naive with mean and median MASE and WAPE; seasonal naive only where a series has a
season of history, and a line says so when none has (a store with less than a year of history:
nothing seasonal has been seen yet, so no forecast can have learnt its season from the series).
"""

from __future__ import annotations

import polars as pl

from forecasting.engine import accuracy_summary

_LABEL = {
    "chosen": "ours (chosen per series)",
    "naive": "naive (last period)",
    "moving_average_4": "moving average, 4 periods",
    "seasonal_naive": "seasonal naive (a season ago)",
}


def _num(value: object, pct: bool = False) -> str:
    if value is None or not isinstance(value, int | float):
        return "n/a"
    return f"{100 * value:.1f}%" if pct else f"{value:.3f}"


def accuracy_markdown(
    accuracy: pl.DataFrame,
    title: str = "Forecast accuracy",
    adjustments: pl.DataFrame | None = None,
) -> str:
    """Markdown table of the backtest accuracy by scope and model set (see module doc), and
    the value promotions and overrides added to past forecasts (``adjustments``, from
    :func:`forecasting.adjustments.adjustment_accuracy`)."""
    out = [f"# {title}", ""]
    if accuracy.height == 0:
        return "\n".join([*out, "No series were forecast.", "", *adjustments_markdown(adjustments)])
    summary = accuracy_summary(accuracy)
    sn = summary.filter((pl.col("scope") == "overall") & (pl.col("model_set") == "seasonal_naive"))
    if sn.height and sn["series"].item() == 0:
        out += [
            "**No series has a year of history**: seasonal naive is not available, and no "
            "model could learn a season from the series themselves (young series take their "
            "parent's seasonal shape only where the parent has a year of history).",
            "",
        ]
    out += [
        "Rolling-origin backtest of this run; MASE: mean absolute error over the mean "
        "absolute one-period change of the history (lower is better; mean and median over "
        "series); WAPE: sum of absolute errors over sum of demand.",
        "",
        "| Scope | Model | Series | MASE mean | MASE median | WAPE | p10-p90 coverage | Note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    scopes = ["overall", *sorted(s for s in summary["scope"].unique() if s != "overall")]
    for scope in scopes:
        for r in summary.filter(pl.col("scope") == scope).iter_rows(named=True):
            cov = _num(r["coverage_p10_p90"], pct=True) if r["model_set"] == "chosen" else ""
            out.append(
                f"| {scope} | {_LABEL.get(r['model_set'], r['model_set'])} | {r['series']} | "
                f"{_num(r['mase_mean'])} | {_num(r['mase_median'])} | "
                f"{_num(r['wape'], pct=True)} | {cov} | {r['note'] or ''} |"
            )
    out += adjustments_markdown(adjustments)
    return "\n".join(out) + "\n"


_ADJUSTED = {"promotion": "promotions", "override": "overrides"}


def adjustments_markdown(adjustments: pl.DataFrame | None) -> list[str]:
    """Lines of the section on promotions and overrides: error with and without them, on the
    forecast weeks they touched that have passed (nothing while there are none)."""
    if adjustments is None or adjustments.height == 0:
        return []
    out = [
        "",
        "## Promotions and overrides: the value they added",
        "",
        "Past forecast weeks a promotion or an override changed, judged against what sold "
        "(weeks without a stockout day; the forecast of the last run before each week): WAPE "
        "with the adjustment and with the model's own number; value added = the WAPE points "
        "the adjustment saved (negative: it made the forecast worse).",
        "",
        "| Adjustment | Weeks | Series | Demand | Forecast | Model's own | WAPE | WAPE without | Value added |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in adjustments.iter_rows(named=True):
        out.append(
            f"| {_ADJUSTED.get(r['adjustment'], r['adjustment'])} | {r['periods']} | "
            f"{r['series']} | {r['actual']:,.0f} | {r['forecast_adjusted']:,.0f} | "
            f"{r['forecast_unadjusted']:,.0f} | {_num(r['wape_adjusted'], pct=True)} | "
            f"{_num(r['wape_unadjusted'], pct=True)} | {_num(r['value_added'], pct=True)} |"
        )
    return out
