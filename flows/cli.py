"""`oms`: the command line. Every command validates the config first and ends with a summary."""

from __future__ import annotations

import shlex
import shutil
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

import flows  # noqa: F401  (sets the Prefect home before Prefect is imported)
from flows.config import ConfigError, config_path, load_config

app = typer.Typer(
    help="oms-pipeline: channels -> DuckDB -> dbt marts -> forecasts -> purchase orders.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
# Global options (`oms --verbose …`) and the --config a command was given (for the hints it prints).
_state: dict[str, object] = {"verbose": False, "config": None}


@app.callback()
def _global_options(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="also print the libraries' log lines (Prefect, dbt, GX)"
        ),
    ] = False,
) -> None:
    """oms-pipeline: channels -> DuckDB -> dbt marts -> forecasts -> purchase orders."""
    _state["verbose"] = verbose
    if ctx.invoked_subcommand not in READ_ONLY_COMMANDS:
        # A command that may start Prefect (its API server is a child process): whatever ends
        # this process, even kill -9, those children end with it (flows/children.py).
        from flows.children import die_with_me

        die_with_me()


# Commands without a watchdog: those that start no process of their own (no Prefect), and
# `serve`, whose flow runs are Prefect's own processes and must finish the run they are in when
# serve stops (the watchdog would end them with it, and they would be recorded as crashed).
READ_ONLY_COMMANDS = frozenset(
    {"init", "docs", "status", "sql", "dashboard", "quarantine", "serve"}
)


ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", help="path to oms.yaml (default: $OMS_CONFIG or ./oms.yaml)"),
]
RunDateOpt = Annotated[
    str | None, typer.Option("--run-date", help="plan as of this date (YYYY-MM-DD; default today)")
]


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)  # whole lines: paths copy
    raise typer.Exit(code)


def _held(exc, cfg) -> NoReturn:
    """Exit 3 with one line naming the process that holds the warehouse file."""
    if getattr(exc, "published", True) is None:
        exc.published = cfg.published_path()
    _fail(str(exc), code=3)


def _load(config: str | None):
    _state["config"] = config
    try:
        return load_config(config)
    except ConfigError as exc:
        _fail(str(exc))


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"--run-date: '{value}' is not a YYYY-MM-DD date")


def _run(cfg, stages, run_date=None, channel=None):
    from connectors.http import ChannelAuthError, ChannelError
    from flows.dbt_runner import DbtFailed
    from flows.pipeline import pipeline_flow
    from flows.warehouse import WarehouseBusy

    flows.configure_console(bool(_state["verbose"]))
    try:
        with progress_bars():
            summary = pipeline_flow(cfg=cfg, stages=stages, run_date=run_date, channel=channel)
    except WarehouseBusy as exc:
        _held(exc, cfg)
    except DbtFailed as exc:
        _fail(str(exc), code=1)
    except ChannelAuthError as exc:  # refused or missing credential: fix the configuration
        _fail(_one_line(exc), code=2)
    except ChannelError as exc:  # the API could not be read this time; the next run resumes
        _fail(_one_line(exc), code=1)
    except ValueError as exc:  # e.g. --channel naming no channel
        _fail(str(exc))
    if summary.skipped:
        _fail(summary.skipped, code=3)
    return summary


def _one_line(exc: BaseException) -> str:
    """The error as one line for the console (the traceback is in the run's log file)."""
    return " ".join(str(exc).split())


@contextmanager
def progress_bars():
    """Counters for the long steps (files and pages landed, dbt nodes), drawn while they run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flows.progress import listening

    bars: dict[str, object] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:  # fmt: skip

        def on_tick(what: str) -> None:
            if what not in bars:
                bars[what] = progress.add_task(what, total=None)
            progress.advance(bars[what])

        with listening(on_tick):
            yield


def recent_flags(path: str, days: int = 7) -> list[tuple[str, str, int]]:
    """Flags the landing gate recorded in `ops.validation_results` over the last `days`."""
    from flows.warehouse import connection

    try:
        with connection(path, read_only=True) as con:
            rows = con.execute(
                f"""select expectation, suite, sum(unexpected_count)::bigint
                    from ops.validation_results
                    where suite like 'landing__%' and expectation like '%(flag only)'
                      and unexpected_count > 0
                      and validated_at > now() - interval {int(days)} day
                    group by all order by suite, expectation"""
            ).fetchall()
    except Exception:  # no warehouse or no results yet: nothing to show
        return []
    return [(e, s, int(n)) for e, s, n in rows]


def flagged(outcomes: list[dict]) -> list[tuple[str, int]]:
    """Records that landed with a flag (a check that is not critical: an unknown SKU, a buyer's
    approval of a line no plan suggested), summed per check and stream."""
    counts: dict[str, int] = {}
    for o in outcomes:
        if not o.get("critical", True) and o["unexpected_count"]:
            what = f"{o['expectation']} ({o['suite'].removeprefix('landing__')})"
            counts[what] = counts.get(what, 0) + int(o["unexpected_count"])
    return sorted(counts.items())


def print_summary(summary, title: str = "oms run") -> None:
    """The one-screen summary every command ends with."""
    t = Table(
        title=f"{title} · run {summary.run_id} · run date {summary.run_date}", show_header=False
    )
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    if summary.sync:
        s = summary.sync
        t.add_row(
            "sync",
            f"{s.rows_landed:,} new record versions from {s.files_landed} files · "
            f"{s.files_skipped} already landed · {s.files_rejected} rejected · "
            f"{s.rows_quarantined} quarantined"
            + (f" · {s.rows_repeated:,} exact repeats" if s.rows_repeated else ""),
        )
        if s.repeats:
            t.add_row("repeats", "\n".join(s.repeats[:5]))
        flags = flagged(s.outcomes)
        if flags:
            t.add_row("flagged", "\n".join(f"{n:,} × {what}" for what, n in flags))
    if summary.dbt:
        d = summary.dbt
        t.add_row(
            "marts",
            f"{d.models_built} models built · {d.tests_passed} tests passed · "
            f"{d.tests_failed} failed"
            + (
                f" · {d.unit_tests_passed} unit tests passed (the project changed)"
                if d.unit_tests_passed
                else ""
            )
            + "\nschema marts: orders, order_lines, customers, "
            "inventory_levels, daily_demand, …",
        )
        for channel, lines in sorted(d.held_back.items()):
            t.add_row(
                "[red]held back[/]",
                f"{channel}: its new records are not in the marts (built without them) until "
                "this is fixed:\n" + "\n".join(lines[:3]),
            )
    if summary.checks:
        c = summary.checks
        verdict = "[green]pass[/]" if c.ok else "[red]FAIL[/]"
        t.add_row("checks", f"{verdict} · {c.suites} suites · {len(c.failed)} failed expectations")
    if summary.counts:
        n = summary.counts
        t.add_row(
            "data",
            f"{n.get('orders', 0):,} orders · {n.get('order_lines', 0):,} lines · "
            f"{n.get('customers', 0):,} customers · {n.get('skus', 0):,} SKUs · "
            f"{n.get('locations', 0)} locations",
        )
    if summary.planning:
        p = summary.planning
        t.add_row(
            "forecast", f"{p.series:,} SKU-location series · {p.forecast_rows:,} forecast rows"
        )
        t.add_row(
            "reorder",
            f"{p.suggestions} suggested lines for {p.suppliers} suppliers · "
            f"{p.needs_attention} need attention",
        )
    if summary.published:
        pub = summary.published
        t.add_row(
            "published",
            f"{pub.tables} tables ({pub.rows:,} rows) in {pub.seconds:.1f} s: the read-only copy "
            "for analysts and BI tools",
        )
    console.print(t)
    # Paths below the table, whole and unwrapped, so they can be copied.
    paths = [("warehouse", str(summary.warehouse))]
    if summary.published:
        paths.append(("published", summary.published.path))
    if summary.planning:
        paths.append(("reorder files", str(summary.planning.folder)))
    if summary.dashboard:
        paths.append(("dashboard", str(summary.dashboard)))
    if getattr(summary, "log_file", None):
        paths.append(("run log", str(summary.log_file)))
    for label, path in paths:
        console.print(f"{label + ':':<15}{path}", soft_wrap=True, markup=False, highlight=False)
    hint = sql_hint(summary)
    if hint:
        console.print(f"{'try:':<15}{hint}", soft_wrap=True, markup=False, highlight=False)


def _oms_program() -> str:
    """How to call `oms` from here: `oms` when it is on PATH, else its path (`.venv/bin/oms`)."""
    mine = Path(sys.executable).parent / "oms"
    found = shutil.which("oms")
    if found and (not mine.exists() or Path(found).resolve() == mine.resolve()):
        return "oms"
    if not mine.exists():
        return "oms"
    try:
        return str(mine.relative_to(Path.cwd()))
    except ValueError:
        return str(mine)


def sql_hint(summary, query: str = "from marts.orders limit 5") -> str | None:
    """A command that runs as printed and queries what this run published."""
    if not getattr(summary, "published", None):
        return None
    published = summary.published.path
    explicit = _state["config"]
    prefix = f"{_oms_program()} sql"
    try:
        same = Path(load_config(explicit).published_path()).resolve() == Path(published).resolve()  # type: ignore[arg-type]
    except ConfigError:
        same = False
    if same and explicit:
        prefix += f" --config {shlex.quote(str(explicit))}"
    elif not same:
        prefix += f" --db {shlex.quote(published)}"
    return f'{prefix} "{query}"'


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="where to write the starter file")] = Path(
        "oms.yaml"
    ),
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Write a commented starter oms.yaml."""
    from flows.starter import STARTER_YAML

    if path.exists() and not force:
        _fail(f"{path} exists; use --force to overwrite")
    path.write_text(STARTER_YAML, encoding="utf-8")
    console.print(f"wrote {path}: edit the channels and locations, then run `oms run`")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="sandbox seed")] = 7,
    scale: Annotated[str, typer.Option(help="sandbox scale preset: tiny, demo or large")] = "demo",
    end_date: Annotated[str | None, typer.Option(help="last day of sandbox history")] = None,
) -> None:
    """Generate the sandbox store and run the whole pipeline on it.

    Shopify, WooCommerce and Amazon are served by emulated APIs on 127.0.0.1 for the length of
    the run, so the demo goes through the real HTTP connectors; tills, 3PL stock, supplier terms,
    purchase orders and FX rates arrive as file drops."""
    from flows.demo import demo_session, write_demo_config
    from flows.pipeline import default_run_date

    project = Path.cwd()
    with console.status("generating the sandbox store and starting its emulated APIs…"):
        session = demo_session(project, seed, scale, _parse_date(end_date))
        cfg, last_day = session.__enter__()
    try:
        console.print(
            f"sandbox store ({scale}, seed {seed}, history to {last_day}): shop, woo and amazon "
            f"from emulated APIs, the rest as files in {cfg.files.drop_dir}"
        )
        if not config_path().exists():
            write_demo_config(config_path())
            console.print(
                f"wrote {config_path()} (the sandbox configuration, file drops) for "
                "`oms status` and friends"
            )
        summary = _run(cfg, None, run_date=default_run_date(last_day))
    finally:
        session.__exit__(None, None, None)
    print_summary(summary, "oms demo")
    if (summary.checks and not summary.checks.ok) or (summary.dbt and summary.dbt.held_back):
        raise typer.Exit(1)


@app.command()
def sync(config: ConfigOpt = None, channel: Annotated[str | None, typer.Option()] = None) -> None:
    """Land new files from the configured channels into raw."""
    print_summary(_run(_load(config), ["sync"], channel=channel), "oms sync")


@app.command()
def build(
    config: ConfigOpt = None,
    full_refresh: Annotated[
        bool, typer.Option(help="rebuild incremental models from raw (after a model change)")
    ] = False,
) -> None:
    """Build and test the dbt models."""
    cfg = _load(config)
    if full_refresh:
        from flows.pipeline import full_refresh as full_refresh_flow

        flows.configure_console(bool(_state["verbose"]))
        summary = full_refresh_flow(cfg=cfg)
        if summary.skipped:
            _fail(summary.skipped, code=3)
        print_summary(summary, "oms build --full-refresh")
        return
    print_summary(_run(cfg, ["build"]), "oms build")


@app.command()
def docs(config: ConfigOpt = None) -> None:
    """Write dbt's documentation site (models, columns, tests, lineage) to <output_dir>/dbt_docs."""
    from flows.dbt_runner import DbtFailed, generate_docs
    from flows.warehouse import WarehouseBusy, writer_lock

    cfg = _load(config)
    try:
        with writer_lock(cfg.warehouse, cfg.lock_timeout_seconds):
            page = generate_docs(cfg)
    except WarehouseBusy as exc:
        _held(exc, cfg)
    except DbtFailed as exc:
        _fail(str(exc), code=1)
    console.print(f"dbt docs: {page} (one file; open it in a browser, no server needed)")


@app.command()
def check(config: ConfigOpt = None, run_date: RunDateOpt = None) -> None:
    """Run the data checks on the marts; exit 1 when a critical check fails. --run-date judges
    historical data: freshness as of the end of that date (what had landed by then), the volume
    of the day before it, not of yesterday."""
    summary = _run(_load(config), ["check"], run_date=_parse_date(run_date))
    print_summary(summary, "oms check")
    c = summary.checks
    if c.failed:
        for f in c.failed:
            console.print(f"  [red]✗[/] {f}")
    recent = recent_flags(
        summary.warehouse if summary.published is None else summary.published.path
    )
    if recent:
        ft = Table(title="flagged at landing in the last 7 days (landed; check they are meant)")
        for col in ("check", "stream", "records"):
            ft.add_column(col)
        for expectation, suite, n in recent:
            ft.add_row(expectation, suite.removeprefix("landing__"), f"{n:,}")
        console.print(ft)
    if c.quarantine_by_reason:
        qt = Table(title="quarantined records (not released)")
        for col in ("channel", "stream", "reason", "records"):
            qt.add_column(col)
        for row in c.quarantine_by_reason:
            qt.add_row(*(str(x) for x in row))
        console.print(qt)
    if c.data_docs:
        console.print(f"Data Docs: {c.data_docs / 'index.html'}")
    if not c.ok:
        raise typer.Exit(1)


@app.command()
def forecast(config: ConfigOpt = None, run_date: RunDateOpt = None) -> None:
    """Forecast demand and write purchase-order suggestions (needs built marts)."""
    print_summary(_run(_load(config), ["forecast"], run_date=_parse_date(run_date)), "oms forecast")


@app.command()
def reorder(config: ConfigOpt = None, run_date: RunDateOpt = None) -> None:
    """Plan replenishment and write the buyer files (forecasts first, as they feed it)."""
    print_summary(_run(_load(config), ["forecast"], run_date=_parse_date(run_date)), "oms reorder")


@app.command()
def run(config: ConfigOpt = None, run_date: RunDateOpt = None) -> None:
    """Everything in order: sync, build, check, forecast, reorder."""
    summary = _run(_load(config), None, run_date=_parse_date(run_date))
    print_summary(summary)
    if (summary.checks and not summary.checks.ok) or (summary.dbt and summary.dbt.held_back):
        raise typer.Exit(1)


@app.command()
def simulate(
    config: ConfigOpt = None,
    weeks: Annotated[int, typer.Option(help="weeks to replay (measured)")] = 13,
    warmup_weeks: Annotated[
        int, typer.Option(help="weeks replayed before measuring (longer than lead times)")
    ] = 8,
    rule: Annotated[
        str, typer.Option(help="the merchant's current rule: days-of-cover or min-max")
    ] = "days-of-cover",
    cover: Annotated[
        float, typer.Option(help="days-of-cover: order when below this many days of sales")
    ] = 30.0,
    up_to: Annotated[float, typer.Option(help="days-of-cover: order up to this many days")] = 60.0,
    min_units: Annotated[int, typer.Option("--min", help="min-max: order at or below")] = 0,
    max_units: Annotated[int, typer.Option("--max", help="min-max: order up to")] = 0,
    levels: Annotated[
        Path | None,
        typer.Option(help="min-max: CSV of sku,location_id,min_units,max_units per SKU-location"),
    ] = None,
    forecaster: Annotated[
        str, typer.Option(help="engine (as the daily run) or naive (faster)")
    ] = "engine",
) -> None:
    """Replay the last weeks of your own warehouse: our policy against your reorder rule.

    Same demand, same starting stock, same lead times for both; our policy re-forecasts at
    every weekly review from what was known that day. Writes <output_dir>/simulate/<date>/."""
    import polars as pl

    from flows.planning import run_simulation
    from flows.warehouse import WarehouseHeld
    from forecasting.simulation import MerchantRule

    cfg = _load(config)
    if forecaster not in ("engine", "naive"):
        _fail(f"--forecaster: '{forecaster}' is not engine or naive")
    if weeks < 1 or warmup_weeks < 0:
        _fail("--weeks must be >= 1 and --warmup-weeks >= 0")
    try:
        table = (
            pl.read_csv(levels, schema_overrides={"min_units": pl.Int64, "max_units": pl.Int64})
            if levels is not None
            else None
        )
        merchant = MerchantRule(
            kind=rule,
            cover=cover,
            up_to=up_to,
            min_units=min_units,
            max_units=max_units,
            levels=table,
        )
    except (ValueError, OSError, pl.exceptions.PolarsError) as exc:
        _fail(str(exc).replace("\n", " "))
    try:
        with console.status("replaying…") as st:
            result, paths = run_simulation(
                cfg,
                merchant,
                weeks=weeks,
                warmup_weeks=warmup_weeks,
                forecaster=forecaster,
                progress=lambda msg: st.update(msg),
            )
    except WarehouseHeld as exc:
        _held(exc, cfg)
    except ValueError as exc:
        _fail(str(exc), code=1)
    t = Table(
        title=f"oms simulate: last {weeks} weeks, {result.series} SKU-locations "
        f"({result.measure_start} to {result.measure_end})"
    )
    t.add_column("metric")
    t.add_column("our policy", justify="right")
    t.add_column(f"your rule ({result.rule_label})", justify="right")
    for row in result.rows():
        t.add_row(*row)
    console.print(t)
    for p in paths:
        console.print(str(p), soft_wrap=True)


@app.command()
def status(config: ConfigOpt = None) -> None:
    """Last runs, cursors per channel, quarantine counts and the last reorder files."""
    from flows.status import print_status
    from flows.warehouse import WarehouseHeld

    cfg = _load(config)
    try:
        print_status(cfg, console)
    except WarehouseHeld as exc:
        _held(exc, cfg)


FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table, csv or json")]


@app.command()
def sql(
    query: Annotated[
        str | None, typer.Argument(help="SQL to run; without it, an interactive prompt")
    ] = None,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the rows here")] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="query this DuckDB file instead (read-only)")
    ] = None,
) -> None:
    """Query the published warehouse (read-only; never blocks or is blocked by a run)."""
    import duckdb

    from flows import sqlshell
    from flows.warehouse import WarehouseHeld, connection, reader_connection

    if fmt not in sqlshell.FORMATS:
        _fail(f"--format: '{fmt}' is not one of {', '.join(sqlshell.FORMATS)}")
    cfg = None if db else _load(config)
    try:
        if query is None:
            if cfg is not None:
                with reader_connection(cfg) as (_, path):
                    pass
                history = Path(cfg.replenishment.output_dir) / ".oms_sql_history"
            else:
                path, history = str(Path(db).resolve()), None  # type: ignore[arg-type]
            sqlshell.repl(path, console, fmt, history)
            return
        if cfg is not None:
            with reader_connection(cfg) as (con, _):
                result = sqlshell.run_query(con, query)
        else:
            with connection(db, read_only=True) as con:  # type: ignore[arg-type]
                result = sqlshell.run_query(con, query)
    except WarehouseHeld as exc:
        _held(exc, cfg)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except duckdb.Error as exc:
        _fail(str(exc).replace("\n", " "), code=1)
    sqlshell.render(result, fmt, console, out)


@app.command()
def dashboard(
    config: ConfigOpt = None,
    run_date: Annotated[
        str | None,
        typer.Option("--run-date", help="show this date's PO plan (YYYY-MM-DD; default newest)"),
    ] = None,
) -> None:
    """Write the operations dashboard, one offline HTML page, to <output_dir>/dashboard/."""
    import duckdb

    from flows.dashboard import build_dashboard

    cfg = _load(config)
    try:
        page, data = build_dashboard(cfg, _parse_date(run_date))
    except FileNotFoundError as exc:
        _fail(str(exc))
    except duckdb.IOException as exc:  # a run holds the file for writing
        _fail(f"the warehouse is busy, try again after the run: {exc}", code=3)
    t = Table(title="oms dashboard", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("warehouse", data.warehouse)
    t.add_row("data to", f"{data.as_of or 'no orders yet'} (the last day with orders)")
    asked = data.requested_plan_date
    t.add_row("PO plan", str(data.plan_date or (f"none for {asked}" if asked else "none yet")))
    t.add_row("page", f"{page.resolve().as_uri()} (one file; opens offline)")
    console.print(t)


quarantine_app = typer.Typer(help="Records the landing gate held back.", no_args_is_help=False)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.callback(invoke_without_command=True)
def quarantine_list(
    ctx: typer.Context,
    config: ConfigOpt = None,
    channel: Annotated[str | None, typer.Option(help="only this channel")] = None,
    released: Annotated[bool, typer.Option(help="include released records")] = False,
    limit: Annotated[int, typer.Option(help="at most this many rows")] = 50,
) -> None:
    """List quarantined records (newest first) with their reasons."""
    if ctx.invoked_subcommand is not None:
        return
    from flows.quarantine import list_quarantine
    from flows.warehouse import WarehouseHeld

    cfg = _load(config)
    try:
        rows = list_quarantine(cfg, channel, released, limit)
    except WarehouseHeld as exc:
        _held(exc, cfg)
    t = Table(title=f"quarantined records ({len(rows)} shown)")
    for col in ("id", "channel", "stream", "source id", "reason", "quarantined", "released"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(
            r.quarantine_id,
            r.channel,
            r.stream,
            r.source_id or "",
            r.reason + (f" ({r.details})" if r.details else ""),
            f"{r.quarantined_at:%Y-%m-%d %H:%M}",
            f"{r.released_at:%Y-%m-%d %H:%M}" if r.released_at else "",
        )
    console.print(t)
    if rows:
        console.print("release one with `oms quarantine release <id>` once fixed or accepted")


@quarantine_app.command("release")
def quarantine_release(
    quarantine_ids: Annotated[
        list[str] | None, typer.Argument(help="ids shown by `oms quarantine` (one or more)")
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="every held record whose reason contains this text")
    ] = None,
    file: Annotated[
        str | None, typer.Option(help="every held record of this file (name or path)")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Re-land quarantined records as they were received (after fixing or accepting them): the
    ids given, or every held record matching --reason and/or --file."""
    from flows.quarantine import ReleaseError, release, release_many
    from flows.warehouse import WarehouseBusy

    cfg = _load(config)
    ids = list(quarantine_ids or [])
    if not ids and reason is None and file is None:
        _fail("name one or more ids, or --reason / --file (see `oms quarantine`)", code=2)
    try:
        if len(ids) == 1 and reason is None and file is None:
            landed = release(cfg, ids[0])
            console.print(
                f"released {ids[0]}: "
                + (
                    "landed in raw; the next `oms build` includes it"
                    if landed
                    else "this version was already in raw"
                )
            )
            return
        report = release_many(cfg, ids, reason, file)
    except ReleaseError as exc:
        _fail(str(exc), code=1)
    except WarehouseBusy as exc:
        _held(exc, cfg)
    console.print(
        f"released {len(report.released)} record(s), {report.landed} new version(s) in raw; "
        "the next `oms build` includes them"
    )
    for qid, why in report.refused:
        console.print(f"  [red]not released[/] {qid}: {why}")
    if report.refused:
        raise typer.Exit(1)


@app.command()
def serve(
    prefect_file: Annotated[Path, typer.Option(help="deployments to serve")] = Path("prefect.yaml"),
) -> None:
    """Run the schedules of prefect.yaml on this machine (Ctrl-C stops)."""
    from flows.serve import serve_deployments

    serve_deployments(prefect_file, console)


def main() -> None:  # pragma: no cover - console entry for `python -m flows.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
