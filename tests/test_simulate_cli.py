"""`oms simulate` on a small warehouse: our policy against the merchant's rule (issue 15).

The warehouse is a real DuckDB file holding the tables the command reads (``marts.daily_demand``
with end-of-day stock, ``staging.stg_files__supplier_terms``, ``marts.products``,
``marts.fx_rates``), filled from the tiny sandbox store's records (what a store records: units
ordered, stockout flags, stock at the end of the day; not its true demand).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.config import load_config
from flows.demo import write_demo_config
from forecasting.simulation import MerchantRule, demand_from_marts, replay
from sandbox import generate_store


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> tuple[Path, dict[str, pl.DataFrame]]:
    root = tmp_path_factory.mktemp("simulate")
    truth = generate_store(seed=7, scale="tiny").truth
    d = truth["demand"].filter(pl.col("is_active"))
    daily = d.select(
        demand_date="date",
        sku="sku",
        location_id="location_id",
        units_ordered=pl.col("units_sold").cast(pl.Int32),
        end_of_day_on_hand=pl.col("on_hand_eod").cast(pl.Int32),
        is_stockout="is_stockout",
    )
    terms = truth["supplier_terms"].select(
        "supplier_id",
        "supplier_name",
        "sku",
        unit_cost_local=pl.col("unit_cost").cast(pl.Decimal(18, 4)),
        currency="currency",
        lead_time_days="lead_time_days",
        lead_time_std_days="lead_time_std_days",
        moq="moq",
        case_pack="case_pack",
    )
    products = truth["products"].select("sku", "category", abc_class=pl.lit("B"))
    fx = truth["fx_rates"].select(
        rate_date="date", currency="currency", rate_to_base=pl.col("rate").cast(pl.Float64)
    )
    db = root / "oms.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts; create schema staging")
        for name, frame in (
            ("marts.daily_demand", daily),
            ("staging.stg_files__supplier_terms", terms),
            ("marts.products", products),
            ("marts.fx_rates", fx),
        ):
            con.register("_f", frame.to_arrow())
            con.execute(f"create table {name} as select * from _f")
            con.unregister("_f")
    write_demo_config(
        root / "oms.yaml",
        warehouse=str(db),
        drop_dir=str(root / "drop"),
        output_dir=str(root / "out"),
    )
    return root, {"daily": daily, "terms": terms, "products": products, "fx": fx}


def test_oms_simulate_prints_the_side_by_side_table_and_writes_files(warehouse) -> None:
    root, frames = warehouse
    args = ["simulate", "--config", str(root / "oms.yaml"), "--weeks", "4"]
    args += ["--warmup-weeks", "2", "--forecaster", "naive", "--cover", "20", "--up-to", "40"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "our policy" in out and "your rule" in out
    for metric in (
        "fill rate",
        "cycle service level",
        "average inventory value",
        "stockout days",
        "order lines",
    ):
        assert metric in out
    # the printed figures are the replay's own (same inputs, same seed)
    marts = frames["daily"].rename({"demand_date": "date"})
    direct = replay(
        demand_from_marts(marts),
        frames["terms"].rename({"unit_cost_local": "unit_cost"}),
        MerchantRule(cover=20, up_to=40),
        load_config(root / "oms.yaml").replenishment,  # the CLI's (the demo's transfer lanes)
        weeks=4,
        warmup_weeks=2,
        abc_class=frames["products"].select("sku", "abc_class"),
        fx_to_base={c: float(r) for c, r in frames["fx"].sort("rate_date").unique("currency", keep="last").select("currency", "rate_to_base").iter_rows()},
    )  # fmt: skip
    row = re.search(r"fill rate[^\n]*?([\d.]+)%[^\n]*?([\d.]+)%", out)
    assert row is not None
    assert float(row.group(1)) == pytest.approx(100 * direct.policy.fill_rate, abs=0.051)
    assert float(row.group(2)) == pytest.approx(100 * direct.rule.fill_rate, abs=0.051)
    assert direct.policy.orders_placed > 0 and direct.rule.orders_placed > 0
    assert 0 < direct.policy.fill_rate <= 1 and direct.policy.avg_inventory_value > 0
    # out/simulate/<date>/: markdown with the same table, and the chart
    folders = list((root / "out" / "simulate").iterdir())
    assert len(folders) == 1
    md = (folders[0] / "simulate.md").read_text()
    assert "| fill rate (units sold / demanded) |" in md and "inventory.svg" in md
    assert "Merchant's rule (days of cover: below 20 days, up to 40)" in md
    svg = (folders[0] / "inventory.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 2


def test_oms_simulate_min_max_and_bad_rules(warehouse) -> None:
    root, _ = warehouse
    base = ["simulate", "--config", str(root / "oms.yaml"), "--weeks", "3", "--warmup-weeks", "1"]
    base += ["--forecaster", "naive"]
    ok = CliRunner().invoke(app, [*base, "--rule", "min-max", "--min", "5", "--max", "20"])
    assert ok.exit_code == 0, ok.output
    md = next((root / "out" / "simulate").glob("*/simulate.md")).read_text()
    assert "min-max: at or below 5, up to 20" in md
    bad = CliRunner().invoke(app, [*base, "--rule", "min-max", "--min", "20", "--max", "5"])
    assert bad.exit_code == 2 and "min-max: need 0 <= min < max" in bad.output
    bad = CliRunner().invoke(app, [*base, "--rule", "weekly"])
    assert bad.exit_code == 2 and "days-of-cover" in bad.output
