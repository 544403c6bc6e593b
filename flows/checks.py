"""Checks after dbt: GX suites over the marts, plus the verdict `oms check` prints.

dbt's own tests guard the models' keys and arithmetic during `dbt build`; these suites look at the
marts the way an analyst would (no duplicate orders, known currencies, no negative stock), and the
verdict also counts what the landing gate quarantined, so one screen says whether to trust today.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

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

    @property
    def ok(self) -> bool:
        return not self.critical_failed


def _mart_suites(cfg: Config):
    import great_expectations as gx

    E = gx.expectations
    return {
        "marts.orders": (
            "select order_key, currency, net_sales, units from marts.orders",
            [
                (E.ExpectColumnValuesToBeUnique(column="order_key"), True),
                (E.ExpectColumnValuesToNotBeNull(column="order_key"), True),
                (E.ExpectColumnValuesToBeInSet(column="currency", value_set=cfg.currencies), True),
                (E.ExpectColumnValuesToNotBeNull(column="net_sales"), True),
                (E.ExpectTableRowCountToBeBetween(min_value=1), False),
            ],
        ),
        "marts.inventory_levels": (
            "select sku, location_id, on_hand, committed, on_order from marts.inventory_levels",
            [
                (E.ExpectCompoundColumnsToBeUnique(column_list=["sku", "location_id"]), True),
                (E.ExpectColumnValuesToBeBetween(column="on_hand", min_value=0), True),
                (E.ExpectColumnValuesToBeBetween(column="committed", min_value=0), True),
                (E.ExpectColumnValuesToBeBetween(column="on_order", min_value=0), True),
            ],
        ),
        "marts.daily_demand": (
            "select demand_date, sku, location_id, units_ordered, units_returned from marts.daily_demand",
            [
                (
                    E.ExpectCompoundColumnsToBeUnique(
                        column_list=["demand_date", "sku", "location_id"]
                    ),
                    True,
                ),
                (E.ExpectColumnValuesToBeBetween(column="units_ordered", min_value=0), True),
                (E.ExpectColumnValuesToBeBetween(column="units_returned", min_value=0), True),
            ],
        ),
    }


def record_outcomes(cfg: Config, run_id: str, outcomes: list[dict]) -> None:
    """Store landing-gate outcomes of a run, summed per suite and expectation."""
    summed: dict[tuple[str, str], dict] = {}
    for o in outcomes:
        key = (o["suite"], o["expectation"])
        agg = summed.setdefault(key, {"success": True, "unexpected_count": 0, "pages": 0})
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
                    json.dumps({"pages": v["pages"], "stage": "landing"}),
                    now,
                )
                for (s, e), v in sorted(summed.items())
            ],
        )


def check_marts(cfg: Config, run_id: str) -> CheckReport:
    """Validate the marts with GX, store the results and return the verdict."""
    gx, _ctx, batch_def = _validator()
    report = CheckReport()
    rows = []
    now = datetime.now(UTC)
    with connection(cfg.warehouse, read_only=True) as con:
        frames = {name: con.execute(sql).df() for name, (sql, _) in _mart_suites(cfg).items()}
    for name, (_, exps) in _mart_suites(cfg).items():
        suite = gx.ExpectationSuite(name=name)
        for exp, _critical in exps:
            suite.add_expectation(exp)
        batch = batch_def.get_batch(batch_parameters={"dataframe": frames[name]})
        result = batch.validate(suite, result_format="SUMMARY")
        report.suites += 1
        for (exp, critical), res in zip(exps, result.results, strict=True):
            report.expectations += 1
            label = f"{name}: {exp.expectation_type}" + (
                f"({getattr(exp, 'column', '') or ''})" if getattr(exp, "column", None) else ""
            )
            count = res.result.get("unexpected_count") or 0
            if not res.success:
                report.failed.append(f"{label}: {count} unexpected")
                if critical:
                    report.critical_failed.append(f"{label}: {count} unexpected")
            rows.append(
                (
                    run_id,
                    name,
                    label,
                    bool(res.success),
                    count,
                    json.dumps({"stage": "marts", "critical": critical}),
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
