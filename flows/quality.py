"""The landing gate: Great Expectations suites applied to every page or file before it commits.

Each stream has a list of `Check`s over *features* pulled from its payloads (id, updated time,
currency, quantities, money, SKUs, locations). The features of one page become a pandas frame
that GX validates with `result_format="COMPLETE"`, which names the failing rows. Rows failing a
critical check go to `ops.quarantine` with the check's words as the reason; the rest land. Checks
that are not critical (an unknown SKU) only *flag*: the record lands and the flag is counted in
`ops.validation_results`, because a new product should not stop its first orders.

A page with more than `max_bad_share` bad rows is refused whole: that many failures usually means
the format changed, and landing the remainder would make the marts quietly wrong.

GX's SQL datasource cannot read DuckDB (GX 1.24) without patching GX, so we validate dataframes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache

import pandas as pd

from connectors.records import RawRecord
from flows.config import ISO_CURRENCIES

INT_RE = r"^-?\d+$"
DECIMAL_RE = r"^\d+(?:\.\d+)?$"  # non-negative
MAX_UNITS = 10_000  # a line or a count beyond this is a typo, not a sale
MAX_STOCK = 1_000_000
MONEY_TOLERANCE = Decimal("0.01")


class PageRejected(ValueError):
    """Too many bad records in one page or file: nothing of it lands."""


@dataclass(frozen=True)
class Check:
    """One expectation on one feature. kind: present | whole | between | decimal | in_set |
    currencies | iso_currency | locations | gap | known_skus."""

    feature: str
    kind: str
    extract: Callable[[dict], object] | None = None  # None: the feature is built in (id, time)
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] = ()
    critical: bool = True


@dataclass
class GateResult:
    good: list[RawRecord]
    bad: list[tuple[str | None, str, str]]  # (source_id, reason, payload text)
    outcomes: list[dict] = field(default_factory=list)  # one per check, for ops.validation_results


# ----------------------------------------------------------------------------- feature helpers


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


def _items(payload: dict, key: str) -> list[dict]:
    items = payload.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise TypeError(f"{key} is not a list of objects")
    return items


def _ints(values: Iterable[object]) -> list[int] | str:
    """Whole numbers, or the first value that is not one (as text, to fail `whole`)."""
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | str):
            return repr(v)
        try:
            out.append(int(str(v)))
        except ValueError:
            return str(v)
    return out


def _min_qty(key: str, qty: str) -> Callable[[dict], object]:
    def get(p: dict) -> object:
        q = _ints(i.get(qty) for i in _items(p, key))
        return q if isinstance(q, str) else (str(min(q)) if q else None)

    return get


def _max_qty(key: str, qty: str) -> Callable[[dict], object]:
    def get(p: dict) -> object:
        q = _ints(i.get(qty) for i in _items(p, key))
        return None if isinstance(q, str) or not q else max(abs(x) for x in q)

    return get


def _dec(v: object) -> Decimal | None:
    try:
        return Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None


def _gap(total: Callable[[dict], object], parts: Callable[[dict], Iterable[object]]):
    """|reported total − sum of its parts|, or a large number when a part is not a number."""

    def get(p: dict) -> float | None:
        reported = _dec(total(p))
        pieces = [_dec(x) for x in parts(p)]
        if reported is None or any(x is None for x in pieces):
            return 1e9
        return float(abs(reported - sum(pieces, Decimal(0))))

    return get


def _shop_lines(p: dict) -> list[object]:
    """price × quantity of every line (None where either is not a number)."""
    out: list[object] = []
    for i in _items(p, "line_items"):
        price, qty = _dec(i.get("price")), _dec(i.get("quantity"))
        out.append(price * qty if price is not None and qty is not None else None)
    return out


def _skus(key: str, field_name: str) -> Callable[[dict], object]:
    return lambda p: [str(i.get(field_name) or "") for i in _items(p, key)]


def _one(name: str) -> Callable[[dict], object]:
    return lambda p: _text(p.get(name))


ID = Check("source_id", "present")
TIME = Check("updated_at", "future")


def _order_checks(lines: str, qty: str, sku: str) -> list[Check]:
    return [
        Check("min_quantity", "whole", _min_qty(lines, qty)),
        Check("min_quantity", "between", _min_qty(lines, qty), low=1),
        Check("max_quantity", "between", _max_qty(lines, qty), high=MAX_UNITS),
        Check("line_count", "between", lambda p: len(_items(p, lines)), low=1),
        Check("skus", "known_skus", _skus(lines, sku), critical=False),
    ]


CHECKS: dict[str, list[Check]] = {
    "shop__orders": [
        ID,
        TIME,
        Check("currency", "currencies", _one("currency")),
        Check("total_price", "decimal", _one("total_price")),
        Check(
            "line_total_gap", "gap", _gap(lambda p: p.get("total_line_items_price"), _shop_lines)
        ),
        *_order_checks("line_items", "quantity", "sku"),
    ],
    "shop__customers": [ID, TIME],
    "shop__products": [
        ID,
        TIME,
        Check(
            "variants_without_sku",
            "between",
            lambda p: sum(1 for v in _items(p, "variants") if not v.get("sku")),
            high=0,
        ),
    ],
    "amazon__orders": [
        ID,
        TIME,
        Check("currency", "currencies", lambda p: _text(_dig(p, "OrderTotal", "CurrencyCode"))),
        Check("order_total", "decimal", lambda p: _text(_dig(p, "OrderTotal", "Amount"))),
    ],
    "amazon__order_items": [
        ID,
        TIME,
        Check(
            "currency",
            "currencies",
            lambda p: next(
                (_text(_dig(i, "ItemPrice", "CurrencyCode")) for i in _items(p, "OrderItems")), None
            ),
        ),
        *_order_checks("OrderItems", "QuantityOrdered", "SellerSKU"),
    ],
    "amazon__financial_events": [
        ID,
        TIME,
        Check("event_type", "in_set", _one("EventType"), values=("Shipment", "Refund")),
    ],
    "woo__orders": [
        ID,
        TIME,
        Check("currency", "currencies", _one("currency")),
        Check("total_price", "decimal", _one("total")),
        Check(
            "line_total_gap",
            "gap",
            _gap(
                lambda p: p.get("total"),
                lambda p: (
                    [i.get("total") for i in _items(p, "line_items")]
                    + [p.get("shipping_total"), p.get("total_tax")]
                ),
            ),
        ),
        *_order_checks("line_items", "quantity", "sku"),
    ],
    "woo__refunds": [
        ID,
        TIME,
        Check("order_id", "present", _one("order_id")),
        Check("amount", "decimal", _one("amount")),
    ],
    "woo__customers": [ID, TIME],
    "tills__orders": [
        ID,
        TIME,
        Check("currency", "currencies", _one("currency")),
        Check("quantity", "whole", _one("quantity")),
        Check(
            "quantity_abs", "between", lambda p: abs(int(str(p.get("quantity")))), high=MAX_UNITS
        ),
        Check("unit_price", "decimal", _one("unit_price")),
        Check("location_id", "locations", _one("location_id")),
        Check("skus", "known_skus", lambda p: [str(p.get("sku") or "")], critical=False),
    ],
    "tpl__stock": [
        ID,
        TIME,
        Check("on_hand", "whole", _one("on_hand")),
        Check("on_hand", "between", _one("on_hand"), low=0, high=MAX_STOCK),
        Check("location_id", "locations", _one("location_id")),
        Check("skus", "known_skus", lambda p: [str(p.get("sku") or "")], critical=False),
    ],
    "files__supplier_terms": [
        ID,
        Check("currency", "currencies", _one("currency")),
        Check("unit_cost", "decimal", _one("unit_cost")),
        Check("moq", "whole", _one("moq")),
        Check("moq", "between", _one("moq"), low=1, high=MAX_STOCK),
        Check("case_pack", "whole", _one("case_pack")),
        Check("case_pack", "between", _one("case_pack"), low=1, high=MAX_STOCK),
        Check("lead_time_days", "whole", _one("lead_time_days")),
        Check("lead_time_days", "between", _one("lead_time_days"), low=0, high=730),
        Check("lead_time_std_days", "decimal", _one("lead_time_std_days")),
    ],
    "files__purchase_orders": [
        ID,
        TIME,
        Check("quantity_ordered", "whole", _one("quantity_ordered")),
        Check("quantity_ordered", "between", _one("quantity_ordered"), low=0, high=MAX_STOCK),
        Check("quantity_received", "whole", _one("quantity_received")),
        Check("quantity_received", "between", _one("quantity_received"), low=0, high=MAX_STOCK),
        Check(
            "status", "in_set", _one("status"), values=("open", "partial", "received", "cancelled")
        ),
        Check("location_id", "locations", _one("location_id")),
    ],
    "files__buyer_decisions": [
        ID,
        TIME,
        Check("quantity_ordered", "whole", _one("quantity_ordered")),
        Check("quantity_ordered", "between", _one("quantity_ordered"), low=1, high=MAX_STOCK),
        Check("location_id", "locations", _one("location_id")),
    ],
    "files__fx_rates": [
        ID,
        TIME,
        Check("currency", "iso_currency", _one("currency")),
        Check("rate", "decimal", _one("rate")),
        Check("rate", "between", _one("rate"), low=1e-9),
    ],
}


def _num(x: float | None) -> str:
    return "" if x is None else (f"{int(x):,}" if float(x).is_integer() else f"{x:g}")


def describe(check: Check, ctx: GateContext) -> str:
    """The words that go into the quarantine reason and the verdict."""
    f, k = check.feature, check.kind
    if k == "present":
        return f"{f} present"
    if k == "future":
        return f"updated time not more than {ctx.future_tolerance_hours:g} h in the future"
    if k == "whole":
        return f"{f} is a whole number"
    if k == "between":
        lo, hi = _num(check.low), _num(check.high)
        if check.low is not None and check.high is not None:
            return f"{f} between {lo} and {hi}"
        return f"{f} at least {lo}" if check.low is not None else f"{f} at most {hi}"
    if k == "decimal":
        return f"{f} is a non-negative decimal"
    if k == "in_set":
        return f"{f} is one of {', '.join(check.values)}"
    if k == "currencies":
        return f"currency is one of the configured {', '.join(ctx.currencies)}"
    if k == "iso_currency":
        return "currency is an ISO 4217 code"
    if k == "locations":
        return "location_id is a configured location"
    if k == "gap":
        return f"{f.replace('_gap', '')}s add up to the total (within {MONEY_TOLERANCE})"
    if k == "known_skus":
        return "SKU is in the catalogue (flag only)"
    raise ValueError(k)


@dataclass(frozen=True)
class GateContext:
    """What the gate compares against: configuration and what the warehouse already knows."""

    currencies: tuple[str, ...]
    locations: tuple[str, ...] | None = None  # None: do not check
    known_skus: frozenset[str] | None = None  # None: do not flag
    max_bad_share: float = 0.2
    future_tolerance_hours: float = 24
    now: datetime | None = None


@cache
def _validator():
    """One ephemeral GX context and a pandas dataframe asset, reused for every page."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = ctx.data_sources.add_pandas("landing").add_dataframe_asset("page")
    return gx, ctx, asset.add_batch_definition_whole_dataframe("whole_page")


def _expectation(check: Check, col: str, ctx: GateContext, now: datetime):
    import great_expectations as gx

    E = gx.expectations
    k = check.kind
    if k == "present":
        return E.ExpectColumnValuesToNotBeNull(column=col)
    if k == "future":
        latest = (now + timedelta(hours=ctx.future_tolerance_hours)).replace(tzinfo=None)
        return E.ExpectColumnValuesToBeBetween(column=col, max_value=latest)
    if k == "whole":
        return E.ExpectColumnValuesToMatchRegex(column=col, regex=INT_RE)
    if k in ("between", "gap"):
        high = float(MONEY_TOLERANCE) if k == "gap" else check.high
        return E.ExpectColumnValuesToBeBetween(column=col, min_value=check.low, max_value=high)
    if k == "decimal":
        return E.ExpectColumnValuesToMatchRegex(column=col, regex=DECIMAL_RE)
    if k == "in_set":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=list(check.values))
    if k == "currencies":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=list(ctx.currencies))
    if k == "iso_currency":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=sorted(ISO_CURRENCIES))
    if k == "locations":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=list(ctx.locations or ()))
    if k == "known_skus":
        return E.ExpectColumnValuesToBeBetween(column=col, max_value=0)
    raise ValueError(k)


def _frame(
    checks: list[Check], records: list[RawRecord], ctx: GateContext
) -> tuple[pd.DataFrame, list[str]]:
    """One row per record, one column per check (so each check has its own expectation)."""
    data: dict[str, list] = {}
    cols: list[str] = []
    for n, check in enumerate(checks):
        col = f"c{n}_{check.feature}"
        cols.append(col)
        values: list = []
        for rec in records:
            if check.kind == "present" and check.extract is None:
                values.append(rec.source_id or None)
                continue
            if check.kind == "future":
                ts = rec.source_updated_at
                values.append(ts.astimezone(UTC).replace(tzinfo=None) if ts else None)
                continue
            try:
                v = check.extract(rec.payload)
            except (AttributeError, TypeError, ValueError, KeyError):
                v = UNREADABLE
            if check.kind == "known_skus":
                skus = v if isinstance(v, list) else []
                v = (
                    sum(1 for s in skus if s not in ctx.known_skus)
                    if ctx.known_skus is not None
                    else 0
                )
            elif check.kind in ("between", "gap") and v is not None:
                num = pd.to_numeric(v, errors="coerce") if v is not UNREADABLE else float("nan")
                # A value that is there but not a number must fail the range (GX skips nulls).
                v = _outside(check) if pd.isna(num) else float(num)
            values.append(v)
        data[col] = values
    df = pd.DataFrame(data)
    for check, col in zip(checks, cols, strict=True):
        if check.kind == "future":
            df[col] = pd.to_datetime(df[col])
    return df, cols


UNREADABLE = "<unreadable>"


def _outside(check: Check) -> float:
    """A number that fails `check`'s range, for values that could not be read as numbers."""
    if check.kind == "gap":
        return 1e18
    return check.low - 1 if check.low is not None else (check.high or 0) + 1


def _active(checks: list[Check], ctx: GateContext) -> list[Check]:
    return [
        c
        for c in checks
        if not (c.kind == "locations" and ctx.locations is None)
        and not (c.kind == "known_skus" and ctx.known_skus is None)
    ]


def gate_records(
    table: str,
    records: list[RawRecord],
    currencies: Iterable[str],
    max_bad_share: float = 0.2,
    future_tolerance_hours: float = 24,
    now: datetime | None = None,
    *,
    locations: Iterable[str] | None = None,
    known_skus: Iterable[str] | None = None,
) -> GateResult:
    """Split a page into records to land and records to quarantine, with GX as the judge."""
    ctx = GateContext(
        tuple(sorted(currencies)),
        tuple(sorted(locations)) if locations is not None else None,
        frozenset(known_skus) if known_skus is not None else None,
        max_bad_share,
        future_tolerance_hours,
        now,
    )
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
    gx, _ctx, batch_def = _validator()
    now = ctx.now or datetime.now(UTC)
    checks = _active(CHECKS.get(table, [ID, TIME]), ctx)
    df, cols = _frame(checks, records, ctx)
    df["_id"] = [r.source_id for r in records]
    df["_time"] = [r.source_updated_at.isoformat() if r.source_updated_at else "" for r in records]
    suite = gx.ExpectationSuite(name=f"landing__{table}")
    exps = [_expectation(c, col, ctx, now) for c, col in zip(checks, cols, strict=True)]
    exps.append(gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["_id", "_time"]))
    names = [describe(c, ctx) for c in checks] + ["id unique within the page (per updated time)"]
    critical = [c.critical for c in checks] + [True]
    for e in exps:
        suite.add_expectation(e)
    result = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(
        suite, result_format="COMPLETE"
    )
    reasons: dict[int, list[str]] = {}
    outcomes = []
    for name, crit, res in zip(names, critical, result.results, strict=True):
        rows = sorted(set(_flat_index(res.result.get("unexpected_index_list") or [])))
        if crit:
            for i in rows:
                reasons.setdefault(i, []).append(name)
        outcomes.append(
            {
                "suite": suite.name,
                "expectation": name,
                "success": bool(res.success),
                "unexpected_count": len(rows),
                "critical": crit,
            }
        )
    good = [r for i, r in enumerate(records) if i not in reasons]
    bad = [
        (records[i].source_id, "; ".join(why), json.dumps(records[i].payload, sort_keys=True))
        for i, why in sorted(reasons.items())
    ]
    if len(bad) > max_bad_share * len(records):
        raise PageRejected(
            f"{len(bad)} of {len(records)} records failed the landing checks "
            f"(more than {max_bad_share:.0%}; first: {bad[0][1]}); nothing landed from this page"
        )
    return GateResult(good, bad, outcomes)


def _flat_index(idx: list) -> list[int]:
    """GX gives row positions as ints, or as dicts for compound-column expectations."""
    return [
        int(i.get("index", next(iter(i.values())))) if isinstance(i, dict) else int(i) for i in idx
    ]
