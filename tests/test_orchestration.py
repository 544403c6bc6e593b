"""Orchestration robustness: channel syncs retry by error type, the reference tables survive a
build without a sync, a failed dbt build leaves the warehouse as it was (and the next run and a
full refresh succeed), and no module of ours can shadow a dependency when Prefect loads an
entrypoint."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import httpx
import pytest
import yaml

from connectors.http import ChannelAuthError, ChannelConfigError, ChannelError, credential
from flows.config import ConfigError
from flows.pipeline import is_retryable
from flows.quality import PageRejected
from flows.warehouse import connection

ROOT = Path(__file__).resolve().parent.parent
END = date(2026, 6, 30)
MODEL_SCHEMAS = ("staging", "intermediate", "marts")


# ------------------------------------------------------------------------- retry by type


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (ChannelAuthError("HTTP 401", 401), False),
        (ChannelAuthError("HTTP 403", 403), False),
        (ChannelConfigError("channel 'shop': environment variable X is not set"), False),
        (ConfigError("oms.yaml is not valid"), False),
        (PageRejected("30% bad records"), False),
        (ChannelError("HTTP 404 on GET /orders", 404), False),
        (ChannelError("HTTP 503, retries exhausted", None), True),
        (ChannelError("HTTP 502", 502), True),
        (ChannelError("HTTP 429", 429), True),
        # the message says nothing: a 5xx whose body mentions 401 or credentials is retried
        (ChannelError("HTTP 500: invalid credential 401 not set", 500), True),
        (RuntimeError("credential not set, 401"), True),  # text alone decides nothing
        (httpx.ConnectError("connection refused"), True),
        (httpx.ReadTimeout("timed out"), True),
        (KeyboardInterrupt(), False),
    ],
)
def test_retry_is_decided_by_the_error_type(exc, retry):
    assert is_retryable(exc) is retry


def test_a_missing_credential_raises_a_typed_error(monkeypatch):
    monkeypatch.delenv("OMS_TEST_NO_SUCH_TOKEN", raising=False)
    with pytest.raises(ChannelConfigError, match="OMS_TEST_NO_SUCH_TOKEN"):
        credential("shop", "OMS_TEST_NO_SUCH_TOKEN")
    assert issubclass(ChannelConfigError, ChannelAuthError)


def test_status_survives_pickling():
    import pickle

    again = pickle.loads(pickle.dumps(ChannelError("HTTP 404", 404)))
    assert again.status == 404 and str(again) == "HTTP 404" and not again.retryable


def test_sync_channel_task_retries_only_what_can_succeed_later(prefect_harness, monkeypatch, cfg):
    """The real task and retry condition: a permanent error runs once, a transient one retries."""
    from prefect import flow

    import flows.pipeline as pipeline

    calls: list[str] = []

    def failing(exc):
        def sync_files(*args, **kwargs):
            calls.append(type(exc).__name__)
            raise exc

        return sync_files

    task = pipeline.sync_channel_task.with_options(retry_delay_seconds=0, retry_jitter_factor=None)

    @flow
    def one_sync():
        return task(cfg, "tills")

    for exc, attempts in [
        (ChannelAuthError("channel 'x': HTTP 401", 401), 1),
        (ConfigError("bad"), 1),
        (PageRejected("too many bad records"), 1),
        (ChannelError("HTTP 503 (credential 401 in the text)", 503), 3),
        (httpx.ConnectError("refused"), 3),
    ]:
        calls.clear()
        monkeypatch.setattr(pipeline, "sync_files", failing(exc))
        with pytest.raises(type(exc)):
            one_sync()
        assert len(calls) == attempts, (exc, calls)


# --------------------------------------------------------------------- reference tables


def _reference_counts(warehouse: str) -> tuple[int, int, int]:
    with connection(warehouse, read_only=True) as con:
        return tuple(
            con.execute(f"select count(*) from ops.{t}").fetchall()[0][0]
            for t in ("channels", "locations", "location_aliases")
        )


def _cli(tmp: Path, *args: str):
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(app, [*args, "--config", str(tmp / "oms.yaml")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def test_a_build_without_a_sync_keeps_the_reference_tables(tmp_path, prefect_harness):
    from flows.config import load_config
    from flows.demo import prepare_demo, write_demo_config

    prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END)
    write_demo_config(tmp_path / "oms.yaml")
    cfg = load_config(tmp_path / "oms.yaml")
    expected = (
        len(cfg.channels),
        len(cfg.locations),
        sum(len(loc.external_ids) for loc in cfg.locations),
    )
    _cli(tmp_path, "sync")
    assert _reference_counts(cfg.warehouse) == expected
    _cli(tmp_path, "build")
    assert _reference_counts(cfg.warehouse) == expected
    with connection(cfg.warehouse, read_only=True) as con:
        currencies = dict(con.execute("select channel, currency from ops.channels").fetchall())
    assert currencies["woo"] == "GBP"

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    write_demo_config(fresh / "oms.yaml")
    _cli(fresh, "build", "--full-refresh")  # no sync ever ran here
    assert _reference_counts(load_config(fresh / "oms.yaml").warehouse) == expected


# ------------------------------------------------------------------- build or roll back


def _fingerprint(warehouse: str) -> dict[str, tuple]:
    """Row count and an order-independent hash of every table, and each view's SQL, in the model
    schemas; plus whether a backup schema is left."""
    out: dict[str, tuple] = {}
    with connection(warehouse, read_only=True) as con:
        schemas = ", ".join(f"'{s}'" for s in (*MODEL_SCHEMAS, "_oms_build_backup"))
        for schema, name in con.execute(
            f"select schema_name, table_name from duckdb_tables() where schema_name in ({schemas})"
        ).fetchall():
            out[f"{schema}.{name}"] = tuple(
                con.execute(
                    f'select count(*), bit_xor(hash(t)) from "{schema}"."{name}" t'
                ).fetchall()[0]
            )
        for schema, name, sql in con.execute(
            f"select schema_name, view_name, sql from duckdb_views() where schema_name in ({schemas})"
        ).fetchall():
            out[f"{schema}.{name}"] = ("view", sql)
    return out


def test_snapshot_and_restore_put_back_tables_views_and_drop_new_relations(tmp_path):
    from flows.dbt_runner import BACKUP_SCHEMA, restore_snapshot, snapshot

    class Cfg:
        warehouse = str(tmp_path / "w.duckdb")

    cfg = Cfg()
    with connection(cfg.warehouse) as con:
        con.execute("create schema staging; create schema marts; create schema intermediate")
        con.execute("create table staging.s as select range as id from range(1000)")
        con.execute("create table marts.m as select id, id * 2 as v from staging.s")
        con.execute("create view marts.v as select count(*) as n from marts.m")
    before = _fingerprint(cfg.warehouse)
    assert snapshot(cfg) == 2  # type: ignore[arg-type]
    with connection(cfg.warehouse) as con:  # what a build that fails half-way leaves
        con.execute("insert into staging.s select 5000")
        con.execute("create or replace table marts.m as select 1 as id")
        con.execute("create or replace view marts.v as select 42 as n")
        con.execute("create table marts.new_model as select 1 as x")
        con.execute("create table marts.m__dbt_tmp as select 1 as x")
    assert "2 tables restored, 3 relations" in restore_snapshot(cfg)  # type: ignore[arg-type]
    assert _fingerprint(cfg.warehouse) == before
    assert restore_snapshot(cfg) is None  # type: ignore[arg-type]
    with connection(cfg.warehouse, read_only=True) as con:
        assert not con.execute(
            "select * from duckdb_schemas() where schema_name = ?", [BACKUP_SCHEMA]
        ).fetchall()


def _broken_project(tmp_path: Path) -> Path:
    """The dbt project with one more mart downstream of the incremental daily_demand that fails:
    the build fails after daily_demand (and most marts) took the new rows."""
    from flows.dbt_runner import DBT_PROJECT_DIR

    broken = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, broken, ignore=shutil.ignore_patterns("target", "logs"))
    (broken / "models" / "marts" / "zz_broken.sql").write_text(
        "select sku, units_ordered / nothing_here as x from {{ ref('daily_demand') }}\n"
    )
    return broken


def test_a_build_killed_midway_is_restored_by_the_next_build(tmp_path, prefect_harness):
    """A process killed during dbt leaves its snapshot behind; the next build restores it first."""
    from flows.dbt_runner import snapshot
    from flows.demo import prepare_demo
    from flows.pipeline import pipeline_flow

    cfg, _, _ = prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END)
    pipeline_flow(cfg=cfg, stages=["sync", "build"])
    before = _fingerprint(cfg.warehouse)
    snapshot(cfg)
    with connection(cfg.warehouse) as con:  # the half-done work of the killed build
        con.execute("delete from marts.daily_demand where demand_date > '2026-06-01'")
        con.execute("create table marts.orders__dbt_tmp as select 1 as x")
    summary = pipeline_flow(cfg=cfg, stages=["build"])
    assert summary.dbt is not None and _fingerprint(cfg.warehouse) == before


def test_a_failed_hourly_build_is_undone_from_what_it_changed(
    tmp_path, prefect_harness, monkeypatch
):
    """The rollback of an incremental build costs what the build changed: nothing is copied
    before it; the old version of each table model is kept by renaming, and each increment
    stashes the rows it replaces. Left as a killed build leaves them (dbt failed after the
    increment of daily_demand), they restore the incremental marts row for row."""
    from flows.dbt_runner import BACKUP_SCHEMA, DbtFailed, restore_snapshot, run_dbt, snapshot
    from flows.demo import prepare_demo
    from flows.pipeline import pipeline_flow, selector
    from flows.warehouse import raw_tables_pending_build

    marts = ("daily_demand", "inventory_snapshots")
    cfg, _, _ = prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END, as_of=date(2026, 6, 27))
    pipeline_flow(cfg=cfg, stages=["sync", "build"])
    prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END)  # three more days of trading
    pipeline_flow(cfg=cfg, stages=["sync"])
    before = _fingerprint(cfg.warehouse)
    with connection(cfg.warehouse) as con:
        pending = raw_tables_pending_build(con)
        con.execute("create schema expected")
        for t in marts:
            con.execute(f"create table expected.{t} as from marts.{t}")
        size = {t: con.execute(f"select count(*) from marts.{t}").fetchall()[0][0] for t in marts}
    assert pending

    monkeypatch.setenv("OMS_DBT_PROJECT_DIR", str(_broken_project(tmp_path)))
    assert snapshot(cfg, set()) == 0  # what build() opens: an inventory, no copy
    with pytest.raises(DbtFailed, match="zz_broken"):
        run_dbt(cfg, "build", select=selector(pending))  # as if killed here: nothing restored
    with connection(cfg.warehouse, read_only=True) as con:
        assert (
            con.execute("select max(demand_date) from marts.daily_demand").fetchall()[0][0] == END
        )
        backup = {
            name: con.execute(f'select count(*) from {BACKUP_SCHEMA}."{name}"').fetchall()[0][0]
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = ?", [BACKUP_SCHEMA]
            ).fetchall()
        }
        moved_aside = {
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
                " and ends_with(table_name, '__dbt_backup')"
            ).fetchall()
        }
        changed = {
            t: con.execute(
                f"select count(*) from (from marts.{t} except all from expected.{t})"
            ).fetchall()[0][0]
            for t in marts
        }
    print(f"sizes {size}, changed {changed}, stash {backup}, moved aside {sorted(moved_aside)}")
    assert "orders__dbt_backup" in moved_aside  # a table mart: renamed, not copied
    assert not any(f"marts__{t}" in backup for t in marts)  # no copy of the incremental marts
    for t in marts:
        stashed = backup[f"marts__{t}__stash_rows"]
        assert backup[f"marts__{t}__stash_keys"] > 0 and changed[t] > 0
        # the stash holds the rows the increment replaced: about what changed, not the table
        assert stashed <= 2 * changed[t] + 100 and stashed < size[t] / 2, (t, stashed, size[t])

    assert restore_snapshot(cfg) is not None  # what the next build does first
    assert _fingerprint(cfg.warehouse) == before
    with connection(cfg.warehouse, read_only=True) as con:
        for t in marts:
            for a, b in ((f"marts.{t}", f"expected.{t}"), (f"expected.{t}", f"marts.{t}")):
                extra = con.execute(f"select count(*) from (from {a} except all from {b})")
                assert extra.fetchall()[0][0] == 0, (a, b)


# -------------------------------------------------------------- imports and entrypoints


def test_no_module_of_ours_shadows_a_dependency_or_the_standard_library():
    """Prefect puts an entrypoint file's folder first on sys.path; a `flows/dbt.py` there once
    shadowed the dbt package. No module in flows/ may share a name with a top-level module of the
    standard library or of an installed distribution."""
    top_level = set(importlib.metadata.packages_distributions())
    ours = {"flows", "connectors", "forecasting", "sandbox", "tests", "bench"}
    clashes = []
    for path in (ROOT / "flows").iterdir():
        name = path.stem if path.suffix == ".py" else path.name if path.is_dir() else None
        if name in (None, "__init__", "__pycache__"):
            continue
        if name in sys.stdlib_module_names or (name in top_level and name not in ours):
            clashes.append(path.name)
    assert not clashes, f"rename these modules, they shadow installed ones: {clashes}"


def test_entrypoints_are_module_paths_and_load_as_the_module_oms_uses(monkeypatch):
    """prefect.yaml's entrypoints load, through Prefect's own loader, to the very flow objects
    `oms` runs (flows.pipeline), and loading them puts no folder of ours on sys.path."""
    from prefect.flows import load_flow_from_entrypoint

    import flows.pipeline
    from flows.serve import entrypoint_flow, load_deployments

    monkeypatch.chdir(ROOT)
    before = list(sys.path)
    for dep in load_deployments(ROOT / "prefect.yaml"):
        entrypoint = dep["entrypoint"]
        assert ":" not in entrypoint and entrypoint.startswith("flows.pipeline."), entrypoint
        name = entrypoint.rpartition(".")[2]
        assert load_flow_from_entrypoint(entrypoint) is getattr(flows.pipeline, name)
        assert entrypoint_flow(entrypoint) is getattr(flows.pipeline, name)
    assert entrypoint_flow("flows/pipeline.py:hourly_sync") is flows.pipeline.hourly_sync
    assert sys.path == before


def test_served_deployments_use_module_path_entrypoints(tmp_path, monkeypatch):
    from prefect.deployments.runner import EntrypointType

    from flows.serve import entrypoint_flow, load_deployments

    monkeypatch.chdir(tmp_path)  # `oms serve` may run from any folder
    for dep in load_deployments(ROOT / "prefect.yaml"):
        deployment = entrypoint_flow(dep["entrypoint"]).to_deployment(
            name=dep["name"], entrypoint_type=EntrypointType.MODULE_PATH
        )
        assert deployment.entrypoint == dep["entrypoint"]
    yaml.safe_load((ROOT / "prefect.yaml").read_text())  # still valid YAML


def test_reference_tables_are_not_recreated_by_init(tmp_path):
    """`create table if not exists`: opening the warehouse without the config empties nothing."""
    from flows.warehouse import init_warehouse, write_reference_tables
    from tests.conftest import make_config

    cfg = make_config(tmp_path)
    with connection(cfg.warehouse) as con:
        init_warehouse(con, cfg)
        init_warehouse(con)
        assert con.execute("select count(*) from ops.channels").fetchall()[0][0] == len(
            cfg.channels
        )
        write_reference_tables(con, cfg)  # rewriting replaces, never duplicates
        assert con.execute("select count(*) from ops.locations").fetchall()[0][0] == len(
            cfg.locations
        )


def test_raw_tables_pending_build(tmp_path):
    from flows.warehouse import init_warehouse, mark_raw_built, raw_tables_pending_build
    from tests.conftest import make_config

    cfg = make_config(tmp_path)
    with connection(cfg.warehouse) as con:
        init_warehouse(con, cfg)
        assert raw_tables_pending_build(con) == []
        con.execute(
            "insert into raw.shop__orders values ('1', null, '{}', 'h', 'l', ?)",
            [datetime(2026, 1, 1, tzinfo=UTC)],
        )
        assert raw_tables_pending_build(con) == ["shop__orders"]
        mark_raw_built(con, ["shop__orders"], datetime(2026, 1, 2, tzinfo=UTC))
        assert raw_tables_pending_build(con) == []
        mark_raw_built(con, ["shop__orders"], datetime(2025, 1, 1, tzinfo=UTC))  # never back
        assert raw_tables_pending_build(con) == []
    assert duckdb.__version__
