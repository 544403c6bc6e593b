"""A location pair with excess on one side: some SKUs overstocked at the London 3PL.

Why: the planner's transfers (forecasting/transfers.py) need what stores really have, stock
piling up in one warehouse while another runs short of the same item. The sandbox's own
(s, S) rule buys for each location on its own, so this adds a surplus consignment to WH-LON
for a share of the SKUs it carries with WH-AMS, booked in ``SURPLUS_DAYS`` before the end of
the history: a pallet over-delivered (the store's old rule keeps ordering as if it were not
there, which is the situation the transfers are for).

It draws from its own random stream (seeded from the store's seed plus a constant), and only
series that lost no sale over those days get a surplus, so adding stock changes no sale, no
order and no draw of the store's main stream: every other figure of the sandbox stays as it
was, and the truth stays consistent (sales = min(demand, available) still holds).
"""

from __future__ import annotations

import numpy as np

from sandbox.catalog import LOC_AMS, LOC_LON, Catalog
from sandbox.simulate import Simulation

SURPLUS_DAYS = 120
SURPLUS_SHARE = 0.2  # of the eligible SKUs
SURPLUS_COVER_DAYS = 180  # the consignment's size, in days of the SKU's London sales
_STREAM = 1717


def add_surplus(seed: int, cat: Catalog, sim: Simulation, demand: np.ndarray) -> np.ndarray:
    """Add the surplus to ``sim.on_hand`` and ``sim.available`` in place; returns the series
    indices that got one (series = sku * 4 + location)."""
    days, _ = demand.shape
    n_skus = len(cat.skus)
    if days <= SURPLUS_DAYS:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng([seed, n_skus, days, _STREAM])
    t0 = days - SURPLUS_DAYS
    lon = np.arange(n_skus) * 4 + LOC_LON
    eligible = (
        cat.carried[:, LOC_LON]
        & cat.carried[:, LOC_AMS]
        & (cat.launch_day < t0)
        & (cat.end_day >= days)
        & (sim.sold[t0:, lon] == demand[t0:, lon]).all(axis=0)
    )
    pick = np.nonzero(eligible & (rng.random(n_skus) < SURPLUS_SHARE))[0]
    series = lon[pick]
    if series.size == 0:
        return series
    daily = sim.sold[t0:, series].mean(axis=0)
    units = np.maximum(12, np.ceil(daily * SURPLUS_COVER_DAYS)).astype(np.int32)
    sim.on_hand[t0:, series] += units[None, :]
    sim.available[t0:, series] += units[None, :]
    return series
