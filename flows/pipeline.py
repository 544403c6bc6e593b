"""The Prefect flow that runs the pipeline: sync -> dbt build -> checks -> forecast -> reorder.

Each stage is a task; the flow holds the warehouse writer lock for its whole run and records itself
in `ops.runs`. Tasks take the validated Config and return plain dataclasses, so the summary the CLI
prints is exactly what the flow returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.checks import CheckReport, check_marts, record_outcomes
from flows.config import Config, load_config
from flows.dbt import DbtReport, run_dbt
from flows.planning import PlanningReport, run_planning
from flows.sync import SyncReport, sync_files
from flows.warehouse import finish_run, new_run_id, start_run, writer_lock

STAGES = ("sync", "build", "check", "forecast")


@dataclass
class RunSummary:
    run_id: str
    run_date: date
    warehouse: str
    sync: SyncReport | None = None
    dbt: DbtReport | None = None
    checks: CheckReport | None = None
    planning: PlanningReport | None = None
    counts: dict[str, int] = field(default_factory=dict)


@task(name="sync-files", cache_policy=NO_CACHE)
def sync_task(cfg: Config, channel: str | None = None) -> SyncReport:
    report = sync_files(cfg, only_channel=channel)
    log = get_run_logger()
    log.info(
        "landed %s rows from %s files (%s skipped, %s rejected), quarantined %s",
        report.rows_landed,
        report.files_landed,
        report.files_skipped,
        report.files_rejected,
        report.rows_quarantined,
    )
    for reason in report.rejected:
        log.warning("rejected: %s", reason)
    return report


@task(name="dbt-build", cache_policy=NO_CACHE)
def dbt_task(cfg: Config) -> DbtReport:
    log = get_run_logger()
    return run_dbt(cfg, "build", on_event=log.info)


@task(name="data-checks", cache_policy=NO_CACHE)
def check_task(
    cfg: Config, run_id: str, landing_outcomes: list[dict], as_of: datetime | None = None
) -> CheckReport:
    record_outcomes(cfg, run_id, landing_outcomes)
    report = check_marts(cfg, run_id, as_of=as_of)
    for failure in report.failed:
        get_run_logger().warning("check failed: %s", failure)
    return report


@task(name="forecast-and-reorder", cache_policy=NO_CACHE)
def planning_task(cfg: Config, run_date: date) -> PlanningReport:
    return run_planning(cfg, run_date)


def _counts(cfg: Config) -> dict[str, int]:
    from flows.warehouse import connection

    queries = {
        "orders": "select count(*) from marts.orders",
        "order_lines": "select count(*) from marts.order_lines",
        "customers": "select count(*) from marts.customers",
        "skus": "select count(distinct sku) from marts.inventory_levels",
        "locations": "select count(distinct location_id) from marts.inventory_levels",
        "raw_rows": None,
    }
    out: dict[str, int] = {}
    with connection(cfg.warehouse, read_only=True) as con:
        for name, sql in queries.items():
            if sql is None:
                tables = con.execute(
                    "select table_name from information_schema.tables where table_schema = 'raw'"
                ).fetchall()
                out[name] = sum(
                    con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for (t,) in tables
                )
                continue
            try:
                out[name] = con.execute(sql).fetchall()[0][0]
            except Exception:  # a mart not built yet (e.g. `oms sync` alone)
                out[name] = 0
    return out


@flow(name="oms-pipeline", log_prints=True)
def pipeline_flow(
    config_path: str | None = None,
    run_date: date | None = None,
    stages: list[str] | None = None,
    channel: str | None = None,
    cfg: Config | None = None,
) -> RunSummary:
    """Run the chosen stages (default: all) in order under the warehouse writer lock."""
    cfg = cfg or load_config(config_path)
    stages = list(stages or STAGES)
    # Freshness is judged at the run date's start when one is given (a planning run for that
    # morning), else now (an hourly sync).
    as_of = datetime.combine(run_date, time(0), tzinfo=UTC) if run_date else datetime.now(UTC)
    run_date = run_date or date.today()
    run_id = new_run_id()
    summary = RunSummary(run_id, run_date, cfg.warehouse)
    with writer_lock(cfg.warehouse, cfg.lock_timeout_seconds):
        start_run(cfg.warehouse, run_id, "oms-pipeline:" + "+".join(stages))
        try:
            if "sync" in stages:
                summary.sync = sync_task(cfg, channel)
            if "build" in stages:
                summary.dbt = dbt_task(cfg)
            if "check" in stages:
                outcomes = summary.sync.outcomes if summary.sync else []
                summary.checks = check_task(cfg, run_id, outcomes, as_of)
            if "forecast" in stages:
                summary.planning = planning_task(cfg, run_date)
            summary.counts = _counts(cfg)
        except BaseException as exc:
            finish_run(
                cfg.warehouse,
                run_id,
                "failed",
                summary.sync.rows_landed if summary.sync else 0,
                summary.sync.rows_quarantined if summary.sync else 0,
                f"{type(exc).__name__}: {exc}"[:2000],
            )
            raise
        status = "success" if not summary.checks or summary.checks.ok else "checks_failed"
        finish_run(
            cfg.warehouse,
            run_id,
            status,
            summary.sync.rows_landed if summary.sync else 0,
            summary.sync.rows_quarantined if summary.sync else 0,
            None if status == "success" else "; ".join(summary.checks.critical_failed)[:2000],
        )
    return summary


def default_run_date(end_date: date | None) -> date:
    """Plans are made the morning after the last day of data."""
    return (end_date + timedelta(days=1)) if end_date else date.today()


def reorder_folder(cfg: Config, run_date: date) -> Path:
    return Path(cfg.replenishment.output_dir) / "reorder" / run_date.isoformat()
