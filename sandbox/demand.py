"""True (unconstrained) demand per SKU x location x day, promotions and FX rates.

Demand is built as expected rate = base x weekly x yearly x trend x lifecycle x promo lift,
then sampled gamma-Poisson (overdispersed) so most series are intermittent. Arrays are
(days, n_series) with series = sku * 4 + location, vectorised over the whole history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from sandbox.catalog import (
    CATEGORIES,
    LOC_LON,
    Catalog,
    Scale,
)

# Weekly profile per location, Monday..Sunday (shop peaks on the weekend evenings,
# the Berlin store is busiest on Saturday and closed on Sunday).
WEEKLY = np.array(
    [
        [1.05, 0.95, 0.90, 0.90, 0.95, 1.15, 1.30],  # WH-AMS (shop)
        [1.10, 1.05, 1.00, 1.00, 0.95, 0.90, 1.00],  # WH-LON (shop GB + woo weekdays)
        [0.75, 0.85, 0.90, 1.00, 1.30, 1.80, 0.00],  # ST-BER (tills)
        [1.00, 0.95, 0.95, 0.95, 1.00, 1.05, 1.10],  # FBA-EU (amazon)
    ]
)
LOCATION_SHARE = np.array([0.40, 0.27, 0.13, 0.20])
WOO_SHARE_AT_LON = 0.4  # of WH-LON units, the rest is Shopify GB
WOO_CASE_SIZES = np.array([4, 6, 12])
PROMO_CODES = ("SPRING10", "SUMMER15", "BLACKFRIDAY20", "WINTER10", "FLASH15", "OUTDOOR20")


@dataclasses.dataclass
class Promotions:
    """Promo calendar: pct off per (day, sku) (0 = none) and the campaign code index."""

    pct: np.ndarray  # (days, n_skus) int percent
    code: np.ndarray  # (days, n_skus) int index into PROMO_CODES, -1 = none


@dataclasses.dataclass
class Demand:
    """Sampled true demand and the expected rate it was drawn from."""

    rate: np.ndarray  # (days, n_series) float32 expected units
    units: np.ndarray  # (days, n_series) int32 true demand (all channels)
    woo_units: np.ndarray  # (days, n_series) int32 of which woo (only WH-LON series)


def make_promotions(
    rng: np.random.Generator, cat: Catalog, start: dt.date, days: int
) -> Promotions:
    """A campaign every ~5-7 weeks (3-5 days), on a category or sitewide; Black Friday every year."""
    n = len(cat.skus)
    pct = np.zeros((days, n), dtype=np.int16)
    code = np.full((days, n), -1, dtype=np.int8)
    t = int(rng.integers(10, 40))
    while t < days:
        length = int(rng.integers(3, 6))
        ci = int(rng.choice([i for i, c in enumerate(PROMO_CODES) if c != "BLACKFRIDAY20"]))
        c = PROMO_CODES[ci]
        off = int(c[-2:])
        mask = np.ones(n, bool) if rng.random() < 0.4 else cat.category == rng.integers(0, 5)
        if c == "OUTDOOR20":
            mask = cat.category == CATEGORIES.index("outdoor")
        pct[t : t + length, mask] = off
        code[t : t + length, mask] = ci
        t += length + int(rng.integers(35, 50))
    # Black Friday (4th Friday of November) through Cyber Monday, sitewide.
    bf = PROMO_CODES.index("BLACKFRIDAY20")
    for year in range(start.year, start.year + days // 365 + 2):
        nov1 = dt.date(year, 11, 1)
        friday = nov1 + dt.timedelta(days=(4 - nov1.weekday()) % 7 + 21)
        d0 = (friday - start).days
        if 0 <= d0 < days:
            pct[d0 : d0 + 4, :] = 20
            code[d0 : d0 + 4, :] = bf
    return Promotions(pct, code)


def expected_rate(
    rng: np.random.Generator, cat: Catalog, scale: Scale, start: dt.date, promos: Promotions
) -> np.ndarray:
    """Expected units per day per series (float32, (days, n_skus*4))."""
    n, days = len(cat.skus), scale.days
    dates = np.array([start + dt.timedelta(days=i) for i in range(days)])
    dow = np.array([d.weekday() for d in dates])
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)

    # Popularity: heavy-tailed so a few SKUs carry most volume and the tail is intermittent.
    pop = rng.lognormal(0.0, 0.8, n)
    pop /= pop.sum()
    # Each location keeps its share of the volume, spread over the SKUs it carries.
    weight = pop[:, None] * rng.lognormal(0.0, 0.4, (n, 4)) * cat.carried
    weight /= np.maximum(weight.sum(axis=0, keepdims=True), 1e-9)
    # Average units per order ~1.9 across channels (multi-line orders, woo cases).
    total_units_per_day = scale.orders_per_day * 1.9
    base = (total_units_per_day * LOCATION_SHARE[None, :] * weight).reshape(-1)  # (n*4,)

    q4 = 1.0 + 0.7 * np.exp(-(((doy - 340.0) / 22.0) ** 2))
    summer = 1.0 + 0.8 * np.cos(2 * np.pi * (doy - 190.0) / 365.0)
    yearly_cat = np.where(
        (np.arange(5) == CATEGORIES.index("outdoor"))[None, :],
        np.clip(summer, 0.25, None)[:, None] * np.ones((1, 5)),
        q4[:, None] * np.ones((1, 5)),
    )  # (days, 5)
    yearly = yearly_cat[:, cat.category]  # (days, n)

    growth = rng.normal(0.05, 0.25, n)  # per year
    t_years = np.arange(days)[:, None] / 365.0
    trend = np.exp(growth[None, :] * t_years)

    age = np.arange(days)[:, None] - cat.launch_day[None, :]
    ramp = np.where(cat.launch_day[None, :] > 0, np.clip(0.3 + age / 30.0, 0.0, 1.0), 1.0)
    alive = (age >= 0) & (np.arange(days)[:, None] < cat.end_day[None, :])
    lift = 1.0 + promos.pct.astype(np.float64) / 20.0 * rng.uniform(0.5, 1.2, n)[None, :]

    per_sku = (yearly * trend * ramp * alive * lift).astype(np.float32)  # (days, n)
    weekly = WEEKLY[:, dow].T.astype(np.float32)  # (days, 4)
    rate = per_sku[:, :, None] * weekly[:, None, :] * base.reshape(n, 4)[None, :, :]
    return rate.reshape(days, n * 4).astype(np.float32)


def sample_demand(rng: np.random.Generator, rate: np.ndarray, n_skus: int) -> Demand:
    """Gamma-Poisson draws; WH-LON series get a separate lumpy woo (case-size) component."""
    days = rate.shape[0]
    r3 = rate.reshape(days, n_skus, 4)
    retail_rate = r3.copy()
    retail_rate[:, :, LOC_LON] *= 1.0 - WOO_SHARE_AT_LON
    shape = 1.5
    gam = rng.gamma(shape, 1.0 / shape, retail_rate.shape).astype(np.float32)
    retail = rng.poisson(retail_rate * gam).astype(np.int32)

    # Woo: B2B orders of whole cases, weekdays only (WEEKLY row LON already damps weekends).
    woo_rate = r3[:, :, LOC_LON] * WOO_SHARE_AT_LON
    size = rng.choice(WOO_CASE_SIZES, woo_rate.shape)
    events = rng.poisson(woo_rate / size.mean())
    woo = (events * size).astype(np.int32)
    retail[:, :, LOC_LON] += woo
    woo_full = np.zeros_like(retail)
    woo_full[:, :, LOC_LON] = woo
    return Demand(rate=rate, units=retail.reshape(days, -1), woo_units=woo_full.reshape(days, -1))


def make_fx(rng: np.random.Generator, start: dt.date, days: int) -> dict[str, np.ndarray]:
    """EUR per GBP / USD on every calendar day (smooth AR random walk) plus a business-day mask.

    The rate on non-business days is carried forward from the last business day, exactly as
    marts.fx_rates does, so conversions done here agree with what the marts can reproduce.
    """
    out: dict[str, np.ndarray] = {}
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    holiday = np.array([(d.month, d.day) in {(1, 1), (12, 25), (12, 26)} for d in dates])
    business = np.array([d.weekday() < 5 for d in dates]) & ~holiday
    business[0] = True  # so there is always a rate to carry forward
    for cur, level, vol in (("GBP", 1.16, 0.0035), ("USD", 0.92, 0.0045)):
        steps = rng.normal(0, vol, days)
        drift = np.zeros(days)
        for i in range(1, days):  # mean-reverting log walk: smooth, stays plausible
            drift[i] = 0.995 * drift[i - 1] + steps[i]
        rate = np.round(level * np.exp(drift), 4)
        idx = np.where(business, np.arange(days), 0)
        np.maximum.accumulate(idx, out=idx)
        out[cur] = rate[idx]
    out["business"] = business
    return out
