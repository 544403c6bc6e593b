"""`oms check --run-date` judges freshness as of that date (#14).

A warehouse whose till orders landed (hand-set `_loaded_at`) on a past date, built with real dbt:
checked as of that date it is fresh; checked today (dbt source freshness, now) and as of a date
a week later it is stale; a version landed after the run date does not make that date fresh.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from flows.checks import freshness_reference
from flows.cli import app
from flows.config import load_config
from flows.dbt_runner import run_dbt
from flows.demo import demo_config_dict
from flows.sync import sync_files
from tests.conftest import till_channel

DAY = date(2026, 11, 3)
LOADED = "2026-11-03 10:00:00+00"  # 14 h before the end of DAY, within the 48 h allowance
LATER = "2026-11-20 10:00:00+00"  # a later version of one order, landed after a week's gap

TILLS = till_channel(
    mapping={
        "order_id": "Receipt",
        "sku": "Sku",
        "quantity": "Qty",
        "ordered_at": "Time",
        "unit_price": "Price",
    },
)
ROWS = [
    ["R1", "A", "1", "2026-11-02 12:00", "2.50"],
    ["R2", "A", "2", "2026-11-03 09:00", "2.50"],
]


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("check_run_date")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBT_TARGET_PATH", str(tmp / "dbt_target"))
        mp.setenv("DBT_LOG_PATH", str(tmp / "dbt_logs"))
        data = demo_config_dict(
            warehouse=str(tmp / "oms.duckdb"),
            drop_dir=str(tmp / "drop"),
            output_dir=str(tmp / "out"),
        )
        data["channels"] = [TILLS]
        data["locations"] = [{**loc, "external_ids": {}} for loc in data["locations"]]
        path = tmp / "oms.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        cfg = load_config(path)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerows([["Receipt", "Sku", "Qty", "Time", "Price"], *ROWS])
        export = Path(cfg.files.drop_dir) / "tills" / "receipts.csv"
        export.parent.mkdir(parents=True)
        export.write_text(buf.getvalue())
        assert sync_files(cfg).rows_landed == len(ROWS)
        with duckdb.connect(cfg.warehouse) as con:
            con.execute(f"update raw.tills__orders set _loaded_at = timestamptz '{LOADED}'")
            # a later version of R1, landed after the run date
            con.execute(
                f"""insert into raw.tills__orders
                    select * replace (timestamptz '{LATER}' as _loaded_at, 'v2' as _payload_hash)
                    from raw.tills__orders where _source_id like 'R1%'"""
            )
        dbt = run_dbt(cfg)
        assert dbt.tests_failed == 0, dbt.failures
    return path


def _check(path: Path, *args: str):
    result = CliRunner().invoke(app, ["check", "--config", str(path), *args])
    return result.exit_code, result.output


def _freshness_rows(path: Path) -> list[tuple]:
    with duckdb.connect(str(load_config(path).warehouse), read_only=True) as con:
        return con.execute(
            """select success, details ->> 'as_of' from ops.validation_results
               where suite = 'freshness' and expectation like '%allowed hours'
               order by validated_at desc limit 1"""
        ).fetchall()


def test_fresh_as_of_the_date_it_was_loaded(config_path, prefect_harness):
    code, output = _check(config_path, "--run-date", DAY.isoformat())
    assert code == 0, output
    assert _freshness_rows(config_path) == [(True, "2026-11-04T00:00:00+00:00")]


def test_stale_today_and_a_week_after(config_path, prefect_harness):
    code, output = _check(config_path)  # today: dbt source freshness, newest landing 11-20
    assert code == 1, output
    assert "freshness" in output
    [(ok, _)] = _freshness_rows(config_path)
    assert not ok
    # as of 11-10 the newest landing up to its end is 11-03 (the 11-20 version does not count)
    code, output = _check(config_path, "--run-date", "2026-11-10")
    assert code == 1, output
    assert _freshness_rows(config_path) == [(False, "2026-11-11T00:00:00+00:00")]


@pytest.mark.fast
def test_the_reference_is_the_end_of_the_run_date_or_now():
    now = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    assert freshness_reference(None, now) == now
    assert freshness_reference(date(2026, 12, 2), now) == now  # today: not in the future
    assert freshness_reference(DAY, now) == datetime(2026, 11, 4, tzinfo=UTC)
