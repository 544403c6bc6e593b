"""The scheduled flows under one Prefect test harness: hourly runs land new orders and update the
marts, overlapping runs leave the warehouse correct, a failing dbt model fails the flow with its
name, prefect.yaml's entrypoints import, a backfill re-reads a channel, and forecast batches map
onto a Dask cluster. The flows as processes (killed, stopped, deployed, served) are in
tests/test_flows_processes.py."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from flows.demo import prepare_demo
from flows.pipeline import daily_replenishment, hourly_sync, pipeline_flow
from flows.warehouse import connection

END = date(2026, 6, 30)
ROOT = Path(__file__).resolve().parent.parent


def kill_process_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal a process started with `start_new_session=True` and everything it started; what
    has not ended 30 s later is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        if sig != signal.SIGKILL:
            time.sleep(1)  # children stopping on `sig` get a moment before SIGKILL
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _scalar(cfg, sql):
    with connection(cfg.warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()[0][0]


def _no_duplicate_versions(cfg) -> None:
    with connection(cfg.warehouse, read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
        for (t,) in tables:
            n, distinct = con.execute(
                f"select count(*), count(distinct (_source_id, _payload_hash)) from raw.{t}"
            ).fetchall()[0]
            assert n == distinct, t


@pytest.fixture(scope="module")
def project(tmp_path_factory, prefect_harness):
    """A tiny sandbox store with history to END, synced and built as of three days earlier."""
    root = tmp_path_factory.mktemp("flows")
    cfg, _, _ = prepare_demo(root, seed=11, scale="tiny", end_date=END, as_of=date(2026, 6, 27))
    first = daily_replenishment(cfg=cfg, run_date=date(2026, 6, 28))
    assert first.checks.ok and first.planning.suggestions >= 0
    return root, cfg


def test_hourly_sync_lands_new_orders_and_updates_the_marts(project):
    root, cfg = project
    before = _scalar(cfg, "select count(*) from marts.orders")
    prepare_demo(root, seed=11, scale="tiny", end_date=END)  # three more days of trading
    summary = hourly_sync(cfg=cfg)
    assert summary.sync.rows_landed > 0 and summary.skipped is None
    assert summary.dbt is not None and summary.dbt.models_built > 0
    after = _scalar(cfg, "select count(*) from marts.orders")
    assert after > before
    from sandbox import generate_store

    truth = generate_store(seed=11, scale="tiny", end_date=END).truth["orders"]
    with connection(cfg.warehouse, read_only=True) as con:
        mart = pl.from_arrow(con.sql("select channel, order_id from marts.orders").to_arrow_table())
    missing = truth.select("channel", pl.col("order_id").cast(pl.String)).join(
        mart, on=["channel", "order_id"], how="anti"
    )
    assert missing.height == 0
    assert _scalar(cfg, "select max(order_date) from marts.orders") == END
    # Nothing new: the next hourly run lands nothing and skips dbt.
    quiet = hourly_sync(cfg=cfg)
    assert quiet.sync.rows_landed == 0 and quiet.dbt is None


def test_overlapping_runs_leave_the_warehouse_correct(project):
    root, cfg = project
    results: dict[str, object] = {}

    def run(name):
        try:
            results[name] = pipeline_flow(cfg=cfg, stages=["sync", "build", "check"])
        except Exception as exc:  # pragma: no cover - reported below
            results[name] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert all(not isinstance(r, Exception) for r in results.values()), results
    assert all(r.skipped is None for r in results.values())  # the second waited, then ran
    _no_duplicate_versions(cfg)
    with connection(cfg.warehouse, read_only=True) as con:
        statuses = [r[0] for r in con.execute("select status from ops.runs").fetchall()]
    assert "running" not in statuses


def test_a_run_that_cannot_get_the_lock_is_skipped_with_a_clear_message(project):
    _, cfg = project
    from flows.warehouse import writer_lock

    impatient = cfg.model_copy(update={"lock_timeout_seconds": 0.5})
    with writer_lock(cfg.warehouse, 5):
        summary = hourly_sync(cfg=impatient)
    assert summary.skipped and "another oms run is writing" in summary.skipped


def test_a_failing_dbt_model_fails_the_flow_with_its_name(project, tmp_path, monkeypatch):
    _, cfg = project
    from flows.dbt_runner import DBT_PROJECT_DIR, DbtFailed

    broken = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, broken, ignore=shutil.ignore_patterns("target", "logs"))
    (broken / "models" / "marts" / "broken_margin.sql").write_text(
        "select order_key, net_sales / nothing_here as margin from {{ ref('orders') }}\n"
    )
    monkeypatch.setenv("OMS_DBT_PROJECT_DIR", str(broken))
    with pytest.raises(DbtFailed, match="broken_margin"):
        pipeline_flow(cfg=cfg, stages=["build"])
    with connection(cfg.warehouse, read_only=True) as con:
        status, message = con.execute(
            "select status, message from ops.runs order by started_at desc limit 1"
        ).fetchall()[0]
    assert status == "failed" and "broken_margin" in message


def test_failure_and_stockout_alerts_reach_the_webhook(project, monkeypatch, tmp_path):
    _, cfg = project
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OMS_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    try:
        bad = cfg.model_copy(update={"warehouse": str(tmp_path / "nope" / "x.duckdb")})
        import duckdb

        with pytest.raises(duckdb.CatalogException, match="daily_demand"):
            pipeline_flow(cfg=bad, stages=["forecast"])  # no marts in an empty warehouse
    finally:
        server.shutdown()
    assert received and received[0]["event"] == "run_failed"
    assert "failed" in received[0]["text"]


def test_prefect_yaml_entrypoints_import_and_schedules_parse():
    from flows.serve import entrypoint_flow, load_deployments, schedules_of

    deployments = load_deployments(ROOT / "prefect.yaml")
    names = {d["name"] for d in deployments}
    assert {"hourly-sync", "daily-replenishment", "full-refresh", "backfill"} <= names
    for dep in deployments:
        flow_obj = entrypoint_flow(dep["entrypoint"])
        assert flow_obj.name
        assert dep["work_pool"]["name"] == "oms-process"
    crons = {d["name"]: d["schedules"][0]["cron"] for d in deployments if d.get("schedules")}
    assert crons == {"hourly-sync": "5 * * * *", "daily-replenishment": "30 5 * * *"}
    assert all(s.timezone == "Europe/Amsterdam" for d in deployments for s in schedules_of(d))


def test_backfill_rereads_an_api_channel_without_duplicates_or_moving_the_cursor(
    tmp_path, prefect_harness
):
    from flows.pipeline import backfill
    from tests.test_connector_helpers import api_config, cursors, emulated, raw_rows, tiny_store

    store = tiny_store()
    with emulated(store) as eps:
        cfg = api_config(tmp_path, eps)
        first = pipeline_flow(cfg=cfg, stages=["sync"], channel="shop")
        assert first.sync.rows_landed > 0
        before_rows, before_cursors = len(raw_rows(cfg, "shop__orders")), cursors(cfg)
        again = backfill(channel="shop", start=store.start_date, cfg=cfg)
    assert again.sync.rows_landed == 0  # everything re-read, nothing landed twice
    assert len(raw_rows(cfg, "shop__orders")) == before_rows
    assert cursors(cfg) == before_cursors
    with pytest.raises(ValueError, match="not an API channel"):
        backfill(channel="tills", start=store.start_date, cfg=cfg)


def test_forecast_batches_map_as_tasks_on_a_dask_cluster(tmp_path, prefect_harness, monkeypatch):
    """The same flow on a local Dask cluster forecasts batch by batch on its workers, with the
    same result as the local process pool."""
    pytest.importorskip("prefect_dask")
    from prefect_dask import DaskTaskRunner

    from forecasting import ForecastSettings

    cfg, _, _ = prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END)
    run_date = date(2026, 7, 1)
    pipeline_flow(cfg=cfg, stages=["sync", "build"], run_date=run_date)
    query = ("select sku, location_id, period_start, mean, p10, p90, model from planning.demand_forecast "
             "where run_date = ? order by all")  # fmt: skip
    pipeline_flow(cfg=cfg, stages=["forecast"], run_date=run_date)
    with connection(cfg.warehouse, read_only=True) as con:
        local = con.execute(query, [run_date]).fetchall()
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1})
    small = ForecastSettings.batch_size  # several batches, so the map really spreads
    import flows.pipeline as pipeline_module

    original = pipeline_module.forecast_on_tasks

    def in_small_batches(demand, run_date, settings, products):
        from dataclasses import replace

        return original(demand, run_date, replace(settings, batch_size=20), products)

    monkeypatch.setattr(pipeline_module, "forecast_on_tasks", in_small_batches)
    summary = pipeline_flow.with_options(task_runner=runner)(
        cfg=cfg, stages=["forecast"], run_date=run_date
    )
    assert small > 20 and summary.planning.series > 20
    with connection(cfg.warehouse, read_only=True) as con:
        spread = con.execute(query, [run_date]).fetchall()
    assert spread == local and len(local) > 0
