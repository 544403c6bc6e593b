"""Checks after dbt: freshness and volume, and the verdict `oms check` prints.

dbt owns the marts' integrity and reconciliation: keys, accepted values, non-negative stock,
configured currencies, marts equal to staging per channel (orders, lines, units) are dbt tests
(`dbt_project/models/**/*.yml`, `dbt_project/tests/`), run in every `dbt build`, and a failing
one fails the build. This stage adds what a build cannot know:

* **freshness**: `dbt source freshness` on each enabled channel's order table (`raw.<channel>__
  orders`, loaded-at field `_loaded_at`). A channel is stale when nothing new (no new order, no
  new version of one) has landed for longer than `quality.freshness_hours` (per-channel overrides
  in `quality.freshness_hours_by_channel`), judged at the moment the check runs. A run dated in
  the past (`oms check --run-date`) is judged as of the end of that date (UTC): the newest
  `_loaded_at` up to then against the same allowance, so historical data that was delivered on
  time passes and what landed later does not count (a channel whose first landing came after that
  date, history loaded afterwards as in the demo, is judged now). dbt judges only at its own
  "now", so that case is the same measure in SQL (`_freshness_as_of`). It says the connector (API sync or file
  drop) is delivering, not that customers are ordering: a channel that is quiet for days needs a
  larger allowance. Critical.
* **volume**: per channel, the order count of the last full day before the run's reference time
  sits inside a band learned from the 28 days before it (|z| <= `quality.volume_z`), computed in
  SQL on a daily aggregate, so a silent connector or a double import shows. A warning.

Every result goes to `ops.validation_results`; the two small result frames are validated by GX,
which also rebuilds its Data Docs HTML in `<output_dir>/data_docs/`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from connectors import registry
from flows.config import Config
from flows.dbt_runner import DbtFailed, dbt_vars, invoke, project_dir
from flows.quality import _validator
from flows.warehouse import connection


@dataclass
class CheckReport:
    suites: int = 0
    expectations: int = 0
    failed: list[str] = field(default_factory=list)
    critical_failed: list[str] = field(default_factory=list)
    quarantine_by_reason: list[tuple[str, str, str, int]] = field(default_factory=list)
    data_docs: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.critical_failed


# (expectation, critical, label) per suite
Suite = tuple[str, pd.DataFrame, list[tuple[Any, bool, str]]]

FRESHNESS_COLUMNS = ["channel", "source", "max_loaded_at", "lag_hours", "allowed", "status"]


def freshness_sources(cfg: Config) -> dict[str, str]:
    """Channel -> the raw table whose `_loaded_at` says whether it is fresh (its order table);
    disabled channels and the stock report are not judged."""
    return {
        ch.name: f"{ch.name}__orders"
        for ch in cfg.channels
        if ch.enabled and "orders" in registry.by_kind(ch.kind).streams
    }


def _source_freshness(cfg: Config) -> pd.DataFrame:
    """`dbt source freshness` on the channels' order tables; one row per channel."""
    tables = freshness_sources(cfg)
    if not tables:
        return pd.DataFrame(columns=FRESHNESS_COLUMNS)
    os.environ["OMS_WAREHOUSE"] = str(Path(cfg.warehouse).resolve())
    args = [
        "source", "freshness", "--project-dir", str(project_dir()),
        "--profiles-dir", str(project_dir()), "--vars", json.dumps(dbt_vars(cfg)),
        "--quiet", "--select", *(f"source:raw.{t}" for t in tables.values()),
    ]  # fmt: skip
    result = invoke(args)
    if result.exception is not None or result.result is None:
        raise DbtFailed(f"dbt source freshness could not run: {result.exception}")
    by_table = {r.node.name: r for r in result.result.results}
    q = cfg.quality
    rows = []
    for channel, table in tables.items():
        allowed = q.freshness_hours_by_channel.get(channel, q.freshness_hours)
        r = by_table.get(table)
        newest = getattr(r, "max_loaded_at", None)
        if newest is not None and newest.year <= 1:  # dbt's stand-in for an empty table
            newest = None
        lag = getattr(r, "age", None)
        rows.append(
            {
                "channel": channel,
                "source": f"raw.{table}",
                "max_loaded_at": newest.isoformat() if newest else None,
                "lag_hours": lag / 3600 if newest is not None and lag is not None else math.inf,
                "allowed": allowed,
                # pass | warn | error (stale) | runtime error (could not be measured) | missing
                "status": str(r.status) if r is not None else "missing",
            }
        )
    return pd.DataFrame(rows, columns=FRESHNESS_COLUMNS)


def _allowed_minutes(hours: float) -> int:
    """The error allowance as `dbt source freshness` applies it (_sources.yml: whole minutes, at
    least one)."""
    return max(round(hours * 60), 1)


def _freshness_as_of(cfg: Config, at: datetime, now: datetime) -> pd.DataFrame:
    """The freshness frame as `dbt source freshness` would have made it at `at` (a past moment):
    per channel, the newest `_loaded_at` up to `at` and its age then, stale ('error') beyond the
    channel's allowance; later landings do not count. A channel whose first landing came after
    `at` (history loaded afterwards: the demo, a backfill, a channel added later) had nothing to
    judge then and is judged `now`. One row per channel."""
    tables = freshness_sources(cfg)
    q = cfg.quality
    rows = []
    with connection(cfg.warehouse, read_only=True) as con:
        for channel, table in tables.items():
            allowed = q.freshness_hours_by_channel.get(channel, q.freshness_hours)
            try:
                [(newest, first, last)] = con.execute(
                    f"""select max(_loaded_at) filter (where _loaded_at <= $at),
                               min(_loaded_at), max(_loaded_at)
                        from raw.{table}""",
                    {"at": at},
                ).fetchall()
                measured = True
            except duckdb.CatalogException:  # no such table: cannot be measured
                newest, first, last, measured = None, None, None, False
            judged_at = at
            if first is not None and first > at:
                newest, judged_at = last, now
            lag = (judged_at - newest).total_seconds() if newest is not None else math.inf
            if not measured:
                status = "runtime error"
            else:
                status = "error" if lag > _allowed_minutes(allowed) * 60 else "pass"
            rows.append(
                {
                    "channel": channel,
                    "source": f"raw.{table}",
                    "max_loaded_at": newest.astimezone(UTC).isoformat() if newest else None,
                    "lag_hours": lag / 3600,
                    "allowed": allowed,
                    "status": status,
                }
            )
    return pd.DataFrame(rows, columns=FRESHNESS_COLUMNS)


def freshness_reference(run_date: date | None, now: datetime) -> datetime:
    """The moment freshness is judged at: the end of `run_date` (UTC midnight after it), or now
    when that is later (a run dated today, or none)."""
    if run_date is None:
        return now
    return min(datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=UTC), now)


VOLUME_SQL = """
with days as (
    select channel, order_date, count(*) as n
    from marts.orders
    where order_date between $first and $day
    group by all
),

channels as (
    select distinct channel from days
),

grid as (
    select c.channel, d::date as order_date
    from channels as c, range($first::date, $day::date + 1, interval 1 day) as t(d)
),

filled as (
    select g.channel, g.order_date, coalesce(days.n, 0) as n
    from grid as g
    left join days using (channel, order_date)
),

stats as (
    select
        channel,
        coalesce(max(n) filter (where order_date = $day), 0) as orders,
        coalesce(avg(n) filter (where order_date < $day), 0) as mean_28d,
        stddev_samp(n) filter (where order_date < $day) as sd
    from filled
    group by channel
),

final as (
    select
        channel,
        orders,
        mean_28d::double as mean_28d,
        -- Poisson floor: small channels are noisy
        ((orders - mean_28d) / greatest(coalesce(sd, 0), sqrt(mean_28d), 1))::double as z
    from stats
)

select * from final order by channel
"""


def _volume_frame(con, as_of: datetime) -> pd.DataFrame:
    """Per channel: orders on the last full day before `as_of`, the 28-day mean, and z."""
    day = as_of.date() - timedelta(days=1)
    rows = con.execute(VOLUME_SQL, {"first": day - timedelta(days=28), "day": day}).fetchall()
    return pd.DataFrame(rows, columns=["channel", "orders", "mean_28d", "z"])


def _suites(cfg: Config, freshness: pd.DataFrame, volume: pd.DataFrame) -> list[Suite]:
    import great_expectations as gx

    E = gx.expectations
    z = cfg.quality.volume_z
    return [
        (
            "freshness",
            freshness,
            [
                (
                    E.ExpectColumnValuesToNotBeInSet(
                        column="status", value_set=["error", "runtime error", "missing"]
                    ),
                    True,
                    "something landed in each channel's orders within its allowed hours",
                ),
                (
                    E.ExpectColumnValuesToNotBeInSet(column="status", value_set=["warn"]),
                    False,
                    "something landed in each channel's orders within its warning hours",
                ),
            ],
        ),
        (
            "volume",
            volume,
            [
                (
                    E.ExpectColumnValuesToBeBetween(column="z", min_value=-z, max_value=z),
                    False,
                    f"last day's orders within {z:g} sd of the trailing 28 days",
                ),
            ],
        ),
    ]


def record_outcomes(cfg: Config, run_id: str, outcomes: list[dict]) -> None:
    """Store landing-gate outcomes of a run, summed per suite and expectation."""
    summed: dict[tuple[str, str], dict] = {}
    for o in outcomes:
        key = (o["suite"], o["expectation"])
        agg = summed.setdefault(
            key,
            {
                "success": True,
                "unexpected_count": 0,
                "pages": 0,
                "critical": o.get("critical", True),
            },
        )
        agg["success"] &= o["success"]
        agg["unexpected_count"] += o["unexpected_count"]
        agg["pages"] += 1
    if not summed:
        return
    now = datetime.now(UTC)
    with connection(cfg.warehouse) as con:
        con.executemany(
            "insert into ops.validation_results values (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    s,
                    e,
                    v["success"],
                    v["unexpected_count"],
                    json.dumps(
                        {"pages": v["pages"], "stage": "landing", "critical": v["critical"]}
                    ),
                    now,
                )
                for (s, e), v in sorted(summed.items())
            ],
        )


def _validate(cfg: Config, suites: list[Suite]) -> tuple[Path, list[Any]]:
    """Validate each suite's frame with GX (the results stay in the context's store), rebuild the
    Data Docs in <output_dir>/data_docs; return the folder and each suite's validation result."""
    gx, ctx, _ = _validator()
    target = Path(cfg.replenishment.output_dir) / "data_docs"
    site = "oms_" + hashlib.sha1(str(target).encode()).hexdigest()[:8]
    if site not in (ctx.get_site_names() or []):
        ctx.add_data_docs_site(
            site_name=site,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(target),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    try:
        ds = ctx.data_sources.get("marts")
    except (KeyError, ValueError):
        ds = ctx.data_sources.add_pandas("marts")
    results = []
    for name, frame, exps in suites:
        try:
            asset = ds.get_asset(name)
        except LookupError:
            asset = ds.add_dataframe_asset(name)
        try:
            batch_def = asset.get_batch_definition("all")
        except (KeyError, ValueError, LookupError):
            batch_def = asset.add_batch_definition_whole_dataframe("all")
        suite = ctx.suites.add_or_update(
            gx.ExpectationSuite(name=name, expectations=[copy.copy(e) for e, _, _ in exps])
        )
        vd = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch_def, suite=suite)
        )
        results.append(vd.run(batch_parameters={"dataframe": frame}, result_format="COMPLETE"))
    ctx.build_data_docs(site_names=[site])  # once, over the stored results of both suites
    return target, results


def check_marts(
    cfg: Config,
    run_id: str,
    as_of: date | datetime | None = None,
    run_date: date | None = None,
) -> CheckReport:
    """Freshness (dbt source freshness) and volume (SQL), validated with GX; store the results,
    write Data Docs, return the verdict.

    `as_of` is the reference time of the volume check (its last full day is the day before): the
    run date's midnight for a planning run, now for an hourly one. Freshness is judged at the end
    of `run_date` when that is in the past, else now (see the module docstring)."""
    now = datetime.now(UTC)
    if as_of is None:
        as_of = now
    elif not isinstance(as_of, datetime):
        as_of = datetime.combine(as_of, time(0), tzinfo=UTC)
    fresh_at = freshness_reference(run_date, now)
    if fresh_at < now:
        freshness = _freshness_as_of(cfg, fresh_at, now)
    else:
        freshness = _source_freshness(cfg)  # dbt opens the warehouse: no connection of ours open
    with connection(cfg.warehouse, read_only=True) as con:
        volume = _volume_frame(con, as_of)
    suites = _suites(cfg, freshness, volume)
    report = CheckReport()
    report.data_docs, results = _validate(cfg, suites)
    rows = []
    for (name, frame, exps), result in zip(suites, results, strict=True):
        report.suites += 1
        for (_exp, critical, label), res in zip(exps, result.results, strict=True):
            report.expectations += 1
            count = res.result.get("unexpected_count") or 0
            detail: dict[str, Any] = {"stage": "marts", "critical": critical}
            if name == "volume":
                detail["as_of"] = as_of.isoformat()
            if name == "freshness":
                detail["as_of"] = fresh_at.isoformat()
            detail["rows"] = frame.to_dict("records")  # a row per channel: what was judged
            if not res.success:
                idx = [
                    i if isinstance(i, int) else i.get("index")
                    for i in (res.result.get("unexpected_index_list") or [])
                ][:10]
                sample = frame.iloc[[i for i in idx if isinstance(i, int)]].to_dict("records")
                detail["sample"] = sample
                msg = f"{name}: {label}: {count} unexpected"
                if sample:
                    msg += " " + "; ".join(
                        ", ".join(f"{k}={_short(v)}" for k, v in r.items()) for r in sample
                    )
                report.failed.append(msg)
                if critical:
                    report.critical_failed.append(msg)
            rows.append(
                (
                    run_id,
                    name,
                    label,
                    bool(res.success),
                    count,
                    json.dumps(detail, default=str),
                    now,
                )
            )
    with connection(cfg.warehouse) as con:
        con.executemany("insert into ops.validation_results values (?, ?, ?, ?, ?, ?, ?)", rows)
        report.quarantine_by_reason = [
            tuple(r)
            for r in con.execute(
                """select channel, stream, reason, count(*) from ops.quarantine
                   where released_at is null group by all order by 4 desc limit 15"""
            ).fetchall()
        ]
    return report


def _short(v: object) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)
