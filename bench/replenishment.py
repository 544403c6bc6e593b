"""`python -m bench.replenishment [--scale large] [--weeks 26]`: the reorder policy, simulated.

Replays the last weeks of the sandbox store day by day (true demand, lost sales, sampled lead
times) under the planner's periodic-review order-up-to policy and under a days-of-cover rule
tuned to the same fill rate, and writes the figures to ``bench/results/replenishment.json``.
Then the same policy again with transfers between own locations first (the sandbox's lanes,
``flows/demo.py``; FBA-EU fed from the warehouses), on the same demand and lead-time draws:
its inventory value, fill rate and cycle service level as ratios to the run without.
See ``forecasting/simulation.py`` for the mechanics and ``docs/replenishment.md`` for the
results. Targets: cycle service level within 2 points of target; at least 15% less average
inventory value than the tuned days-of-cover rule; with transfers, at least 5% less inventory
at the same or better fill rate.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl


def abc_classes(demand: pl.DataFrame, products: pl.DataFrame, before: date) -> pl.DataFrame:
    """ABC by revenue over the year before ``before``: A = top 80%, B = next 15%, C = the rest.

    The same rule as ``marts.products.abc_class`` (trailing revenue), computed on the truth.
    """
    revenue = (
        demand.filter((pl.col("date") < before) & (pl.col("date") >= before - timedelta(days=365)))
        .group_by("sku")
        .agg(units=pl.col("units_sold").sum())
        .join(products.select("sku", pl.col("list_price").cast(pl.Float64)), on="sku")
        .with_columns(revenue=pl.col("units") * pl.col("list_price"))
        .sort(["revenue", "sku"], descending=[True, False])
        .with_columns(share=pl.col("revenue").cum_sum() / pl.col("revenue").sum())
    )
    return revenue.select(
        "sku",
        abc_class=pl.when(pl.col("share") - pl.col("revenue") / pl.col("revenue").sum() < 0.80)
        .then(pl.lit("A"))
        .when(pl.col("share") - pl.col("revenue") / pl.col("revenue").sum() < 0.95)
        .then(pl.lit("B"))
        .otherwise(pl.lit("C")),
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="large", help="sandbox preset: tiny, demo or large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--warmup-weeks", type=int, default=8)
    parser.add_argument("--end-date", default="2026-10-31")
    parser.add_argument("--out", default="bench/results/replenishment.json")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--start-empty",
        action="store_true",
        help="start from no stock and no pipeline (use --warmup-weeks 13 or more)",
    )
    parser.add_argument(
        "--no-measured-errors",
        action="store_true",
        help="safety stock from the forecast's own spread only (the policy before measured errors)",
    )
    parser.add_argument(
        "--no-transfers", action="store_true", help="skip the run with transfers between locations"
    )
    parser.add_argument(
        "--no-marketplace-lanes",
        action="store_true",
        help="transfers between the warehouses and the store only (FBA-EU bought for directly)",
    )
    args = parser.parse_args(argv)

    from flows.demo import demo_config_dict
    from forecasting.settings import ReplenishmentSettings
    from forecasting.simulation import simulate_replenishment
    from sandbox import generate_store
    from sandbox.catalog import BOOK_RATE, LOCATION_META

    started = time.perf_counter()

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"{time.perf_counter() - started:7.1f}s  {msg}", flush=True)

    store = generate_store(
        seed=args.seed, scale=args.scale, end_date=date.fromisoformat(args.end_date)
    )
    t_gen = time.perf_counter() - started
    say(f"sandbox {args.scale} generated")
    truth = store.truth
    settings = ReplenishmentSettings()
    sim_start = store.end_date - timedelta(
        days=(args.weeks + args.warmup_weeks) * settings.review_period_days - 1
    )
    abc = abc_classes(truth["demand"], truth["products"], sim_start)
    t0 = time.perf_counter()
    result = simulate_replenishment(
        truth["demand"],
        truth["supplier_terms"],
        settings,
        weeks=args.weeks,
        warmup_weeks=args.warmup_weeks,
        abc_class=abc,
        open_purchase_orders=truth["purchase_orders"],
        fx_to_base=BOOK_RATE,
        seed=args.seed,
        start_empty=args.start_empty,
        measure_errors=not args.no_measured_errors,
        progress=say,
    )
    sim_s = round(time.perf_counter() - t0, 1)
    transfers: dict[str, object] = {}
    if not args.no_transfers:
        lanes = demo_config_dict()["replenishment"]["transfer_lanes"]
        kinds = {loc: meta[2] for loc, meta in LOCATION_META.items()}
        if args.no_marketplace_lanes:
            lanes = [lane for lane in lanes if kinds[lane["to"]] != "marketplace_fulfilled"]
        t1 = time.perf_counter()
        moved = simulate_replenishment(
            truth["demand"],
            truth["supplier_terms"],
            settings.replace(transfer_lanes=lanes),
            weeks=args.weeks,
            warmup_weeks=args.warmup_weeks,
            abc_class=abc,
            open_purchase_orders=truth["purchase_orders"],
            fx_to_base=BOOK_RATE,
            seed=args.seed,
            start_empty=args.start_empty,
            measure_errors=not args.no_measured_errors,
            progress=say,
            location_kinds=kinds,
        )
        base, with_t = result.policy, moved.policy
        value_ratio = with_t.avg_inventory_value / base.avg_inventory_value
        transfers = {
            "lanes": lanes,
            "transfer_lines": moved.transfer_lines,
            "transfer_units": moved.transfer_units,
            "policy_with_transfers": with_t.as_dict(),
            "inventory_value_ratio": round(value_ratio, 4),
            "fill_rate_ratio": round(with_t.fill_rate / base.fill_rate, 5),
            "cycle_service_level_ratio": round(
                with_t.cycle_service_level / base.cycle_service_level, 5
            ),
            "target_5pct_less_inventory_same_fill_rate": value_ratio <= 0.95
            and with_t.fill_rate >= base.fill_rate,
            "simulation_s": round(time.perf_counter() - t1, 1),
        }
    out = {
        "date": date.today().isoformat(),
        "scale": args.scale,
        "seed": args.seed,
        "weeks": args.weeks,
        "warmup_weeks": args.warmup_weeks,
        "start": "empty" if args.start_empty else "store stock and open POs",
        "measured_errors": not args.no_measured_errors,
        "settings": settings.model_dump(mode="json", exclude={"output_dir"}),
        **result.as_dict(),
        "targets": {
            "csl_within_2_points": abs(
                result.policy.cycle_service_level - result.policy.target_service_level
            )
            <= 0.02,
            "inventory_reduction_at_least_15pct": result.inventory_reduction >= 0.15,
        },
        "transfers": transfers,
        "sandbox_generate_s": round(t_gen, 1),
        "simulation_s": sim_s,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
