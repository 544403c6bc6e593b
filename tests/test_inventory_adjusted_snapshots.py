"""inventory_snapshots takes stock adjustments into account where a count does not already (#14).

Hand-made stock counts and a till export with write-offs go through the file sync and a real
`dbt build`; each day's on_hand must be the day's last count plus the write-offs made after it
and dated up to that day, never below 0 (the rule inventory_levels applies to the latest count).
Then a write-off for an earlier day lands later: the incremental build must recompute those
days and equal a `--full-refresh` rebuild (inventory_snapshots and daily_demand, which reads it);
likewise when a write-off is voided later.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest

from flows.dbt_runner import run_dbt
from flows.demo import demo_config_dict
from flows.sync import sync_files
from tests.conftest import make_config, till_channel

COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
           "CustomerID", "Void"]  # fmt: skip
TILLS = till_channel(
    mapping={
        "order_id": "InvoiceNo",
        "sku": "StockCode",
        "title": "Description",
        "quantity": "Quantity",
        "ordered_at": "InvoiceDate",
        "unit_price": "UnitPrice",
        "customer_id": "CustomerID",
        "cancelled": "Void",
    },
    timestamp_format="%m/%d/%Y %H:%M",
)
# counts (UTC): A 10 on 11-02, 20 on 11-05 at 20:00; B 5 on 11-02 and 11-06 (the last count date)
COUNTS = (
    "sku,location_id,on_hand,counted_at\n"
    "A,ST-BER,10,2026-11-02T08:00:00Z\nB,ST-BER,5,2026-11-02T08:00:00Z\n"
    "A,ST-BER,20,2026-11-05T20:00:00Z\nB,ST-BER,5,2026-11-06T20:00:00Z\n"
)
# Berlin local times: a write-off before the first count (in it), one after it, one before A's
# second count (in that count), one of more than B has; a sale is not an adjustment
FIRST = [
    ["W1", "A", "damaged", "-1", "11/1/2026 12:00", "0", "", ""],
    ["W2", "A", "damaged", "-3", "11/3/2026 12:00", "0", "", ""],
    ["W3", "A", "thrown away", "-2", "11/5/2026 10:00", "0", "", ""],
    ["W4", "B", "lost", "-8", "11/4/2026 12:00", "0", "", ""],
    ["S1", "A", "ARTICLE A", "1", "11/3/2026 13:00", "2.55", "17850", ""],
]
# lands after the first build: a write-off on 11-02 after A's first count
LATE = [["W5", "A", "damaged", "-4", "11/2/2026 15:00", "0", "", ""]]
# lands after that: B's write-off voided (a new version of its line)
VOID = [["W4", "B", "lost", "-8", "11/4/2026 12:00", "0", "", "1"]]

DAYS = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"]


def _write_export(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _snapshots(cfg) -> dict[tuple[str, str], tuple]:
    with duckdb.connect(cfg.warehouse, read_only=True) as con:
        rows = con.execute(
            """select sku, stock_date::varchar, on_hand, counted_on_hand, adjusted_since_count,
                      is_stockout
               from marts.inventory_snapshots order by all"""
        ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def _table(cfg, name: str) -> list[tuple]:
    with duckdb.connect(cfg.warehouse, read_only=True) as con:
        return con.execute(f"select * from marts.{name} order by all").fetchall()


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    locations = [{**loc, "external_ids": {}} for loc in demo_config_dict()["locations"]]
    stock = {"name": "tpl", "kind": "stock_report", "path": "stock"}
    cfg = make_config(tmp_path, channels=[TILLS, stock], locations=locations)
    counts = Path(cfg.files.drop_dir) / "stock" / "stock_2026-11.csv"
    counts.parent.mkdir(parents=True)
    counts.write_text(COUNTS)
    _write_export(Path(cfg.files.drop_dir) / "tills" / "export_1.csv", FIRST)
    return cfg


def test_snapshots_carry_counts_forward_with_the_adjustments_since(cfg):
    report = sync_files(cfg)
    assert report.rows_quarantined == 0
    dbt = run_dbt(cfg)
    assert dbt.tests_failed == 0, dbt.failures
    snap = _snapshots(cfg)
    # (on_hand, counted_on_hand, adjusted_since_count, is_stockout) per day
    assert [snap["A", d] for d in DAYS] == [
        (10, 10, 0, False),  # W1 is before the count, so in it
        (7, 10, -3, False),  # W2 after the count
        (7, 10, -3, False),  # carried forward with it
        (20, 20, 0, False),  # the 20:00 count includes W2 and W3 (made before it)
        (20, 20, 0, False),
    ]
    assert [snap["B", d] for d in DAYS] == [
        (5, 5, 0, False),
        (5, 5, 0, False),
        (0, 5, -8, True),  # not below 0: a stale count, not debt
        (0, 5, -8, True),
        (5, 5, 0, False),  # the next count includes it
    ]
    # the same rule as inventory_levels: its on_hand is the last day's snapshot
    with duckdb.connect(cfg.warehouse, read_only=True) as con:
        levels = con.execute(
            "select sku, on_hand, adjusted_since_count from marts.inventory_levels order by 1"
        ).fetchall()
    assert levels == [("A", 20, 0), ("B", 5, 0)]

    # a write-off of 11-02 lands later: the incremental build recomputes from that day
    _write_export(Path(cfg.files.drop_dir) / "tills" / "export_2.csv", LATE)
    assert sync_files(cfg).rows_landed == 1
    dbt = run_dbt(cfg)
    assert dbt.tests_failed == 0, dbt.failures
    snap = _snapshots(cfg)
    assert [snap["A", d][0] for d in DAYS] == [6, 3, 3, 20, 20]
    _equals_a_full_refresh(cfg)

    # B's write-off is voided: its days are as counted again
    _write_export(Path(cfg.files.drop_dir) / "tills" / "export_3.csv", VOID)
    assert sync_files(cfg).rows_landed == 1
    dbt = run_dbt(cfg)
    assert dbt.tests_failed == 0, dbt.failures
    assert [_snapshots(cfg)["B", d][0] for d in DAYS] == [5, 5, 5, 5, 5]
    _equals_a_full_refresh(cfg)


def _equals_a_full_refresh(cfg) -> None:
    incremental = {name: _table(cfg, name) for name in ("inventory_snapshots", "daily_demand")}
    dbt = run_dbt(cfg, select="inventory_snapshots daily_demand", full_refresh=True)
    assert dbt.tests_failed == 0, dbt.failures
    for name, rows in incremental.items():
        assert rows == _table(cfg, name), name
