"""The methods behind the forecast-accuracy work of issue 15, each on a case built to show it.

- the parent's seasonal index is trusted when the parent's weeks are steady and shrunk towards
  1 when they jump about (a ratio of two noisy means is mostly noise);
- the parent's shape is how its items move, not how its biggest item moves;
- a new item's level leaves out its partial first week once it has three, and is combined
  with TSB.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from forecasting import models as M
from forecasting.engine import _new_item
from forecasting.schemas import DAILY_DEMAND_INPUT
from forecasting.series import build_series, series_matrix

pytestmark = pytest.mark.fast

MONDAY = date(2025, 1, 6)
SEASON, WINDOW = 52, 8


def _parent(base: np.ndarray, later: float, t_len: int = 70) -> np.ndarray:
    """A parent row whose 8 base weeks a season before the origin are ``base`` and whose
    weeks a season before the forecast periods sell ``later``."""
    row = np.full(t_len, float(np.mean(base)))
    o = t_len - 4
    row[o - SEASON - WINDOW : o - SEASON] = base
    row[o - SEASON : o - SEASON + 4] = later
    return row


def test_a_jumpy_parent_gets_a_shrunk_index_a_steady_one_keeps_it() -> None:
    steady = _parent(np.full(WINDOW, 10.0), 30.0)
    jumpy = _parent(np.array([2.0, 18.0] * 4), 30.0)  # same mean 10, weeks jump about
    cat = np.stack([steady, jumpy])
    o = cat.shape[1] - 4
    idx = M.seasonal_index(cat, [o], 3, SEASON, WINDOW)[0]
    raw = M.seasonal_index(cat, [o], 3, SEASON, WINDOW, shrink=False)[0]
    assert raw[0, 1] == pytest.approx(3.0) and raw[1, 1] == pytest.approx(3.0)
    assert idx[0, 1] == pytest.approx(3.0, rel=0.02)  # steady weeks: the season is trusted
    assert 1.0 < idx[1, 1] < 2.5  # jumpy weeks: towards 1, still above it


def _daily(rows: list[tuple[date, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(d, sku, "WH", u, False) for d, sku, u in rows],
        schema=DAILY_DEMAND_INPUT,
        orient="row",
    )


def test_one_big_items_jump_is_not_the_parents_season() -> None:
    weeks = 20
    rows = []
    for w in range(weeks):
        day = MONDAY + timedelta(weeks=w)
        for i in range(10):
            rows.append((day, f"SMALL-{i}", 2))
        rows.append((day, "BIG", 300 if 10 <= w < 13 else 100))  # a promotion, say
    s = build_series(_daily(rows), MONDAY + timedelta(weeks=weeks))
    _, _, m = series_matrix(s)
    shape = m["cat"][0]
    jump = shape[11] / shape[5]
    # a plain mean over the 11 items would rise 320 / 120 = 2.67 times
    assert 1.2 < jump < 2.0, jump


def test_new_item_level_leaves_out_the_partial_first_week() -> None:
    y = np.array([[1.0, 4.0, 4.0, 4.0], [1.0, 4.0, np.nan, np.nan]])
    cat_level = np.array([4.0, 4.0])
    no_tsb = np.zeros((1, 2, 2))
    out = _new_item(y, [4], 2, cat_level, None, no_tsb)[0]
    # three weeks: the first drops out, own mean 4, shrunk a quarter towards 4; halved with TSB 0
    assert out[0, 0] == pytest.approx(0.5 * 4.0)
    # two weeks only: the first week stays, (1 + 4) / 2 shrunk a third towards 4
    assert out[1, 0] == pytest.approx(0.5 * (2.5 * 2 / 3 + 4.0 / 3))
    # and the TSB half is the other part of the combination
    tsb = np.full((1, 2, 2), 2.0)
    assert _new_item(y, [4], 2, cat_level, None, tsb)[0][0, 0] == pytest.approx(3.0)
