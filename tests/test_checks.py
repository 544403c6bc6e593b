"""The check stage (flows/checks.py) and the dbt tests that took over the marts' integrity and
reconciliation: freshness is `dbt source freshness` on `_loaded_at` with oms.yaml's allowances
(per-channel overrides included), volume is SQL on a daily aggregate, every result lands in
`ops.validation_results` and GX's Data Docs; a broken mart fails a dbt test, not a pandas copy."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from flows.checks import check_marts, freshness_sources
from flows.dbt_runner import dbt_vars, invoke, project_dir, run_dbt
from flows.demo import demo_config_dict, prepare_demo
from flows.sync import sync_files
from flows.warehouse import connection
from tests.conftest import make_config

END = date(2026, 6, 30)  # the sandbox's last day; `_loaded_at` is real landing time


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A tiny sandbox store, landed and built once; tests work on copies of its warehouse."""
    root = tmp_path_factory.mktemp("checks")
    cfg, _, _ = prepare_demo(root, seed=5, scale="tiny", end_date=END)
    sync_files(cfg)
    run_dbt(cfg, "build")
    return Path(cfg.warehouse)


def _copy(built: Path, tmp: Path, **overrides):
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = make_config(tmp, **overrides)
    shutil.copy(built, cfg.warehouse)
    return cfg


def _landed_hours_ago(cfg, table: str, hours: float) -> None:
    with connection(cfg.warehouse) as con:
        con.execute(
            f"update raw.{table} set _loaded_at = ?",
            [datetime.now(UTC) - timedelta(hours=hours)],
        )


def _results(cfg, run_id: str) -> list[tuple]:
    with connection(cfg.warehouse, read_only=True) as con:
        return con.execute(
            """select suite, expectation, success, unexpected_count, details
               from ops.validation_results where run_id = ? order by suite, expectation""",
            [run_id],
        ).fetchall()


def test_fresh_store_passes_and_records_every_result(built, tmp_path):
    cfg = _copy(built, tmp_path)
    report = check_marts(cfg, "r1", as_of=END + timedelta(days=1))
    assert report.ok, report.failed
    assert report.suites == 2 and report.expectations == 3
    rows = _results(cfg, "r1")
    assert [r[0] for r in rows] == ["freshness", "freshness", "volume"]
    assert all(r[2] for r in rows)
    judged = json.loads(rows[0][4])["rows"]
    assert sorted(r["channel"] for r in judged) == ["amazon", "shop", "tills", "woo"]
    assert {r["channel"]: r["allowed"] for r in judged} == {
        "shop": 48, "amazon": 48, "woo": 168, "tills": 72,
    }  # fmt: skip
    assert (report.data_docs / "index.html").exists()


def test_stale_channel_fails_with_its_own_allowance(built, tmp_path):
    """60 h without a landing: shop (48 h) is stale, tills (override 72 h) is not."""
    cfg = _copy(built, tmp_path)
    _landed_hours_ago(cfg, "shop__orders", 60)
    _landed_hours_ago(cfg, "tills__orders", 60)
    report = check_marts(cfg, "r2", as_of=END + timedelta(days=1))
    assert not report.ok
    [msg] = report.critical_failed
    assert msg.startswith("freshness:") and "channel=shop" in msg and "allowed=48" in msg
    assert "channel=tills" not in msg
    lag = float(msg.split("lag_hours=")[1].split(",")[0])
    assert 59.9 < lag < 60.5


def test_override_from_config_reaches_dbt(built, tmp_path):
    """A per-channel override in oms.yaml is what dbt judges by (vars, not a copy in Python)."""
    quality = {"freshness_hours_by_channel": {"woo": 168, "tills": 72, "shop": 100}}
    cfg = _copy(built, tmp_path, quality=quality)
    _landed_hours_ago(cfg, "shop__orders", 60)
    assert check_marts(cfg, "r3", as_of=END + timedelta(days=1)).ok
    cfg = _copy(built, tmp_path / "b", quality={"freshness_hours": 0.5})
    _landed_hours_ago(cfg, "amazon__orders", 1)
    report = check_marts(cfg, "r4", as_of=END + timedelta(days=1))
    assert len(report.critical_failed) == 1 and "channel=amazon" in report.critical_failed[0]


def test_channel_with_nothing_landed_is_stale(built, tmp_path):
    cfg = _copy(built, tmp_path)
    with connection(cfg.warehouse) as con:
        con.execute("delete from raw.woo__orders")
    report = check_marts(cfg, "r5", as_of=END + timedelta(days=1))
    assert not report.ok and "channel=woo" in report.critical_failed[0]
    assert "lag_hours=inf" in report.critical_failed[0]


def test_disabled_channel_and_stock_report_are_not_judged(tmp_path):
    data = demo_config_dict()
    for ch in data["channels"]:
        if ch["name"] == "woo":
            ch["enabled"] = False
    from flows.config import parse_config

    cfg = parse_config(data, source="test", base_dir=tmp_path)
    assert freshness_sources(cfg) == {
        "shop": "shop__orders", "amazon": "amazon__orders", "tills": "tills__orders",
    }  # fmt: skip
    assert dbt_vars(cfg)["freshness_hours_by_channel"] == {"woo": 168, "tills": 72}


def test_volume_spike_is_a_warning_not_a_failure(built, tmp_path):
    cfg = _copy(built, tmp_path)
    with connection(cfg.warehouse, read_only=True) as con:
        last = con.execute("select max(order_date) from marts.orders").fetchone()[0]
    with connection(cfg.warehouse) as con:  # every shop order of the last 20 days on one day
        con.execute(
            "update marts.orders set order_date = ? where channel = 'shop' and order_date > ?",
            [last, last - timedelta(days=20)],
        )
    report = check_marts(cfg, "r6", as_of=last + timedelta(days=1))
    assert report.ok
    [msg] = report.failed
    assert msg.startswith("volume:") and "channel=shop" in msg


def _dbt_test(cfg, select: str):
    import os

    os.environ["OMS_WAREHOUSE"] = str(Path(cfg.warehouse).resolve())
    args = ["test", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir()),
            "--vars", json.dumps(dbt_vars(cfg)), "--quiet", "--select", select]  # fmt: skip
    result = invoke(args)
    return {r.node.name: str(r.status) for r in result.result.results}


def test_reconciliation_and_integrity_are_dbt_tests(built, tmp_path):
    """A line lost between staging and the marts, an unconfigured currency and negative stock
    fail dbt tests (these were pandas/GX copies in flows/checks.py)."""
    cfg = _copy(built, tmp_path)
    tests = (
        "marts_reconcile_with_staging test_name:in_var_list test_name:non_negative,inventory_levels"
    )
    assert set(_dbt_test(cfg, tests).values()) == {"pass"}
    with connection(cfg.warehouse) as con:
        con.execute(
            "delete from marts.order_lines where order_line_key = "
            "(select min(order_line_key) from marts.order_lines where channel = 'woo')"
        )
        con.execute("update marts.orders set currency = 'JPY' where order_key = "
                    "(select min(order_key) from marts.orders)")  # fmt: skip
        con.execute("update marts.inventory_levels set on_hand = -1 where rowid = 0")
    status = _dbt_test(cfg, tests)
    assert status["marts_reconcile_with_staging"] == "fail"
    assert status["in_var_list_orders_currency__currencies"] == "fail"
    assert status["non_negative_inventory_levels_on_hand"] == "fail"
