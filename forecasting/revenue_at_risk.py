"""Revenue at risk per purchase line: what the store expects to lose if the line is not ordered.

Why: a buyer cutting a purchase plan to a budget needs to know which lines cost sales when
skipped, not only what they cost. Not ordered today, a line's next chance is the next review
(``review_period_days`` from now), whose order arrives after the lead time: the first receipt
possible without this line is on day ``L + R``. Until then the location sells from what it has
and what is already on order.

- ``units_at_risk``: the expected units short over days ``0 .. L + R - 1`` without the order, at
  the forecast mean. With the projected stock ``B_t`` (available + open-PO receipts up to day
  ``t`` - forecast demand up to ``t``, the ``stock_without_order`` of the plan's projection),
  sales lost when the shelf is empty (no backorders) add up to ``max(0, -min over t of B_t)``
  by day ``L + R - 1``: stock never goes below zero, so every unit ``B`` falls below its lowest
  point so far is a lost sale (a receipt after a stockout does not bring those sales back).
  Beyond the forecast horizon the horizon's average daily demand continues the projection.
  At the mean, not over the forecast's spread: a line kept for safety stock alone (no shortfall
  at the mean) shows 0.
- ``revenue_at_risk`` = ``units_at_risk`` x the unit price (:func:`unit_prices`: net revenue per
  unit ordered at the location over the last 90 days, else the SKU's over all locations, else
  its list price),
  in ``revenue_currency`` (the base currency of the marts), not the line's purchase currency.

docs/replenishment.md ("Revenue at risk") says the same for buyers.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from forecasting.schemas import MONEY, SERIES_KEYS

PRICE_DAYS = 90
_CENT4 = Decimal("0.0001")

PRICE_SCHEMA: dict[str, pl.DataType] = {
    "sku": pl.String(),
    "location_id": pl.String(),
    "unit_price": MONEY,
    "price_currency": pl.String(),
}
AT_RISK_COLUMNS = ["units_at_risk", "revenue_at_risk", "revenue_currency"]


def unit_prices(
    history: pl.DataFrame,
    run_date: date,
    currency: str = "EUR",
    days: int = PRICE_DAYS,
    list_prices: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``sku, location_id, unit_price, price_currency`` from sales history (``date, sku,
    location_id, units_ordered, revenue``; revenue in ``currency``).

    One row per pair that sold in the ``days`` days before ``run_date`` (its net revenue per
    unit ordered), and one per SKU with ``location_id`` null (its price over all locations): the
    price of a pair that did not sell there, e.g. a new location. A SKU without sales then takes
    its list price (``list_prices``: ``sku, list_price`` in ``currency``, e.g.
    ``marts.products``), else it has no price.
    """
    listed = _list_price_rows(list_prices, currency)
    if history.height == 0 or "revenue" not in history.columns:
        return listed
    recent = history.filter(
        (pl.col("date") < run_date) & (pl.col("date") >= run_date - timedelta(days=days))
    ).select(
        *SERIES_KEYS,
        units=pl.col("units_ordered").cast(pl.Int64).fill_null(0),
        revenue=pl.col("revenue").cast(pl.String).str.strip_chars().fill_null("0"),
    )
    by_pair = recent.group_by(SERIES_KEYS).agg("units", "revenue")
    by_sku = (
        recent.group_by("sku")
        .agg("units", "revenue")
        .with_columns(location_id=pl.lit(None, dtype=pl.String))
    )
    rows = []
    for sku, location_id, units, revenue in pl.concat(
        [by_pair, by_sku.select(by_pair.columns)]
    ).iter_rows():
        # exact: the revenue is summed as decimals, the price rounded to 4 places, as money
        n = sum(units)
        if n > 0:
            price = sum((Decimal(r) for r in revenue), Decimal(0)) / n
            rows.append((sku, location_id, price.quantize(_CENT4, ROUND_HALF_UP), currency))
    sold = pl.DataFrame(rows, schema=PRICE_SCHEMA, orient="row")
    unsold = listed.join(sold.filter(pl.col("location_id").is_null()), on="sku", how="anti")
    return pl.concat([sold, unsold]).sort(SERIES_KEYS, nulls_last=True)


def _list_price_rows(list_prices: pl.DataFrame | None, currency: str) -> pl.DataFrame:
    """SKU-wide price rows (``location_id`` null) from ``sku, list_price``."""
    if list_prices is None or list_prices.height == 0:
        return pl.DataFrame(schema=PRICE_SCHEMA)
    rows = [
        (sku, None, Decimal(str(price)).quantize(_CENT4, ROUND_HALF_UP), currency)
        for sku, price in list_prices.select("sku", "list_price").iter_rows()
        if sku is not None and price is not None and Decimal(str(price)) > 0
    ]
    return pl.DataFrame(rows, schema=PRICE_SCHEMA, orient="row")


def units_short(
    projection: pl.DataFrame, lines: pl.DataFrame, review_period_days: int
) -> pl.DataFrame:
    """``sku, location_id, units_at_risk`` per line (module docstring).

    ``projection``: the plan's daily projection of every series (``sku, location_id, day,
    demand_mean, stock_without_order``, day 0 = the run date); ``lines``: ``sku, location_id,
    lead_time_days``.
    """
    window = lines.select(
        *SERIES_KEYS, w=pl.col("lead_time_days").cast(pl.Int64) + review_period_days
    )
    days = projection.join(window, on=SERIES_KEYS, how="inner")
    inside = (
        days.filter(pl.col("day") < pl.col("w"))
        .group_by(SERIES_KEYS)
        .agg(low=pl.col("stock_without_order").min())
    )
    # beyond the horizon: the last projected day, less the horizon's average demand a day
    tail = (
        days.sort([*SERIES_KEYS, "day"])
        .group_by(SERIES_KEYS)
        .agg(
            last_day=pl.col("day").last(),
            last_stock=pl.col("stock_without_order").last(),
            d_avg=pl.col("demand_mean").mean(),
            w=pl.col("w").first(),
        )
        .with_columns(
            beyond=pl.when(pl.col("w") - 1 > pl.col("last_day")).then(
                pl.col("last_stock") - pl.col("d_avg") * (pl.col("w") - 1 - pl.col("last_day"))
            )
        )
    )
    return (
        window.join(inside, on=SERIES_KEYS, how="left")
        .join(tail.select(*SERIES_KEYS, "beyond"), on=SERIES_KEYS, how="left")
        .select(
            *SERIES_KEYS,
            units_at_risk=(-pl.min_horizontal("low", "beyond"))
            .fill_null(0.0)
            .clip(lower_bound=0.0)
            .round(2),
        )
    )


def with_revenue_at_risk(
    po: pl.DataFrame,
    projection: pl.DataFrame,
    prices: pl.DataFrame,
    review_period_days: int,
) -> pl.DataFrame:
    """``po`` (the plan's purchase lines) with ``units_at_risk``, ``revenue_at_risk`` and
    ``revenue_currency`` filled in, in the same column order. Lines without a price get the units
    and a null revenue."""
    order = po.columns
    prices = prices.select(list(PRICE_SCHEMA))
    pair_prices = prices.filter(pl.col("location_id").is_not_null())
    sku_prices = prices.filter(pl.col("location_id").is_null()).select(
        "sku", sku_unit_price="unit_price", sku_price_currency="price_currency"
    )
    short = units_short(projection, po.select(*SERIES_KEYS, "lead_time_days"), review_period_days)
    priced = (
        po.drop([c for c in AT_RISK_COLUMNS if c in po.columns])
        .join(short, on=SERIES_KEYS, how="left")
        .join(pair_prices, on=SERIES_KEYS, how="left")
        .join(sku_prices, on="sku", how="left")
        .with_columns(
            pl.col("units_at_risk").fill_null(0.0),
            unit_price=pl.coalesce("unit_price", "sku_unit_price"),
            price_currency=pl.coalesce("price_currency", "sku_price_currency"),
        )
    )
    revenue = [
        None if price is None else (Decimal(repr(units)) * price).quantize(_CENT4, ROUND_HALF_UP)
        for units, price in priced.select("units_at_risk", "unit_price").iter_rows()
    ]
    return priced.with_columns(
        revenue_at_risk=pl.Series(revenue, dtype=MONEY),
        revenue_currency=pl.col("price_currency"),
    ).select(order)
