"""The sandbox's promotions as the merchant's promotion calendar file (docs/channels.md).

The campaigns of `sandbox.demand.make_promotions` (a category or sitewide, 3-5 days every 5-7
weeks, Black Friday to Cyber Monday every year) lift the sandbox's demand; a merchant who runs
them keeps a calendar of them, and this module writes it: one row per campaign run and target
(a category or `all`), every location, no uplift (the forecast measures it on the campaigns
that have passed), and the next Black Friday after the store's last day (it runs every year,
so the merchant has it planned). Derived from the `Promotions` arrays and the calendar only:
no random draws.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from sandbox.catalog import CATEGORIES, Catalog
from sandbox.demand import PROMO_CODES, Promotions

CALENDAR_COLUMNS = (
    "promotion_id",
    "sku",
    "category",
    "location_id",
    "start",
    "end",
    "uplift",
    "units",
    "status",
    "description",
)


def _targets(code_row: np.ndarray, pct_row: np.ndarray, cat: Catalog) -> list[tuple[int, str, int]]:
    """(code, target, pct) of one day: `all` when a code covers every SKU, else its categories
    (a campaign is on whole categories), else its SKUs."""
    out: list[tuple[int, str, int]] = []
    for code in sorted({int(c) for c in code_row if c >= 0}):
        on = code_row == code
        pct = int(pct_row[on].max())
        if on.all():
            out.append((code, "all", pct))
            continue
        for k in sorted({int(c) for c in cat.category[on]}):
            whole = bool(on[cat.category == k].all())
            if whole:
                out.append((code, f"category:{CATEGORIES[k]}", pct))
            else:
                out += [
                    (code, f"sku:{cat.skus[i]}", pct)
                    for i in np.flatnonzero(on & (cat.category == k))
                ]
    return out


def promotion_calendar(promos: Promotions, cat: Catalog, start: dt.date) -> pl.DataFrame:
    """The calendar rows (:data:`CALENDAR_COLUMNS`, all text as in the file) of the campaigns."""
    days = promos.code.shape[0]
    runs: dict[tuple[int, str], list[int]] = {}  # open run per (code, target): [first, last, pct]
    rows: list[dict[str, str]] = []

    def close(key: tuple[int, str], run: list[int]) -> None:
        code, target = key
        first = start + dt.timedelta(days=run[0])
        last = start + dt.timedelta(days=run[1])
        kind, _, name = target.partition(":")
        rows.append(
            {
                "promotion_id": f"{PROMO_CODES[code]}-{first:%Y%m%d}",
                "sku": name if kind == "sku" else "",
                "category": "all" if kind == "all" else (name if kind == "category" else ""),
                "location_id": "",
                "start": first.isoformat(),
                "end": last.isoformat(),
                "uplift": "",
                "units": "",
                "status": "",
                "description": f"{PROMO_CODES[code]}: {run[2]}% off",
            }
        )

    for t in range(days):
        today = {(c, tg): p for c, tg, p in _targets(promos.code[t], promos.pct[t], cat)}
        for key in [k for k in runs if k not in today]:
            close(key, runs.pop(key))
        for key, pct in today.items():
            if key in runs:
                runs[key][1] = t
            else:
                runs[key] = [t, t, pct]
    for key, run in runs.items():  # still running on the store's last day
        if PROMO_CODES[key[0]] == "BLACKFRIDAY20":  # its end is known: Cyber Monday
            run[1] = max(run[1], run[0] + 3)
        close(key, run)
    rows += _next_black_friday(start, days)
    frame = pl.DataFrame(rows, schema=dict.fromkeys(CALENDAR_COLUMNS, pl.String))
    return frame.sort("start", "promotion_id", "category", "sku")


def black_friday(year: int) -> dt.date:
    """The 4th Friday of November (the sandbox's Black Friday, as `make_promotions` has it)."""
    nov1 = dt.date(year, 11, 1)
    return nov1 + dt.timedelta(days=(4 - nov1.weekday()) % 7 + 21)


def _next_black_friday(start: dt.date, days: int) -> list[dict[str, str]]:
    """The store runs Black Friday to Cyber Monday every year, so its calendar already holds the
    next one after the store's last day (planned: no uplift, the forecast measures last year's)."""
    last = start + dt.timedelta(days=days - 1)
    friday = black_friday(last.year)
    if friday <= last:
        friday = black_friday(last.year + 1)
    code = PROMO_CODES.index("BLACKFRIDAY20")
    return [
        {
            "promotion_id": f"{PROMO_CODES[code]}-{friday:%Y%m%d}",
            "sku": "",
            "category": "all",
            "location_id": "",
            "start": friday.isoformat(),
            "end": (friday + dt.timedelta(days=3)).isoformat(),
            "uplift": "",
            "units": "",
            "status": "planned",
            "description": f"{PROMO_CODES[code]}: 20% off",
        }
    ]


def write_promotion_calendar(calendar: pl.DataFrame, drop: Path) -> dict[str, int]:
    """`promotions/promotions.csv`: the whole calendar, the campaigns after the drop's day too
    (a calendar is planned ahead)."""
    from sandbox.drops import _write_csv

    _write_csv(calendar.select(CALENDAR_COLUMNS), drop / "promotions" / "promotions.csv")
    return {"files__promotions": 1}
