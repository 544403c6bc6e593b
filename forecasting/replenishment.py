"""Reorder maths: turn a daily demand forecast and current stock into purchase-order suggestions.

Policy (``periodic_review_order_up_to``): every review period R the buyer looks at each SKU and
location; if its inventory position IP (on hand - committed + on order) is at or below the
reorder point s, order enough to bring it back up to the order-up-to level S.

- lead-time demand ``D(L)`` and ``D(L+R)``: forecast means summed over the next L (lead time)
  and L+R days; beyond the forecast horizon the horizon's average daily mean is assumed.
- safety stock ``SS = z(service level) * sqrt(L * sigma_d^2 + d^2 * sigma_L^2)`` where
  ``sigma_d`` per day is ``(p90 - p10) / 2.563`` (the p10-p90 width of a normal is 2.563 sigma),
  ``d`` is the mean daily demand over the lead time and ``sigma_L`` the lead-time std in days.
  ``L * sigma_d^2`` is computed as the sum of the daily variances over the lead time.
- ``s = ceil(D(L) + SS)``, ``S = ceil(D(L+R) + SS)``.
- quantity ``max(MOQ, S - IP)`` rounded up to the case pack, then capped so that the days of
  cover after receipt ``(IP + qty) / average daily forecast`` stay within ``max_days_of_cover``
  (rounded down to the case pack), but never below MOQ (rounded up to the case pack) nor one case.

Pure: polars frames in, polars frames out. Quantities are integers, money is Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist

import polars as pl

from forecasting.settings import ReplenishmentSettings

SERIES_KEYS: list[str] = ["sku", "location_id"]
POLICY = "periodic_review_order_up_to"
# p90 - p10 of a normal distribution is 2 * 1.2816 = 2.563 standard deviations.
P10_P90_SIGMAS = 2.563
# Float sums such as 0.1 + 0.2 must not push a whole-unit result to the next integer.
_EPS_DECIMALS = 6

REPLENISHMENT_COLUMNS: list[str] = [
    "run_date",
    "sku",
    "location_id",
    "policy",
    "lead_time_demand",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "inventory_position",
    "service_level",
]

PO_COLUMNS: list[str] = [
    "run_date",
    "supplier_id",
    "supplier_name",
    "location_id",
    "sku",
    "suggested_qty",
    "unit_cost",
    "currency",
    "line_value",
    "reason",
    "projected_stockout_date",
    "days_of_cover",
    "inventory_position",
    "reorder_point",
    "order_up_to",
    "approved_qty",
]

NEEDS_ATTENTION_COLUMNS: list[str] = ["sku", "location_id", "reason"]


@dataclass(frozen=True)
class ReplenishmentPlan:
    """The three outputs of one planning run, written to ``planning.*`` and the buyer files."""

    replenishment: pl.DataFrame
    po_suggestions: pl.DataFrame
    needs_attention: pl.DataFrame


def _as_decimal(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    # Money must stay exact: anything not already Decimal goes through its text form, so a float
    # 1.1 becomes Decimal("1.1") rather than 1.100000000000000088817841970012523.
    if isinstance(dtype, pl.Decimal):
        return expr
    return expr.cast(pl.String).str.strip_chars().cast(pl.Decimal(38, 4))


def choose_supplier_terms(supplier_terms: pl.DataFrame) -> pl.DataFrame:
    """One usable supplier per SKU: the shortest lead time, then the lowest supplier_id.

    Why: the planner needs a single lead time per SKU; costs in different currencies are not
    comparable without FX, so lead time is the deterministic, currency-free choice. Terms with no
    lead time are unusable and are reported by :func:`plan_replenishment` as needing attention.
    """
    cost_dtype = supplier_terms.schema["unit_cost"]
    return (
        supplier_terms.filter(pl.col("lead_time_days").is_not_null())
        .with_columns(
            unit_cost=_as_decimal(pl.col("unit_cost"), cost_dtype),
            lead_time_days=pl.col("lead_time_days").cast(pl.Int64).clip(lower_bound=0),
            lead_time_std_days=pl.col("lead_time_std_days")
            .cast(pl.Float64)
            .fill_null(0.0)
            .clip(lower_bound=0.0),
            moq=pl.col("moq").cast(pl.Int64).fill_null(0).clip(lower_bound=0),
            case_pack=pl.when(pl.col("case_pack").cast(pl.Int64) >= 1)
            .then(pl.col("case_pack").cast(pl.Int64))
            .otherwise(1),
        )
        .sort(["sku", "lead_time_days", "supplier_id"], nulls_last=True)
        .unique(subset=["sku"], keep="first", maintain_order=True)
    )


def _prepare_forecast(forecast: pl.DataFrame, run_date: date, horizon_days: int) -> pl.DataFrame:
    fc = forecast.filter(
        (pl.col("period_start") >= run_date)
        & (pl.col("period_start") < run_date + timedelta(days=horizon_days))
    )
    dupes = fc.select([*SERIES_KEYS, "period_start"]).is_duplicated()
    if dupes.any():
        raise ValueError(
            "forecast has more than one row per sku, location_id and period_start; "
            "pass one model per series (the `chosen` one from forecast_accuracy)"
        )
    return fc.select(
        *SERIES_KEYS,
        "period_start",
        day=(pl.col("period_start") - pl.lit(run_date)).dt.total_days(),
        mean=pl.col("mean").cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0),
        var=(
            ((pl.col("p90") - pl.col("p10")).cast(pl.Float64).fill_null(0.0) / P10_P90_SIGMAS)
            .clip(lower_bound=0.0)
            .pow(2)
        ),
    )


def _prepare_inventory(inventory_levels: pl.DataFrame) -> pl.DataFrame:
    cols = ["on_hand", "committed", "available", "on_order", "inventory_position"]
    return (
        inventory_levels.group_by(SERIES_KEYS)
        .agg([pl.col(c).cast(pl.Int64).sum() for c in cols])
        .with_columns(has_inventory=pl.lit(True))
    )


def _service_levels(
    series: pl.DataFrame, abc_class: pl.DataFrame | None, settings: ReplenishmentSettings
) -> pl.DataFrame:
    """Attach ``service_level`` and its normal quantile ``z`` to each series."""
    if abc_class is not None and "abc_class" in abc_class.columns:
        classes = abc_class.select("sku", pl.col("abc_class").cast(pl.String)).unique(
            subset=["sku"], keep="first", maintain_order=True
        )
        out = series.join(classes, on="sku", how="left")
    else:
        out = series.with_columns(abc_class=pl.lit(None, dtype=pl.String))
    mapping = {k: float(v) for k, v in settings.service_level_by_abc.items()}
    out = out.with_columns(
        service_level=pl.col("abc_class").replace_strict(
            mapping, default=float(settings.default_service_level), return_dtype=pl.Float64
        )
    )
    levels = out["service_level"].unique().to_list()
    z_of = {lvl: NormalDist().inv_cdf(lvl) for lvl in levels}
    return out.with_columns(
        z=pl.col("service_level").replace_strict(z_of, return_dtype=pl.Float64)
    ).drop("abc_class")


def _ceil_int(expr: pl.Expr) -> pl.Expr:
    return expr.round(_EPS_DECIMALS).ceil().cast(pl.Int64)


def _round_up_to(qty: pl.Expr, pack: pl.Expr) -> pl.Expr:
    return ((qty + pack - 1) // pack) * pack


def plan_replenishment(
    forecast: pl.DataFrame,
    inventory_levels: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    settings: ReplenishmentSettings,
    run_date: date,
    abc_class: pl.DataFrame | None = None,
) -> ReplenishmentPlan:
    """Compute reorder levels for every forecast series and suggest purchase-order lines.

    ``forecast`` is ``planning.demand_forecast`` for this run with one model per series; only
    days in ``[run_date, run_date + settings.horizon_days)`` are used. ``abc_class``
    (``sku, abc_class``, e.g. from ``marts.products``) picks the service level; without it every
    SKU gets the default.

    Returns the ``replenishment`` rows (series with a forecast and supplier terms), the
    ``po_suggestions`` lines (sorted by supplier, location, SKU; ``approved_qty`` null for the
    buyer) and ``needs_attention`` rows for what the planner could not handle.
    """
    review = settings.review_period_days
    fc = _prepare_forecast(forecast, run_date, settings.horizon_days)
    terms = choose_supplier_terms(supplier_terms)
    inv = _prepare_inventory(inventory_levels)

    stats = (
        fc.join(terms.select("sku", "lead_time_days", "lead_time_std_days"), on="sku", how="inner")
        .group_by(SERIES_KEYS)
        .agg(
            lead_time=pl.col("lead_time_days").first(),
            lead_time_std=pl.col("lead_time_std_days").first(),
            n_h=pl.len(),
            d_avg=pl.col("mean").mean(),
            var_avg=pl.col("var").mean(),
            d_l=pl.col("mean").filter(pl.col("day") < pl.col("lead_time_days")).sum(),
            var_l=pl.col("var").filter(pl.col("day") < pl.col("lead_time_days")).sum(),
            n_l=(pl.col("day") < pl.col("lead_time_days")).sum(),
            d_lr=pl.col("mean").filter(pl.col("day") < pl.col("lead_time_days") + review).sum(),
            n_lr=(pl.col("day") < pl.col("lead_time_days") + review).sum(),
        )
        .with_columns(
            # Beyond the forecast horizon, assume the horizon's average day.
            gap_l=(pl.col("lead_time") - pl.col("n_l")).clip(lower_bound=0),
            gap_lr=(pl.col("lead_time") + review - pl.col("n_lr")).clip(lower_bound=0),
        )
        .with_columns(
            d_l=pl.col("d_l") + pl.col("d_avg") * pl.col("gap_l"),
            var_l=pl.col("var_l") + pl.col("var_avg") * pl.col("gap_l"),
            d_lr=pl.col("d_lr") + pl.col("d_avg") * pl.col("gap_lr"),
        )
        .with_columns(
            d_daily_l=pl.when(pl.col("lead_time") > 0)
            .then(pl.col("d_l") / pl.col("lead_time"))
            .otherwise(pl.col("d_avg"))
        )
    )
    stats = _service_levels(stats, abc_class, settings).with_columns(
        ss_raw=pl.col("z").clip(lower_bound=0.0)
        * (pl.col("var_l") + pl.col("d_daily_l").pow(2) * pl.col("lead_time_std").pow(2)).sqrt()
    )
    rep = (
        stats.with_columns(
            safety_stock=_ceil_int(pl.col("ss_raw")),
            reorder_point=_ceil_int(pl.col("d_l") + pl.col("ss_raw")),
            order_up_to=_ceil_int(pl.col("d_lr") + pl.col("ss_raw")),
            lead_time_demand=pl.col("d_lr").round(3),
        )
        .join(inv, on=SERIES_KEYS, how="left")
        .with_columns(
            [
                pl.col(c).fill_null(0)
                for c in ["on_hand", "committed", "available", "on_order", "inventory_position"]
            ]
        )
    )
    replenishment = (
        rep.with_columns(run_date=pl.lit(run_date), policy=pl.lit(POLICY))
        .select(REPLENISHMENT_COLUMNS)
        .sort(SERIES_KEYS)
    )

    po = _po_lines(rep, fc, terms, settings, run_date)
    needs = _needs_attention(fc, inv, supplier_terms, terms)
    return ReplenishmentPlan(replenishment=replenishment, po_suggestions=po, needs_attention=needs)


def _projected_stockouts(fc: pl.DataFrame, rep: pl.DataFrame) -> pl.DataFrame:
    """First forecast day on which cumulative expected demand exceeds available stock."""
    return (
        fc.sort([*SERIES_KEYS, "period_start"])
        .with_columns(cum=pl.col("mean").cum_sum().over(SERIES_KEYS))
        .join(rep.select(*SERIES_KEYS, "available"), on=SERIES_KEYS, how="inner")
        .filter(pl.col("cum").round(_EPS_DECIMALS) > pl.col("available"))
        .group_by(SERIES_KEYS)
        .agg(projected_stockout_date=pl.col("period_start").min())
    )


def _po_lines(
    rep: pl.DataFrame,
    fc: pl.DataFrame,
    terms: pl.DataFrame,
    settings: ReplenishmentSettings,
    run_date: date,
) -> pl.DataFrame:
    max_cover = settings.max_days_of_cover
    lines = (
        rep.filter(
            (pl.col("inventory_position") <= pl.col("reorder_point"))
            & (pl.col("order_up_to") > pl.col("inventory_position"))
        )
        .join(terms, on="sku", how="inner")
        .join(_projected_stockouts(fc, rep), on=SERIES_KEYS, how="left")
        .with_columns(need=pl.col("order_up_to") - pl.col("inventory_position"))
        .with_columns(base=pl.max_horizontal("need", "moq"))
        .with_columns(
            rounded=_round_up_to(pl.col("base"), pl.col("case_pack")),
            min_qty=pl.max_horizontal(
                _round_up_to(pl.col("moq"), pl.col("case_pack")), pl.col("case_pack")
            ),
            # Largest case multiple keeping (IP + qty) / daily demand <= max_days_of_cover.
            cap=pl.when(pl.col("d_avg") > 0).then(
                (
                    ((max_cover * pl.col("d_avg")).round(_EPS_DECIMALS).floor().cast(pl.Int64))
                    - pl.col("inventory_position")
                )
                // pl.col("case_pack")
                * pl.col("case_pack")
            ),
        )
        .with_columns(
            suggested_qty=pl.when(pl.col("cap").is_not_null())
            .then(pl.max_horizontal(pl.min_horizontal("rounded", "cap"), "min_qty"))
            .otherwise(pl.col("rounded"))
            .cast(pl.Int64),
            days_of_cover=pl.when(pl.col("d_avg") > 0).then(
                (pl.col("inventory_position") / pl.col("d_avg")).round(1)
            ),
        )
        .with_columns(
            line_value=pl.col("suggested_qty").cast(pl.Decimal(38, 0)) * pl.col("unit_cost"),
            reason=_reason(max_cover),
            run_date=pl.lit(run_date),
            approved_qty=pl.lit(None, dtype=pl.Int64),
        )
    )
    return lines.select(PO_COLUMNS).sort(["supplier_id", "location_id", "sku"])


def _reason(max_cover: int) -> pl.Expr:
    """Plain words a buyer can check: why the line exists and why the quantity is what it is."""
    main = pl.format(
        "below reorder point: position {} <= {} ({} on hand, {} committed, {} on order)",
        "inventory_position",
        "reorder_point",
        "on_hand",
        "committed",
        "on_order",
    )
    stockout = (
        pl.when(pl.col("projected_stockout_date").is_not_null())
        .then(pl.format("projected stockout {}", pl.col("projected_stockout_date")))
        .otherwise(pl.format("no stockout projected within {} days", pl.col("n_h")))
    )
    cover = pl.when(pl.col("days_of_cover").is_not_null()).then(
        pl.format("{} days of cover", pl.col("days_of_cover"))
    )
    moq = pl.when(pl.col("moq") > pl.col("need")).then(
        pl.format("need {} raised to MOQ {}", pl.col("need"), pl.col("moq"))
    )
    pack = pl.when(
        (pl.col("rounded") != pl.col("base")) & (pl.col("suggested_qty") == pl.col("rounded"))
    ).then(pl.format("rounded up to case pack of {}", pl.col("case_pack")))
    capped = pl.when(pl.col("suggested_qty") < pl.col("rounded")).then(
        pl.format(
            "capped from {} to stay within {} days of cover", pl.col("rounded"), pl.lit(max_cover)
        )
    )
    return pl.concat_str(
        [main, stockout, cover, moq, pack, capped], separator="; ", ignore_nulls=True
    )


def _needs_attention(
    fc: pl.DataFrame,
    inv: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    terms: pl.DataFrame,
) -> pl.DataFrame:
    """Series the planner could not plan (or should not be trusted on), with the reason why."""
    fc_series = fc.select(SERIES_KEYS).unique().with_columns(has_forecast=pl.lit(True))
    universe = fc_series.join(inv, on=SERIES_KEYS, how="full", coalesce=True).with_columns(
        pl.col("has_forecast").fill_null(False), pl.col("has_inventory").fill_null(False)
    )
    any_terms = supplier_terms.select("sku").unique().with_columns(has_any_terms=pl.lit(True))
    usable = terms.select("sku").with_columns(has_terms=pl.lit(True))
    u = (
        universe.join(any_terms, on="sku", how="left")
        .join(usable, on="sku", how="left")
        .with_columns(
            pl.col("has_any_terms").fill_null(False), pl.col("has_terms").fill_null(False)
        )
    )
    reasons = [
        u.filter(~pl.col("has_any_terms")).with_columns(
            reason=pl.lit("no supplier terms for this SKU: no purchase order can be suggested")
        ),
        u.filter(pl.col("has_any_terms") & ~pl.col("has_terms")).with_columns(
            reason=pl.lit(
                "supplier terms have no lead_time_days: no purchase order can be suggested"
            )
        ),
        u.filter(~pl.col("has_forecast")).with_columns(
            reason=pl.lit("no demand history: no forecast, so no reorder point")
        ),
        u.filter(pl.col("has_forecast") & ~pl.col("has_inventory")).with_columns(
            reason=pl.lit("no inventory record: stock assumed to be zero")
        ),
        u.filter(pl.col("on_hand") < 0).with_columns(
            reason=pl.format(
                "negative stock: {} on hand; count the stock before ordering", pl.col("on_hand")
            )
        ),
    ]
    return (
        pl.concat([r.select(NEEDS_ATTENTION_COLUMNS) for r in reasons])
        .unique()
        .sort(NEEDS_ATTENTION_COLUMNS)
    )
