"""The sandbox's receipts against its purchase orders: late and partial deliveries.

The store's simulation (`sandbox/simulate.py`) receives each purchase order line once, on its
arrival day, after a lead time drawn from the supplier's N(L, sigma_L): lines arrive early and
late against their `expected_at` (the nominal lead time), and 4% are short (status `partial`,
80% of the units). The receipts file adds what an ERP's receipts export shows: a quarter of the
lines that arrived come in two or three deliveries, the first on the arrival day with 50-90% of
the units, the rest 2-10 days apart after it. The stock truth keeps every unit on the arrival
day, so a split line's later units are in stock a few days before its receipts say; no mart
reads stock from receipts, and the lead times measured from them are what this file is for.

The draws come from their own generator (the store's seed plus `RNG_STREAM`), so adding them
moves none of the store's other draws.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

# Own random stream: np.random.default_rng([seed, RNG_STREAM]).
RNG_STREAM = 17_0417
SPLIT_SHARE = 0.25  # lines that arrive in more than one delivery
RECEIPT_COLUMNS: list[str] = [
    "po_id",
    "sku",
    "location_id",
    "received_at",
    "quantity_received",
]


def po_receipts(purchase_orders: pl.DataFrame, seed: int, last_day: dt.date) -> pl.DataFrame:
    """One row per delivery of the lines that arrived (`received`, `partial`) up to `last_day`.

    `purchase_orders`: the store's truth (`po_id, sku, location_id, quantity_received,
    received_at` as a date, `status`). Returns `po_id, sku, location_id, received_date,
    received_at` (ISO text, UTC), `quantity_received` (at least 1; a line's receipts add up to
    its `quantity_received` when all of them fall by `last_day`).
    """
    po = purchase_orders.filter(
        pl.col("status").is_in(["received", "partial"])
        & pl.col("received_at").is_not_null()
        & (pl.col("quantity_received") > 0)
    ).sort("po_id", "sku", "location_id")
    n = po.height
    rng = np.random.default_rng([seed, RNG_STREAM])
    # every draw is made for every line, so one line's draws never depend on another's
    split = rng.random(n) < SPLIT_SHARE
    three = rng.random(n) < 0.4
    first_share = rng.uniform(0.5, 0.9, n)
    gap2 = rng.integers(2, 11, n)
    gap3 = gap2 + rng.integers(2, 11, n)
    hours = rng.integers(7, 17, (n, 3))

    q = po["quantity_received"].to_numpy().astype(np.int64)
    k = np.minimum(np.where(split, np.where(three, 3, 2), 1), q)
    q1 = np.where(k == 1, q, np.clip(np.floor(q * first_share).astype(np.int64), 1, q - (k - 1)))
    rest = q - q1
    q2 = np.where(k == 3, (rest + 1) // 2, rest)
    q3 = rest - q2
    parts = [
        (np.ones(n, dtype=bool), q1, np.zeros(n, dtype=np.int64), hours[:, 0]),
        (k >= 2, q2, gap2, hours[:, 1]),
        (k == 3, q3, gap3, hours[:, 2]),
    ]
    frames = []
    for keep, qty, gap, hour in parts:
        frames.append(
            po.select("po_id", "sku", "location_id", "received_at")
            .with_columns(
                quantity_received=pl.Series(qty, dtype=pl.Int64),
                gap=pl.Series(gap, dtype=pl.Int64),
                hour=pl.Series(hour, dtype=pl.Int64),
                keep=pl.Series(keep, dtype=pl.Boolean),
            )
            .filter("keep")
        )
    return (
        pl.concat(frames)
        .with_columns(received_date=pl.col("received_at") + pl.duration(days=pl.col("gap")))
        .filter(pl.col("received_date") <= last_day)
        .with_columns(
            received_at=pl.format(
                "{}T{}:00:00Z", pl.col("received_date"), pl.col("hour").cast(pl.String).str.zfill(2)
            )
        )
        .select("po_id", "sku", "location_id", "received_date", "received_at", "quantity_received")
        .sort("po_id", "sku", "location_id", "received_at")
    )


__all__ = ["RECEIPT_COLUMNS", "RNG_STREAM", "po_receipts"]
