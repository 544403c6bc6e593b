"""Checks after dbt: GX suites over the marts, and the verdict `oms check` prints.

dbt's own tests guard the models' keys and arithmetic during `dbt build`. These suites look at the
marts the way an operator would:

* **integrity**: no duplicate orders, known currencies, no negative stock;
* **freshness**: per channel, the newest order is not older than `quality.freshness_hours`
  (per-channel overrides in `quality.freshness_hours_by_channel`) at the run's reference time;
* **volume**: per channel, the last full day's order count sits inside a band learned from the
  28 days before it (|z| <= `quality.volume_z`), so a silent connector or a double import shows;
* **reconciliation**: orders, lines and units in the marts equal what staging holds.

Every result goes to `ops.validation_results`, and GX's Data Docs HTML is rebuilt in
`<output_dir>/data_docs/` for people who prefer to look.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd

from flows.config import Config
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


RECONCILIATION_SQL = """
with staging as (
    select 'orders' as measure,
        (select count(*) from staging.stg_shop__orders)
        + (select count(*) from staging.stg_amazon__orders)
        + (select count(*) from staging.stg_woo__orders)
        + (select count(distinct order_id) from staging.stg_tills__order_lines) as staging_value
    union all
    select 'order_lines',
        (select count(*) from staging.stg_shop__order_lines)
        + (select count(*) from staging.stg_amazon__order_items)
        + (select count(*) from staging.stg_woo__order_lines)
        + (select count(*) from staging.stg_tills__order_lines where not is_return)
    union all
    select 'units',
        (select coalesce(sum(quantity), 0) from staging.stg_shop__order_lines)
        + (select coalesce(sum(quantity), 0) from staging.stg_amazon__order_items)
        + (select coalesce(sum(quantity), 0) from staging.stg_woo__order_lines)
        + (select coalesce(sum(quantity), 0) from staging.stg_tills__order_lines where not is_return)
),
marts as (
    select 'orders' as measure, (select count(*) from marts.orders) as mart_value
    union all select 'order_lines', (select count(*) from marts.order_lines)
    union all select 'units', (select coalesce(sum(quantity), 0) from marts.order_lines)
)
select s.measure, s.staging_value::double as staging_value, m.mart_value::double as mart_value,
       abs(s.staging_value - m.mart_value)::double as difference
from staging s join marts m using (measure)
order by 1
"""


def _freshness_frame(con, cfg: Config, as_of: datetime) -> pd.DataFrame:
    rows = con.execute(
        "select channel, max(ordered_at) from marts.orders group by channel order by channel"
    ).fetchall()
    q = cfg.quality
    out = []
    for ch in cfg.channels:
        if ch.kind == "stock_report" or not ch.enabled:
            continue
        newest = next((r[1] for r in rows if r[0] == ch.name), None)
        lag = (as_of - newest).total_seconds() / 3600 if newest else float("inf")
        allowed = q.freshness_hours_by_channel.get(ch.name, q.freshness_hours)
        out.append(
            {"channel": ch.name, "lag_hours": lag, "allowed": allowed, "over": lag - allowed}
        )
    return pd.DataFrame(out, columns=["channel", "lag_hours", "allowed", "over"])


def _volume_frame(con, as_of: datetime, business_tz: str) -> pd.DataFrame:
    day = (as_of.date() if isinstance(as_of, datetime) else as_of) - timedelta(days=1)
    rows = con.execute(
        """with days as (
               select channel, order_date, count(*) as n from marts.orders
               where order_date between ? and ? group by all),
           channels as (select distinct channel from days),
           grid as (
               select c.channel, d::date as order_date
               from channels c, range(?::date, ?::date + 1, interval 1 day) t(d)),
           filled as (
               select g.channel, g.order_date, coalesce(days.n, 0) as n
               from grid g left join days using (channel, order_date))
           select channel,
                  max(n) filter (where order_date = ?) as today,
                  avg(n) filter (where order_date < ?) as mean,
                  stddev_samp(n) filter (where order_date < ?) as sd
           from filled group by channel order by channel""",
        [day - timedelta(days=28), day, day - timedelta(days=28), day, day, day, day],
    ).fetchall()
    out = []
    for channel, today, mean, sd in rows:
        sd = max(sd or 0.0, (mean or 0.0) ** 0.5, 1.0)  # Poisson floor: small channels are noisy
        out.append(
            {
                "channel": channel,
                "orders": today or 0,
                "mean_28d": mean or 0.0,
                "z": ((today or 0) - (mean or 0.0)) / sd,
            }
        )
    return pd.DataFrame(out, columns=["channel", "orders", "mean_28d", "z"])


def _suites(cfg: Config, con, as_of: datetime) -> list[tuple[str, pd.DataFrame, list[tuple]]]:
    """(suite name, frame, [(expectation, critical, label)]) for every mart suite."""
    import great_expectations as gx

    E = gx.expectations
    q = cfg.quality
    orders = con.execute("select order_key, currency, net_sales, units from marts.orders").df()
    levels = con.execute(
        "select sku, location_id, on_hand, committed, on_order from marts.inventory_levels"
    ).df()
    demand = con.execute(
        "select demand_date, sku, location_id, units_ordered, units_returned from marts.daily_demand"
    ).df()
    return [
        (
            "marts.orders",
            orders,
            [
                (E.ExpectColumnValuesToBeUnique(column="order_key"), True, "order_key unique"),
                (E.ExpectColumnValuesToNotBeNull(column="order_key"), True, "order_key present"),
                (
                    E.ExpectColumnValuesToBeInSet(column="currency", value_set=cfg.currencies),
                    True,
                    "currency configured",
                ),
                (E.ExpectColumnValuesToNotBeNull(column="net_sales"), True, "net_sales present"),
                (E.ExpectTableRowCountToBeBetween(min_value=1), False, "has orders"),
            ],
        ),
        (
            "marts.inventory_levels",
            levels,
            [
                (
                    E.ExpectCompoundColumnsToBeUnique(column_list=["sku", "location_id"]),
                    True,
                    "one row per sku and location",
                ),
                (
                    E.ExpectColumnValuesToBeBetween(column="on_hand", min_value=0),
                    True,
                    "on_hand >= 0",
                ),
                (
                    E.ExpectColumnValuesToBeBetween(column="committed", min_value=0),
                    True,
                    "committed >= 0",
                ),
                (
                    E.ExpectColumnValuesToBeBetween(column="on_order", min_value=0),
                    True,
                    "on_order >= 0",
                ),
            ],
        ),
        (
            "marts.daily_demand",
            demand,
            [
                (
                    E.ExpectCompoundColumnsToBeUnique(
                        column_list=["demand_date", "sku", "location_id"]
                    ),
                    True,
                    "one row per day, sku and location",
                ),
                (
                    E.ExpectColumnValuesToBeBetween(column="units_ordered", min_value=0),
                    True,
                    "units_ordered >= 0",
                ),
                (
                    E.ExpectColumnValuesToBeBetween(column="units_returned", min_value=0),
                    True,
                    "units_returned >= 0",
                ),
            ],
        ),
        (
            "freshness",
            _freshness_frame(con, cfg, as_of),
            [
                (
                    E.ExpectColumnValuesToBeBetween(column="over", max_value=0),
                    True,
                    "newest order within the allowed lag per channel",
                ),
            ],
        ),
        (
            "volume",
            _volume_frame(con, as_of, cfg.business_timezone),
            [
                (
                    E.ExpectColumnValuesToBeBetween(
                        column="z", min_value=-q.volume_z, max_value=q.volume_z
                    ),
                    False,
                    f"last day's orders within {q.volume_z:g} sd of the trailing 28 days",
                ),
            ],
        ),
        (
            "reconciliation",
            con.execute(RECONCILIATION_SQL).df(),
            [
                (
                    E.ExpectColumnValuesToBeBetween(column="difference", max_value=0),
                    True,
                    "marts equal staging (orders, lines, units)",
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


def _data_docs(cfg: Config, suites: list[tuple[str, pd.DataFrame, list[tuple]]]) -> Path:
    """Rebuild GX's Data Docs for the mart suites in <output_dir>/data_docs."""
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
    definitions = []
    frames = {}
    for name, frame, exps in suites:
        asset_name = name.replace(".", "_")
        try:
            asset = ds.get_asset(asset_name)
        except LookupError:
            asset = ds.add_dataframe_asset(asset_name)
        try:
            batch_def = asset.get_batch_definition("all")
        except (KeyError, ValueError, LookupError):
            batch_def = asset.add_batch_definition_whole_dataframe("all")
        suite = gx.ExpectationSuite(name=name, expectations=[copy.copy(e) for e, _, _ in exps])
        suite = ctx.suites.add_or_update(suite)
        vd = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch_def, suite=suite)
        )
        definitions.append(vd)
        frames[name] = frame
    for vd in definitions:
        checkpoint = ctx.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"oms_{vd.name}",
                validation_definitions=[vd],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[site])],
            )
        )
        checkpoint.run(batch_parameters={"dataframe": frames[vd.name]})
    return target


def check_marts(cfg: Config, run_id: str, as_of: date | datetime | None = None) -> CheckReport:
    """Validate the marts with GX, store the results, write Data Docs, return the verdict.

    `as_of` is the moment freshness is judged at: the run date's midnight for a planning run,
    now for an hourly one."""
    gx, _ctx, batch_def = _validator()
    if as_of is None:
        as_of = datetime.now(UTC)
    elif not isinstance(as_of, datetime):
        as_of = datetime.combine(as_of, time(0), tzinfo=UTC)
    report = CheckReport()
    rows = []
    now = datetime.now(UTC)
    with connection(cfg.warehouse, read_only=True) as con:
        suites = _suites(cfg, con, as_of)
    for name, frame, exps in suites:
        suite = gx.ExpectationSuite(name=name)
        for exp, _critical, _label in exps:
            suite.add_expectation(copy.copy(exp))
        result = batch_def.get_batch(batch_parameters={"dataframe": frame}).validate(
            suite, result_format="COMPLETE"
        )
        report.suites += 1
        for (_exp, critical, label), res in zip(exps, result.results, strict=True):
            report.expectations += 1
            count = res.result.get("unexpected_count") or 0
            detail = {"stage": "marts", "critical": critical}
            if not res.success:
                idx = [
                    i if isinstance(i, int) else i.get("index")
                    for i in (res.result.get("unexpected_index_list") or [])
                ][:10]
                sample = frame.iloc[[i for i in idx if isinstance(i, int)]].to_dict("records")
                detail["sample"] = sample
                msg = f"{name}: {label}: {count} unexpected"
                if name in ("freshness", "volume", "reconciliation") and sample:
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
    report.data_docs = _data_docs(cfg, suites)
    return report


def _short(v: object) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)
