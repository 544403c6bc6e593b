"""The Prefect flows: what runs, in which order, with which retries, under which lock.

* `hourly_sync`: every channel as its own task (concurrently: API channels wait on the network),
  then `dbt build` of only the models downstream of the raw tables that received rows, then the
  data checks.
* `daily_replenishment`: sync, full `dbt build`, checks, forecast, replenishment, buyer files.
* `full_refresh`: rebuild every model from raw (`dbt build --full-refresh`) and re-check.
* `backfill`: re-read one API channel from a start date, page by page (resumable: every page
  commits its cursor).
* `pipeline_flow`: any list of stages; what the CLI commands and the tests call.

Every run ends by publishing the marts, planning and ops tables into the read-only copy analysts
and BI tools open (`publish_stage`, `published_warehouse` in oms.yaml), replaced atomically; a run
that also forecasts publishes once more before the forecast, so new marts are readable sooner.

Every flow holds the warehouse writer lock for its whole run. A run that cannot get it within
`lock_timeout_seconds` is skipped with a clear log line (the next hourly run catches up). A run
that died (killed, machine lost) leaves `ops.runs` at 'running'; the next run marks it 'crashed'
and, because every landing step is idempotent, simply completes the work.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import ExternalSignal
from prefect.tasks import exponential_backoff

from connectors.http import ChannelAuthError, ChannelError
from flows.checks import CheckReport, check_marts, record_outcomes
from flows.config import Config, ConfigError, load_config
from flows.dbt_runner import DbtReport, build
from flows.notify import notify
from flows.planning import PlanningReport, run_planning
from flows.progress import tick
from flows.quality import PageRejected
from flows.sync import SyncReport, sync_files
from flows.warehouse import (
    PublishReport,
    WarehouseBusy,
    WarehouseHeld,
    all_raw_tables,
    connection,
    finish_run,
    mark_crashed_runs,
    mark_raw_built,
    new_run_id,
    publish,
    raw_tables_pending_build,
    start_run,
    writer_lock,
)

STAGES = ("sync", "build", "check", "forecast")


@dataclass
class RunSummary:
    run_id: str
    run_date: date
    warehouse: str
    flow: str = "oms-pipeline"
    sync: SyncReport | None = None
    dbt: DbtReport | None = None
    checks: CheckReport | None = None
    planning: PlanningReport | None = None
    counts: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None  # why the run did nothing (the lock was held)
    crashed_before: int = 0
    published: PublishReport | None = None  # the last copy published for readers
    dashboard: Path | None = None  # the morning page, written by runs that forecast
    log_file: str | None = None  # library and flow log lines of this run


# ------------------------------------------------------------------------------------- tasks


# What a retry cannot fix: refused or missing credentials, a bad configuration, a page or file
# refused by the landing gate. Decided by type, never by message text.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    ChannelAuthError,
    ConfigError,
    PageRejected,
    WarehouseBusy,  # the file was held for the whole lock timeout already
)


def is_retryable(exc: BaseException) -> bool:
    """Whether retrying a channel sync that raised `exc` can help: network errors (httpx
    transport errors, timeouts) and 429/5xx answers can; a permanent error (PERMANENT_ERRORS,
    an HTTP 4xx answer other than 429) cannot; neither can an interrupt."""
    if not isinstance(exc, Exception) or isinstance(exc, PERMANENT_ERRORS):
        return False
    if isinstance(exc, ChannelError):
        return exc.retryable
    return True


def _retry_network_only(task, task_run, state) -> bool:
    """Prefect's retry condition for `sync-channel`: retry only when a retry can help."""
    try:
        state.result()
    except BaseException as exc:  # the task's own exception
        return is_retryable(exc)
    return False


@task(
    name="sync-channel",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
    retry_jitter_factor=0.5,
    retry_condition_fn=_retry_network_only,
)
def sync_channel_task(cfg: Config, channel: str) -> SyncReport:
    """Land one channel: files from its drop folder, or pages from its API."""
    log = get_run_logger()
    ch = next((c for c in cfg.channels if c.name == channel), None)
    if ch is not None and getattr(ch, "source", "files") == "api":
        from flows.api_sync import sync_api

        report = sync_api(cfg, only_channel=channel, on_page=lambda page: tick("API pages landed"))
    else:
        report = sync_files(cfg, only_channel=channel, on_file=lambda path: tick("files landed"))
    log.info(
        "%s: %s new record versions, %s files (%s already landed, %s rejected), %s quarantined",
        channel,
        report.rows_landed,
        report.files_landed,
        report.files_skipped,
        report.files_rejected,
        report.rows_quarantined,
    )
    for reason in report.rejected:
        log.warning("%s rejected: %s", channel, reason)
    return report


@task(name="dbt-build", cache_policy=NO_CACHE, timeout_seconds=3600)
def dbt_task(cfg: Config, select: str | None = None, full_refresh: bool = False) -> DbtReport:
    """dbt in-process; its per-node lines stream into this task's log as they happen."""
    log = get_run_logger()

    def on_event(line: str) -> None:
        log.info(line)
        tick("dbt models and tests")

    return build(cfg, select=select, full_refresh=full_refresh, on_event=on_event, on_log=log.info)


@task(name="data-checks", cache_policy=NO_CACHE, timeout_seconds=1800)
def check_task(
    cfg: Config,
    run_id: str,
    landing_outcomes: list[dict],
    as_of: datetime | None = None,
    run_date: date | None = None,
) -> CheckReport:
    record_outcomes(cfg, run_id, landing_outcomes)
    report = check_marts(cfg, run_id, as_of=as_of, run_date=run_date)
    for failure in report.failed:
        get_run_logger().warning("check failed: %s", failure)
    return report


@task(name="forecast-batch", cache_policy=NO_CACHE, retries=1)
def forecast_batch_task(series_batch, run_date: date, settings, context=None):
    """One batch of series: what a Dask worker runs when the flow is spread over a cluster.
    `context` (`forecasting.engine.store_context`) is measured on all the series, as
    `forecast_all` does: a batch's own would make the forecast depend on how the series are cut."""
    from forecasting import forecast_batch

    return forecast_batch(series_batch, run_date, settings, **(context or {}))


def forecast_on_tasks(demand, run_date: date, settings, products):
    """The forecast as one Prefect task per batch of series (mapped), concatenated in order."""
    import polars as pl

    from forecasting import build_series, iter_batches

    series = build_series(demand, run_date, settings.freq, products=products,
                          history_days=settings.history_days)  # fmt: skip
    batches = list(iter_batches(series, settings.batch_size))
    if not batches:
        from forecasting import forecast_all

        return forecast_all(demand, run_date, settings, workers=1, products=products,
                            on_batch=lambda: tick("forecast batches"))  # fmt: skip
    from prefect import unmapped

    from forecasting.engine import store_context

    futures = forecast_batch_task.map(
        batches,
        run_date=run_date,
        settings=settings,
        context=unmapped(store_context(series, settings)),
    )
    results = [f.result() for f in futures]
    keys = ["sku", "location_id"]
    forecast = pl.concat([r[0] for r in results]).sort([*keys, "period_start"])
    accuracy = pl.concat([r[1] for r in results]).sort([*keys, "model"])
    return forecast, accuracy


def _on_a_cluster() -> bool:
    """True when the flow runs with a Dask task runner (`flow.with_options(task_runner=...)`)."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return ctx is not None and type(ctx.task_runner).__name__ == "DaskTaskRunner"


@task(name="forecast-and-reorder", cache_policy=NO_CACHE, timeout_seconds=3600)
def planning_task(cfg: Config, run_date: date) -> PlanningReport:
    return run_planning(cfg, run_date)


# --------------------------------------------------------------------------------- helpers


def channel_units(cfg: Config, channel: str | None = None) -> list[str]:
    """The units of work of a sync: each enabled channel, and the reference files."""
    names = [c.name for c in cfg.channels if c.enabled]
    if channel:
        if channel not in [*names, "files"]:
            raise ValueError(f"--channel: no enabled channel named '{channel}' (have {names})")
        return [channel]
    return [*names, "files"]


def merge_reports(reports: list[SyncReport]) -> SyncReport:
    total = SyncReport()
    for r in reports:
        total.merge(r)
    return total


def selector(tables: list[str] | None) -> str | None:
    """dbt selector of every model downstream of `tables` (None: no selection, build all)."""
    return " ".join(f"source:raw.{t}+" for t in tables) or None if tables is not None else None


def changed_selector(sync: SyncReport) -> str | None:
    """dbt selector for what the new rows feed: every model downstream of a changed raw table."""
    return selector(sorted(t for t, n in sync.by_table.items() if n > 0))


def changed_tables(cfg: Config, sync: SyncReport | None) -> list[str]:
    """Raw tables an incremental build must cover: those this run landed rows in, and those
    holding rows no successful build has covered yet (landed by a run whose build failed and was
    rolled back, or that was killed)."""
    landed = {t for t, n in (sync.by_table.items() if sync else []) if n > 0}
    with connection(cfg.warehouse) as con:
        pending = raw_tables_pending_build(con)
    return sorted(landed | set(pending))


def _counts(cfg: Config) -> dict[str, int]:
    queries = {
        "orders": "select count(*) from marts.orders",
        "order_lines": "select count(*) from marts.order_lines",
        "customers": "select count(*) from marts.customers",
        # what exists, whether or not a stock report came: the catalogue and the configuration
        "skus": "select count(*) from marts.products",
        "locations": "select count(*) from ops.locations",
    }
    out: dict[str, int] = {}
    with connection(cfg.warehouse, read_only=True) as con:
        for name, sql in queries.items():
            try:
                out[name] = con.execute(sql).fetchall()[0][0]
            except Exception:  # a mart not built yet (e.g. `oms sync` alone)
                out[name] = 0
    return out


def _artifacts(summary: RunSummary) -> None:
    """A markdown summary and the purchase-order suggestions, visible in the Prefect UI."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    lines = [f"# {summary.flow} · {summary.run_date}", "", "| stage | result |", "|---|---|"]
    if summary.sync:
        s = summary.sync
        lines.append(
            f"| sync | {s.rows_landed:,} rows landed, {s.rows_quarantined} quarantined, "
            f"{s.files_rejected} files rejected |"
        )
        for t, n in sorted(s.by_table.items()):
            lines.append(f"| ↳ {t} | {n:,} |")
    if summary.dbt:
        d = summary.dbt
        lines.append(
            f"| dbt | {d.models_built} models built, {d.tests_passed} tests passed, "
            f"{d.tests_failed} failed, {d.unit_tests_passed} unit tests passed |"
        )
    if summary.checks:
        c = summary.checks
        lines.append(
            f"| checks | {'pass' if c.ok else 'FAIL'}: {len(c.failed)} failed expectations |"
        )
    if summary.planning:
        p = summary.planning
        lines.append(
            f"| reorder | {p.suggestions} suggestions for {p.suppliers} suppliers, "
            f"{p.needs_attention} need attention · `{p.folder}` |"
        )
    create_markdown_artifact(
        "\n".join(lines), key="oms-run-summary", description=f"oms run {summary.run_id}"
    )
    if summary.planning and summary.planning.suggestion_rows:
        create_table_artifact(
            summary.planning.suggestion_rows,
            key="oms-po-suggestions",
            description=f"purchase-order suggestions for {summary.run_date}",
        )


# ---------------------------------------------------------------------------- run record


def _rows(summary: RunSummary) -> tuple[int, int]:
    return (summary.sync.rows_landed, summary.sync.rows_quarantined) if summary.sync else (0, 0)


# Someone stopped the run (Ctrl-C; Prefect turns SIGTERM from a stopping runner or worker into
# an ExternalSignal): recorded 'interrupted', not 'failed'.
INTERRUPTIONS: tuple[type[BaseException], ...] = (KeyboardInterrupt, ExternalSignal)


@contextmanager
def run_record(cfg: Config, summary: RunSummary, label: str | None = None) -> Iterator[RunSummary]:
    """The run's row in `ops.runs`, around its stages (enter it holding the writer lock).

    Marks runs left 'running' by a process that died as 'crashed', writes the reference tables
    from the config, records this run as 'running', and when the block ends records 'success',
    'checks_failed' (a critical data check failed) or 'failed' (an exception: its type and message,
    and a `run_failed` webhook notification); 'partial' when the build held a channel back
    (a dbt test failed on its records: the others' marts were built, see flows/dbt_runner.py);
    'interrupted' when someone stopped it (Ctrl-C, or `oms serve` / a worker shutting down sends
    the run's process a termination signal): nothing went wrong with the data, so it is neither
    'failed' nor notified, and the next run completes its work."""
    log = get_run_logger()
    summary.crashed_before = mark_crashed_runs(cfg.warehouse, cfg)
    if summary.crashed_before:
        log.warning(
            "%s earlier run(s) had died mid-way; this run completes their work",
            summary.crashed_before,
        )
    start_run(cfg.warehouse, summary.run_id, label or summary.flow, cfg)
    try:
        yield summary
    except INTERRUPTIONS as exc:
        try:
            finish_run(
                cfg.warehouse, summary.run_id, "interrupted", *_rows(summary),
                f"interrupted by {type(exc).__name__}",
            )  # fmt: skip
        except Exception as record_exc:  # left 'running': the next run marks it 'crashed'
            log.error("could not record the interrupted run: %s", record_exc)
        raise
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"[:2000]
        try:
            if isinstance(exc, WarehouseHeld):  # cannot be written: the next run marks it crashed
                log.error("%s", exc)
            else:
                finish_run(cfg.warehouse, summary.run_id, "failed", *_rows(summary), message)
        except Exception as record_exc:  # never hide the run's own error behind this one
            log.error("could not record the failed run: %s", record_exc)
        notify("run_failed", {"flow": summary.flow, "run_id": summary.run_id, "error": message})
        raise
    checks = summary.checks
    status = "success" if checks is None or checks.ok else "checks_failed"
    note = None if checks is None or checks.ok else "; ".join(checks.critical_failed)[:2000]
    held = summary.dbt.held_back if summary.dbt else {}
    if held:  # the marts were built without these channels' new records
        status = "partial"
        note = "; ".join(
            [f"held back {ch}: " + " | ".join(lines) for ch, lines in sorted(held.items())]
            + ([note] if note else [])
        )[:2000]
        log.warning("%s", note)
    finish_run(cfg.warehouse, summary.run_id, status, *_rows(summary), note)


# -------------------------------------------------------------------------------- stages


def sync_stage(cfg: Config, summary: RunSummary, channel: str | None = None) -> None:
    """Every channel (or one) as its own task, concurrently; their reports merged."""
    futures = [sync_channel_task.submit(cfg, unit) for unit in channel_units(cfg, channel)]
    summary.sync = merge_reports([f.result() for f in futures])


def build_stage(
    cfg: Config, summary: RunSummary, select_changed: bool = False, full_refresh: bool = False
) -> None:
    """`dbt build`: everything, or (`select_changed`) only what is downstream of raw tables with
    rows not yet built (this run's and any a failed or killed earlier build left); skipped when
    there are none. A failed build leaves the warehouse as it was (flows.dbt_runner.build)."""
    tables: list[str] | None = None
    if select_changed:
        tables = changed_tables(cfg, summary.sync)
        if not tables:
            get_run_logger().info("no new rows: dbt build skipped")
            return
        with connection(cfg.warehouse, read_only=True) as con:
            never_built = not con.execute("select count(*) from ops.dbt_built").fetchall()[0][0]
        if never_built:  # a first build: models not downstream of raw (stg_ops__*) are missing
            tables = None
    started = datetime.now(UTC)
    summary.dbt = dbt_task(cfg, select=selector(tables), full_refresh=full_refresh)
    built = [  # a channel the build held back is built again by the next run
        t
        for t in (tables if tables is not None else all_raw_tables())
        if t.split("__")[0] not in summary.dbt.held_back
    ]
    with connection(cfg.warehouse) as con:
        mark_raw_built(con, built, started)


def check_stage(cfg: Config, summary: RunSummary, as_of: datetime) -> None:
    outcomes = summary.sync.outcomes if summary.sync else []
    # freshness as of the run date's end when that is past (historical data), else now
    summary.checks = check_task(cfg, summary.run_id, outcomes, as_of, summary.run_date)


def forecast_stage(cfg: Config, summary: RunSummary) -> None:
    # On a Dask cluster the forecast batches are mapped as tasks across its workers; on one
    # machine a local process pool inside the task is faster than threads.
    if _on_a_cluster():
        summary.planning = run_planning(cfg, summary.run_date, forecast_fn=forecast_on_tasks)
    else:
        summary.planning = planning_task(cfg, summary.run_date)


def publish_stage(cfg: Config, summary: RunSummary) -> None:
    """Publish the marts, the planning tables and `ops` into the read-only file analysts and BI
    tools open (`published_warehouse`), replaced atomically (flows.warehouse.publish): the
    tables changed since the previous publication are copied, the others kept from it."""
    summary.published = publish(cfg.warehouse, cfg.published_path(), summary.run_id)
    p = summary.published
    get_run_logger().info(
        "published %s tables (%s rows) to %s in %.2f s: %s copied (%s rows), %s kept (%s rows)%s",
        p.tables,
        f"{p.rows:,}",
        p.path,
        p.seconds,
        p.copied,
        f"{p.copied_rows:,}",
        p.kept,
        f"{p.kept_rows:,}",
        f"; full copy: {p.full_copy}" if p.full_copy else "",
    )


def dashboard_stage(cfg: Config, summary: RunSummary) -> None:
    """The morning dashboard (`<output_dir>/dashboard/index.html`), from the snapshot just
    published, so it shows this run's outcome. A convenience page: a failure is logged, never
    fails the landed and planned run."""
    from flows.dashboard import write_dashboard

    try:
        summary.dashboard = write_dashboard(cfg, summary.run_date, path=cfg.published_path())
    except Exception as exc:
        get_run_logger().warning("could not write the dashboard: %s", exc)


def _publish_after_failure(cfg: Config, summary: RunSummary) -> None:
    """A failed run leaves the working file consistent (a failed build is rolled back): publish
    it anyway, so readers' `ops.runs` shows the failure. Best effort; never hides the error."""
    try:
        publish_stage(cfg, summary)
    except Exception as exc:
        get_run_logger().warning("could not publish after the failed run: %s", exc)


@contextmanager
def run_log(cfg: Config, summary: RunSummary) -> Iterator[None]:
    """Every log line of the run (ours, Prefect's, GX's) also goes to
    `<output_dir>/logs/<run_id>.log`, with the traceback when the run fails; the CLI keeps them
    off the console unless `--verbose`."""
    path = Path(cfg.replenishment.output_dir) / "logs" / f"{summary.run_id}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    summary.log_file = str(path)
    try:
        yield
    except BaseException:
        handler.emit(
            logging.makeLogRecord(
                {"name": __name__, "levelno": logging.ERROR, "levelname": "ERROR",
                 "msg": "the run failed:\n%s", "args": (traceback.format_exc(),)}
            )
        )  # fmt: skip
        raise
    finally:
        root.removeHandler(handler)
        handler.close()


def _publish(summary: RunSummary) -> None:
    """After the lock is released: the stock-out alert and the Prefect artifacts."""
    if summary.planning and summary.planning.stockout_alerts:
        notify(
            "stockout_risk",
            {"run_date": summary.run_date.isoformat(), "items": summary.planning.stockout_alerts},
        )
    try:
        _artifacts(summary)
    except Exception as exc:  # artifacts are a convenience; never fail a landed run for them
        get_run_logger().warning("could not write Prefect artifacts: %s", exc)


def _skipped(summary: RunSummary, exc: WarehouseBusy) -> RunSummary:
    get_run_logger().warning("skipped: %s", exc)
    summary.skipped = str(exc)
    return summary


def _run(
    cfg: Config,
    flow_name: str,
    stages: list[str],
    run_date: date | None,
    channel: str | None = None,
    full_refresh: bool = False,
    select_changed: bool = False,
) -> RunSummary:
    """The body the flows share: the chosen stages in order, under the lock, recorded."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; the stages are {list(STAGES)}")
    # The volume check's reference: the run date's start when one is given (a planning run for
    # that morning), else now (an hourly sync). Freshness goes by summary.run_date (check_stage).
    as_of = datetime.combine(run_date, time(0), tzinfo=UTC) if run_date else datetime.now(UTC)
    summary = RunSummary(new_run_id(), run_date or date.today(), cfg.warehouse, flow=flow_name)
    try:
        with writer_lock(cfg.warehouse, cfg.lock_timeout_seconds), run_log(cfg, summary):
            try:
                with run_record(cfg, summary):
                    if "sync" in stages:
                        sync_stage(cfg, summary, channel)
                    if "build" in stages:
                        build_stage(cfg, summary, select_changed, full_refresh)
                    if "check" in stages:
                        check_stage(cfg, summary, as_of)
                    if "forecast" in stages:
                        if summary.dbt is not None:  # readers get the new marts while it runs
                            publish_stage(cfg, summary)
                        forecast_stage(cfg, summary)
                    summary.counts = _counts(cfg)
            except WarehouseBusy:
                raise
            except Exception:
                _publish_after_failure(cfg, summary)
                raise
            # After the run is recorded, so readers' ops.runs shows how it ended.
            publish_stage(cfg, summary)
            if "forecast" in stages:
                dashboard_stage(cfg, summary)
    except WarehouseBusy as exc:
        # The writer lock (nothing ran, nothing was recorded), or the file held open by another
        # process for the whole lock timeout.
        if isinstance(exc, WarehouseHeld):
            exc.published = cfg.published_path()
        return _skipped(summary, exc)
    _publish(summary)
    return summary


# ------------------------------------------------------------------------------------- flows


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
    return _run(cfg, "oms-pipeline", list(stages or STAGES), run_date, channel)


@flow(name="hourly-sync", log_prints=True)
def hourly_sync(config_path: str | None = None, cfg: Config | None = None) -> RunSummary:
    """Land what changed, rebuild only what it feeds, check."""
    cfg = cfg or load_config(config_path)
    return _run(cfg, "hourly-sync", ["sync", "build", "check"], None, select_changed=True)


@flow(name="daily-replenishment", log_prints=True)
def daily_replenishment(
    config_path: str | None = None, run_date: date | None = None, cfg: Config | None = None
) -> RunSummary:
    """The morning run: everything, and the buyer's files for `run_date` (default today)."""
    cfg = cfg or load_config(config_path)
    return _run(cfg, "daily-replenishment", list(STAGES), run_date or date.today())


@flow(name="full-refresh", log_prints=True)
def full_refresh(config_path: str | None = None, cfg: Config | None = None) -> RunSummary:
    """Rebuild every model from raw (incremental models included) and re-check."""
    cfg = cfg or load_config(config_path)
    return _run(cfg, "full-refresh", ["build", "check"], None, full_refresh=True)


@flow(name="backfill", log_prints=True)
def backfill(
    channel: str,
    start: date,
    end: date | None = None,
    config_path: str | None = None,
    cfg: Config | None = None,
) -> RunSummary:
    """Re-read one API channel from `start` (to `end`, default now), then rebuild what it fed.

    Resumable: each page commits with its cursor, so a stopped backfill restarts where it was."""
    from flows.api_sync import backfill_channel

    cfg = cfg or load_config(config_path)
    summary = RunSummary(new_run_id(), date.today(), cfg.warehouse, flow="backfill")
    try:
        with writer_lock(cfg.warehouse, cfg.lock_timeout_seconds), run_log(cfg, summary):
            with run_record(cfg, summary, label=f"backfill:{channel}"):
                summary.sync = backfill_channel(cfg, channel, start, end)
                get_run_logger().info(
                    "backfill %s: %s new record versions", channel, summary.sync.rows_landed
                )
                build_stage(cfg, summary, select_changed=True)
            publish_stage(cfg, summary)
    except WarehouseBusy as exc:
        if isinstance(exc, WarehouseHeld):
            exc.published = cfg.published_path()
        return _skipped(summary, exc)
    _publish(summary)
    return summary


def default_run_date(end_date: date | None) -> date:
    """Plans are made the morning after the last day of data."""
    return (end_date + timedelta(days=1)) if end_date else date.today()
