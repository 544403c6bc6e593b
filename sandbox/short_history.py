"""A sandbox store shaped like the real retailer of issue 15: a short history, no categories.

About a year of weekly demand in all (so 39-44 weeks before a 13- or 8-week holdout), many
launches during it, and the year-end ramp (the sandbox's Q4 peak, early December) inside the
holdout; the benchmark forecasts it *without* product categories, as the real store had none.
Nothing here changes the other presets: it is the sandbox's own generator with this scale.
"""

from __future__ import annotations

import datetime as dt

from sandbox.catalog import Scale
from sandbox.store import Store, generate_store

SHORT_HISTORY = Scale(
    "short_history",
    n_skus=600,
    n_customers=20_000,
    days=364,
    orders_per_day=220,
    launch_share=0.45,
    discontinued_share=0.05,
)
# A Sunday: 52 weeks from Monday 2025-01-06; the 13-week holdout starts 2025-10-06, the 8-week
# one 2025-11-10, both before the December peak.
END_DATE = dt.date(2026, 1, 4)


def generate_short_history_store(seed: int = 7, end_date: dt.date = END_DATE) -> Store:
    """The short-history store for ``seed`` (deterministic)."""
    return generate_store(seed=seed, scale=SHORT_HISTORY, end_date=end_date)
