"""The landing gate: Great Expectations suites applied to every page or file before it commits.

Each stream has a suite over a small frame of *features* pulled from its payloads (id, updated
time, currency, quantities, money). GX's pandas datasource validates the frame with
`result_format="COMPLETE"`, which names the failing rows; those rows go to `ops.quarantine` with
the expectation as the reason, and the rest land. A page with more than `max_bad_share` bad rows
is refused whole: that many failures usually means the format changed, and landing the remainder
would make the marts quietly wrong.

GX's SQL datasource cannot read DuckDB (GX 1.24) without patching GX, so we validate dataframes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache

import pandas as pd

from connectors.records import RawRecord

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

INT_RE = r"^-?\d+$"
DECIMAL_RE = r"^\d+(?:\.\d+)?$"  # non-negative


class PageRejected(ValueError):
    """Too many bad records in one page or file: nothing of it lands."""


@dataclass(frozen=True)
class Rule:
    """One expectation on one feature column. `critical` rules fail `oms check` when they fail."""

    name: str
    build: Callable[..., object]  # () -> gx expectation, built lazily so importing is cheap
    critical: bool = True


@dataclass
class GateResult:
    good: list[RawRecord]
    bad: list[tuple[str | None, str, str]]  # (source_id, reason, payload text)
    outcomes: list[dict] = field(
        default_factory=list
    )  # one per expectation, for ops.validation_results


def _dig(payload: dict, *path: str) -> object:
    cur: object = payload
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def _text(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return str(int(v))
    return str(v).strip()


def _min_int_text(values: list[object]) -> str | None:
    """The smallest of a list of quantities as text, or the first non-integer one (to fail)."""
    ints = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | str):
            return repr(v)
        try:
            ints.append(int(str(v)))
        except ValueError:
            return str(v)
    return str(min(ints)) if ints else None


def _decimal_ok(v: object) -> bool:
    try:
        Decimal(str(v))
    except (InvalidOperation, ValueError):
        return False
    return True


# Features per stream: column name -> function(payload) -> value. Only what rules check.
FEATURES: dict[str, dict[str, Callable[[dict], object]]] = {
    "shop__orders": {
        "currency": lambda p: _text(p.get("currency")),
        "min_quantity": lambda p: _min_int_text(
            [li.get("quantity") for li in p.get("line_items") or []]
        ),
        "total_price": lambda p: _text(p.get("total_price")),
        "line_count": lambda p: len(p.get("line_items") or []),
    },
    "amazon__orders": {"currency": lambda p: _text(_dig(p, "OrderTotal", "CurrencyCode"))},
    "amazon__order_items": {
        "min_quantity": lambda p: _min_int_text(
            [i.get("QuantityOrdered") for i in p.get("OrderItems") or []]
        ),
    },
    "woo__orders": {
        "currency": lambda p: _text(p.get("currency")),
        "min_quantity": lambda p: _min_int_text(
            [li.get("quantity") for li in p.get("line_items") or []]
        ),
        "total_price": lambda p: _text(p.get("total")),
    },
    "tills__orders": {
        "currency": lambda p: _text(p.get("currency")),
        "quantity": lambda p: _text(p.get("quantity")),
        "unit_price": lambda p: _text(p.get("unit_price")),
    },
    "tpl__stock": {"on_hand": lambda p: _text(p.get("on_hand"))},
    "files__supplier_terms": {
        "currency": lambda p: _text(p.get("currency")),
        "unit_cost": lambda p: _text(p.get("unit_cost")),
        "moq": lambda p: _text(p.get("moq")),
        "case_pack": lambda p: _text(p.get("case_pack")),
        "lead_time_days": lambda p: _text(p.get("lead_time_days")),
    },
    "files__purchase_orders": {
        "quantity_ordered": lambda p: _text(p.get("quantity_ordered")),
        "quantity_received": lambda p: _text(p.get("quantity_received")),
        "status": lambda p: _text(p.get("status")),
    },
    "files__fx_rates": {
        "currency": lambda p: _text(p.get("currency")),
        "rate": lambda p: _text(p.get("rate")),
    },
}


def _rules(
    table: str, currencies: list[str], now: datetime, tolerance_h: float
) -> list[tuple[str, Rule]]:
    import great_expectations as gx

    E = gx.expectations
    latest = (now + timedelta(hours=tolerance_h)).replace(tzinfo=None)
    rules: list[tuple[str, Rule]] = [
        (
            "source_id",
            Rule("id present", lambda: E.ExpectColumnValuesToNotBeNull(column="source_id")),
        ),
        (
            "source_id",
            Rule(
                "id and updated time unique within the page",
                lambda: E.ExpectCompoundColumnsToBeUnique(column_list=["source_id", "updated_key"]),
            ),
        ),
        (
            "updated_at",
            Rule(
                f"updated time not more than {tolerance_h:g} h in the future",
                lambda: E.ExpectColumnValuesToBeBetween(column="updated_at", max_value=latest),
            ),
        ),
    ]
    feats = FEATURES.get(table, {})
    if "currency" in feats:
        rules.append(
            (
                "currency",
                Rule(
                    f"currency is one of the configured {currencies}",
                    lambda: E.ExpectColumnValuesToBeInSet(column="currency", value_set=currencies),
                ),
            )
        )
    for col in (
        "min_quantity",
        "quantity",
        "moq",
        "case_pack",
        "lead_time_days",
        "on_hand",
        "quantity_ordered",
        "quantity_received",
    ):
        if col in feats:
            rules.append(
                (
                    col,
                    Rule(
                        f"{col} is a whole number",
                        lambda c=col: E.ExpectColumnValuesToMatchRegex(column=c, regex=INT_RE),
                    ),
                )
            )
    for col, low in (
        ("min_quantity", 1),
        ("on_hand", 0),
        ("moq", 1),
        ("case_pack", 1),
        ("lead_time_days", 0),
        ("quantity_ordered", 0),
        ("quantity_received", 0),
    ):
        if col in feats:
            rules.append(
                (
                    col,
                    Rule(
                        f"{col} is at least {low}",
                        lambda c=col, lo=low: E.ExpectColumnValuesToBeBetween(
                            column=f"{c}__num", min_value=lo
                        ),
                    ),
                )
            )
    for col in ("total_price", "unit_price", "unit_cost", "rate"):
        if col in feats:
            rules.append(
                (
                    col,
                    Rule(
                        f"{col} is a non-negative decimal",
                        lambda c=col: E.ExpectColumnValuesToMatchRegex(
                            column=c, regex=r"^\d+(\.\d+)?$"
                        ),
                    ),
                )
            )
    if "status" in feats:
        rules.append(
            (
                "status",
                Rule(
                    "status is open, partial, received or cancelled",
                    lambda: E.ExpectColumnValuesToBeInSet(
                        column="status", value_set=["open", "partial", "received", "cancelled"]
                    ),
                ),
            )
        )
    if "line_count" in feats:
        rules.append(
            (
                "line_count",
                Rule(
                    "order has at least one line",
                    lambda: E.ExpectColumnValuesToBeBetween(column="line_count", min_value=1),
                ),
            )
        )
    return rules


@cache
def _validator():
    """One ephemeral GX context and a pandas dataframe asset, reused for every page."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = ctx.data_sources.add_pandas("landing").add_dataframe_asset("page")
    return gx, ctx, asset.add_batch_definition_whole_dataframe("whole_page")


def _frame(table: str, records: list[RawRecord]) -> pd.DataFrame:
    feats = FEATURES.get(table, {})
    data: dict[str, list] = {"source_id": [], "updated_at": [], "updated_key": []}
    for name in feats:
        data[name] = []
    for rec in records:
        data["source_id"].append(rec.source_id)
        ts = rec.source_updated_at
        data["updated_at"].append(ts.astimezone(UTC).replace(tzinfo=None) if ts else None)
        data["updated_key"].append(ts.isoformat() if ts else "")
        for name, fn in feats.items():
            try:
                data[name].append(fn(rec.payload))
            except (AttributeError, TypeError):
                data[name].append("<unreadable>")
    df = pd.DataFrame(data)
    df["updated_at"] = pd.to_datetime(df["updated_at"])
    for col in list(feats):
        if col in (
            "min_quantity",
            "on_hand",
            "moq",
            "case_pack",
            "lead_time_days",
            "quantity_ordered",
            "quantity_received",
        ):
            df[f"{col}__num"] = pd.to_numeric(df[col], errors="coerce")
    return df


def gate_records(
    table: str,
    records: list[RawRecord],
    currencies: list[str],
    max_bad_share: float = 0.2,
    future_tolerance_hours: float = 24,
    now: datetime | None = None,
) -> GateResult:
    """Split a page into records to land and records to quarantine, with GX as the judge."""
    # Exact repeats (same id, same content) are harmless and land once; drop them before judging
    # so that "unique id" only flags real conflicts: one id, one time, two different payloads.
    seen: set[tuple[str, str]] = set()
    unique: list[RawRecord] = []
    for rec in records:
        key = (rec.source_id, json.dumps(rec.payload, sort_keys=True))
        if key not in seen:
            seen.add(key)
            unique.append(rec)
    records = unique
    if not records:
        return GateResult([], [])
    gx, ctx, batch_def = _validator()
    now = now or datetime.now(UTC)
    df = _frame(table, records)
    suite = gx.ExpectationSuite(name=f"landing__{table}")
    rules = _rules(table, currencies, now, future_tolerance_hours)
    for _, rule in rules:
        suite.add_expectation(rule.build())
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite, result_format="COMPLETE")
    reasons: dict[int, list[str]] = {}
    outcomes = []
    for (_, rule), res in zip(rules, result.results, strict=True):
        idx = res.result.get("unexpected_index_list") or []
        rows = sorted(set(_flat_index(idx)))
        for i in rows:
            reasons.setdefault(i, []).append(rule.name)
        outcomes.append(
            {
                "suite": suite.name,
                "expectation": rule.name,
                "success": bool(res.success),
                "unexpected_count": len(rows),
                "critical": rule.critical,
            }
        )
    good = [r for i, r in enumerate(records) if i not in reasons]
    bad = [
        (records[i].source_id, "; ".join(why), json.dumps(records[i].payload, sort_keys=True))
        for i, why in sorted(reasons.items())
    ]
    if len(bad) > max_bad_share * len(records):
        first = bad[0][1] if bad else ""
        raise PageRejected(
            f"{len(bad)} of {len(records)} records failed the landing checks "
            f"(more than {max_bad_share:.0%}; first: {first}); nothing landed from this page"
        )
    return GateResult(good, bad, outcomes)


def _flat_index(idx: list) -> list:
    """GX gives row positions as ints, or as dicts for compound-column expectations."""
    out = []
    for i in idx:
        if isinstance(i, dict):
            out.append(int(i.get("index", next(iter(i.values())))))
        else:
            out.append(int(i))
    return out
