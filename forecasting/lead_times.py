"""Lead times measured from receipts, used in place of the terms file's where enough back them.

A supplier's terms give a typed-in lead time and spread (`lead_time_days`,
`lead_time_std_days`); ``marts.supplier_performance`` measures both from the receipts of past
purchase orders (order date to receipt date, weighted by units received). A measure resting on a
handful of receipts is noise, so a supplier x SKU's measured mean and standard deviation replace
its terms only from ``settings.min_receipts_for_measured_lead_time`` receipts on; below that the
terms stand. Each terms row says which it carries (``lead_time_source``: ``measured`` or
``terms``) and, in words, why (``lead_time_note``); plan_replenishment copies both onto every
purchase line (the column and the line's reason).

The measured mean is rounded to whole days (the planner counts the protection interval in days,
as it does the terms' whole-day lead times); the spread is kept as measured. The supplier-wide
rows of the mart (grain ``supplier``) are not used: one SKU's lead time does not tell another's
when they come from different factories.

Pure: polars frames in, polars frames out.
"""

from __future__ import annotations

import polars as pl

from forecasting.settings import ReplenishmentSettings

MEASURED = "measured"
TERMS = "terms"
LEAD_TIME_SOURCES: tuple[str, ...] = (MEASURED, TERMS)

# The columns of marts.supplier_performance this module reads.
PERFORMANCE_COLUMNS: list[str] = [
    "supplier_id",
    "sku",
    "receipts",
    "lead_time_mean_days",
    "lead_time_std_days",
]


def apply_measured_lead_times(
    supplier_terms: pl.DataFrame,
    supplier_performance: pl.DataFrame | None,
    settings: ReplenishmentSettings,
) -> pl.DataFrame:
    """``supplier_terms`` with the measured lead time where enough receipts back it.

    ``supplier_performance``: ``marts.supplier_performance`` (its ``supplier_sku`` rows are
    used; ``supplier_id, sku, receipts, lead_time_mean_days, lead_time_std_days``). Rows with at
    least ``settings.min_receipts_for_measured_lead_time`` receipts and a measured mean get
    ``lead_time_days`` = the mean rounded to whole days and ``lead_time_std_days`` = the
    measured std (0 when not measurable), ``lead_time_source`` = ``measured``; the others keep
    their terms, ``lead_time_source`` = ``terms``. ``terms_lead_time_days`` keeps the typed-in
    value and ``lead_time_receipts`` the receipts counted; ``lead_time_note`` says it in words
    for the line's reason. A terms row without a lead time stays without one (the planner
    reports it as needing attention): a measure does not make up for missing terms.
    """
    need = settings.min_receipts_for_measured_lead_time
    if supplier_performance is None or supplier_performance.height == 0:
        perf = pl.DataFrame(
            schema={
                "supplier_id": pl.String,
                "sku": pl.String,
                "receipts": pl.Int64,
                "lead_time_mean_days": pl.Float64,
                "lead_time_std_days": pl.Float64,
            }
        )
    else:
        perf = supplier_performance
        if "grain" in perf.columns:
            perf = perf.filter(pl.col("grain") == "supplier_sku")
        perf = perf.select(PERFORMANCE_COLUMNS)
    perf = perf.select(
        pl.col("supplier_id").cast(pl.String),
        pl.col("sku").cast(pl.String),
        m_receipts=pl.col("receipts").cast(pl.Int64).fill_null(0),
        m_mean=pl.col("lead_time_mean_days").cast(pl.Float64),
        m_std=pl.col("lead_time_std_days").cast(pl.Float64),
    )
    terms_lt = pl.col("lead_time_days").cast(pl.Int64)
    out = (
        supplier_terms.join(perf, on=["supplier_id", "sku"], how="left")
        .with_columns(pl.col("m_receipts").fill_null(0))
        .with_columns(
            use=(pl.col("m_receipts") >= need)
            & pl.col("m_mean").is_not_null()
            & pl.col("lead_time_days").is_not_null()
        )
        .with_columns(
            terms_lead_time_days=terms_lt,
            lead_time_receipts=pl.col("m_receipts"),
            lead_time_source=pl.when(pl.col("use")).then(pl.lit(MEASURED)).otherwise(pl.lit(TERMS)),
            lead_time_days=pl.when(pl.col("use"))
            # half up, like a buyer would round 12.5 days
            .then((pl.col("m_mean") + 0.5).floor().cast(pl.Int64))
            .otherwise(terms_lt),
            lead_time_std_days=pl.when(pl.col("use"))
            .then(pl.col("m_std").fill_null(0.0))
            .otherwise(pl.col("lead_time_std_days").cast(pl.Float64)),
        )
        .with_columns(lead_time_note=_note(need))
        .drop("m_receipts", "m_mean", "m_std", "use")
    )
    return out


def _note(need: int) -> pl.Expr:
    """The lead time's origin, in the words of a purchase line's reason."""
    measured = pl.format(
        "lead time {} days measured from {} receipts (sd {} days; terms say {})",
        "lead_time_days",
        "lead_time_receipts",
        pl.col("lead_time_std_days").round(1),
        "terms_lead_time_days",
    )
    terms = pl.format(
        "lead time {} days from the supplier's terms ({} receipts, {} needed to measure it)",
        "lead_time_days",
        "lead_time_receipts",
        pl.lit(need),
    )
    return pl.when(pl.col("lead_time_source") == MEASURED).then(measured).otherwise(terms)


__all__ = [
    "LEAD_TIME_SOURCES",
    "MEASURED",
    "PERFORMANCE_COLUMNS",
    "TERMS",
    "apply_measured_lead_times",
]
