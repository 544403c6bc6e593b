"""`python -m bench.replenishment [--scale large] [--weeks 26]`: the reorder policy, simulated.

Replays the last weeks of the sandbox store day by day (true demand, lost sales, sampled lead
times) under the planner's periodic-review order-up-to policy and under a days-of-cover rule
tuned to the same fill rate, and writes the figures to ``bench/results/replenishment.json``.
Then the same policy again, on the same demand and lead-time draws, in three variants: with
transfers between own locations first (the sandbox's lanes, ``flows/demo.py``; FBA-EU fed from
the warehouses), with lead times measured from the receipts recorded before the simulated
weeks (``forecasting/lead_times.py``; the orders still take the true lead times), and with
both: each one's inventory value, fill rate and cycle service level as ratios to the current
policy's (``variants`` in the results; ``transfers`` repeats the first).
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
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from forecasting.settings import ReplenishmentSettings
    from forecasting.simulation import SimulationResult


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


def with_bundle_demand(demand: pl.DataFrame, components: pl.DataFrame | None) -> pl.DataFrame:
    """The truth's ``demand`` with each bundle's demand and sales added to its components'
    (units per bundle x the bundle's), as ``marts.daily_demand`` summed over both sources gives
    the planner (docs/marts.md, "Bundles and kits").

    Why: the sandbox's bundles take their components off the shelf, but a component's truth row
    counts only what was sold as that SKU; simulated without the bundles' demand its kit stock
    would never be used and would look like excess to move or hold.
    """
    if components is None or components.height == 0:
        return demand
    keys = ["date", "sku", "location_id"]
    extra = (
        demand.join(
            components.select(sku="bundle_sku", component="component_sku", q="quantity"),
            on="sku",
        )
        .group_by("date", "component", "location_id")
        .agg(
            add_demand=(pl.col("true_demand") * pl.col("q")).sum(),
            add_sold=(pl.col("units_sold") * pl.col("q")).sum(),
        )
        .rename({"component": "sku"})
    )
    return (
        demand.join(extra, on=keys, how="left")
        .with_columns(
            true_demand=pl.col("true_demand") + pl.col("add_demand").fill_null(0),
            units_sold=pl.col("units_sold") + pl.col("add_sold").fill_null(0),
        )
        .drop("add_demand", "add_sold")
    )


def measured_performance(purchase_orders: pl.DataFrame, seed: int, before: date) -> pl.DataFrame:
    """``supplier_id, sku, receipts, lead_time_mean_days, lead_time_std_days`` from the
    sandbox's receipts (``sandbox/purchasing.py``) of lines ordered and received before
    ``before``: per receipt, received date - order date, weighted by the units received; the
    unbiased weighted standard deviation (null with one receipt), as
    ``marts.supplier_performance`` computes them (docs/marts.md).
    """
    from sandbox.purchasing import po_receipts

    last = before - timedelta(days=1)
    rec = po_receipts(purchase_orders, seed, last).join(
        purchase_orders.select("po_id", "sku", "location_id", "supplier_id", "ordered_at"),
        on=["po_id", "sku", "location_id"],
    )
    w = pl.col("quantity_received").cast(pl.Float64)
    x = (pl.col("received_date") - pl.col("ordered_at")).dt.total_days().cast(pl.Float64)
    keys = ["supplier_id", "sku"]
    r = rec.filter(pl.col("ordered_at") < before).with_columns(w=w, x=x)
    r = r.join(
        r.group_by(keys).agg(mean=(pl.col("w") * pl.col("x")).sum() / pl.col("w").sum()), on=keys
    )
    g = r.group_by(keys).agg(
        receipts=pl.len(),
        mean=pl.col("mean").first(),
        W=pl.col("w").sum(),
        W2=(pl.col("w") ** 2).sum(),
        ss=(pl.col("w") * (pl.col("x") - pl.col("mean")) ** 2).sum(),
    )
    return g.select(
        *keys,
        pl.col("receipts").cast(pl.Int64),
        lead_time_mean_days=pl.col("mean"),
        lead_time_std_days=pl.when(pl.col("receipts") > 1)
        .then((pl.col("ss") / (pl.col("W") - pl.col("W2") / pl.col("W"))).sqrt())
        .otherwise(None),
    ).sort(keys)


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
        "--variants",
        default="transfers_and_measured_lead_times,transfers,measured_lead_times",
        help="policy variants to run after the current policy, in this order (comma-separated)",
    )

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
    parser.add_argument(
        "--only-variants",
        action="store_true",
        help="run only --variants (no current policy, no tuned rules) and write their raw "
        "outcomes to --out; merge them into a full run's results with --merge-variants",
    )
    parser.add_argument(
        "--merge-variants",
        metavar="PATH",
        help="add the variants of an --only-variants file (same scale, seed and weeks) to the "
        "results in --out, with their ratios to its current policy, and stop",
    )
    args = parser.parse_args(argv)
    if args.merge_variants:
        return merge_variants(Path(args.out), Path(args.merge_variants))

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
    truth = dict(store.truth)
    truth["demand"] = with_bundle_demand(truth["demand"], truth.get("bundle_components"))
    settings = ReplenishmentSettings()
    sim_start = store.end_date - timedelta(
        days=(args.weeks + args.warmup_weeks) * settings.review_period_days - 1
    )
    abc = abc_classes(truth["demand"], truth["products"], sim_start)
    # What the current policy's run and every variant's share: the same store, window and draws.
    same_run: dict = dict(
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
    t0 = time.perf_counter()
    result = (
        None
        if args.only_variants
        else simulate_replenishment(truth["demand"], truth["supplier_terms"], settings, **same_run)
    )
    sim_s = round(time.perf_counter() - t0, 1)
    variants: dict[str, dict[str, object]] = {}

    def write(measured_so_far: dict[str, dict[str, object]]) -> None:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        if result is None:
            out: dict = {
                "date": date.today().isoformat(),
                **_run_keys(args),
                "only_variants": True,
                "variants": measured_so_far,
                "sandbox_generate_s": round(t_gen, 1),
            }
        else:
            base = result.policy.as_dict()
            ratioed = {k: with_ratios(v, base) for k, v in measured_so_far.items()}
            out = _results(args, settings, result, ratioed, t_gen, sim_s)
        path.write_text(json.dumps(out, indent=2) + "\n")

    if not args.no_transfers:
        from forecasting.lead_times import apply_measured_lead_times
        from forecasting.simulation import simulate_policy

        lanes = demo_config_dict()["replenishment"]["transfer_lanes"]
        kinds = {loc: meta[2] for loc, meta in LOCATION_META.items()}
        if args.no_marketplace_lanes:
            lanes = [lane for lane in lanes if kinds[lane["to"]] != "marketplace_fulfilled"]
        perf = measured_performance(truth["purchase_orders"], args.seed, sim_start)
        measured = apply_measured_lead_times(truth["supplier_terms"], perf, settings)
        n_measured = int((measured["lead_time_source"] == "measured").sum())
        say(f"lead times measured for {n_measured} of {measured.height} SKUs")
        runs = {
            "transfers_and_measured_lead_times": (
                settings.replace(transfer_lanes=lanes),
                measured,
            ),
            "transfers": (settings.replace(transfer_lanes=lanes), None),
            "measured_lead_times": (settings, measured),
        }
        wanted = [v.strip() for v in args.variants.split(",") if v.strip()]
        for name in wanted:
            if name not in runs:
                parser.error(f"unknown variant {name!r}: one of {', '.join(runs)}")
        for name in wanted:
            run_settings, planning_terms = runs[name]
            t1 = time.perf_counter()
            outcome, lines, units = simulate_policy(
                truth["demand"],
                truth["supplier_terms"],
                run_settings,
                **same_run,
                location_kinds=kinds,
                planning_terms=planning_terms,
            )
            variants[name] = {
                "lanes": lanes if run_settings.transfer_lanes else [],
                "lead_times": "measured" if planning_terms is not None else "terms",
                "skus_with_measured_lead_time": n_measured if planning_terms is not None else 0,
                "transfer_lines": lines,
                "transfer_units": units,
                "policy": outcome.as_dict(),
                "simulation_s": round(time.perf_counter() - t1, 1),
            }
            say(f"{name}: inventory value {outcome.avg_inventory_value:.0f}, fill rate "
                f"{outcome.fill_rate:.4f}")  # fmt: skip
            write(variants)  # a long run keeps what it measured so far
    write(variants)
    print(json.dumps(json.loads(Path(args.out).read_text()), indent=2))
    return json.loads(Path(args.out).read_text())


def _run_keys(args: argparse.Namespace) -> dict[str, object]:
    return {
        "scale": args.scale,
        "seed": args.seed,
        "weeks": args.weeks,
        "warmup_weeks": args.warmup_weeks,
        "end_date": args.end_date,
        "start": "empty" if args.start_empty else "store stock and open POs",
        "measured_errors": not args.no_measured_errors,
    }


def with_ratios(variant: dict, base: dict) -> dict:
    """A variant's raw outcome with its ratios to the current policy's (``base``: its
    ``as_dict``) and whether it meets the target: at least 5% less inventory value at the
    same or better fill rate."""
    pol = variant["policy"]
    value_ratio = pol["avg_inventory_value"] / base["avg_inventory_value"]
    return {
        **variant,
        "inventory_value_ratio": round(value_ratio, 4),
        "fill_rate_ratio": round(pol["fill_rate"] / base["fill_rate"], 5),
        "cycle_service_level_ratio": round(
            pol["cycle_service_level"] / base["cycle_service_level"], 5
        ),
        "target_5pct_less_inventory_same_fill_rate": value_ratio <= 0.95
        and pol["fill_rate"] >= base["fill_rate"],
    }


def merge_variants(out: Path, variants_file: Path) -> dict:
    """Add the variants an ``--only-variants`` run measured (on the same store, weeks and draws:
    checked) to a full run's results, with their ratios to its current policy. Why: on a large
    store each policy run takes long; the current policy and a variant can run side by side."""
    results = json.loads(out.read_text())
    extra = json.loads(variants_file.read_text())
    keys = ("scale", "seed", "weeks", "warmup_weeks", "start", "measured_errors")
    differ = [k for k in keys if results.get(k) != extra.get(k)]
    if differ:
        raise SystemExit(f"{variants_file} is not a run of the same simulation: {differ}")
    for name, variant in extra["variants"].items():
        results["variants"][name] = with_ratios(variant, results["policy"])
    if "transfers" in results["variants"]:
        results["transfers"] = results["variants"]["transfers"]
    out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _results(
    args: argparse.Namespace,
    settings: ReplenishmentSettings,
    result: SimulationResult,
    variants: dict[str, dict[str, object]],
    t_gen: float,
    sim_s: float,
) -> dict:
    """The results file's content (``variants`` as measured so far)."""
    transfers = variants.get("transfers", {})
    out = {
        "date": date.today().isoformat(),
        **_run_keys(args),
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
        "variants": variants,
        "sandbox_generate_s": round(t_gen, 1),
        "simulation_s": sim_s,
    }
    return out


if __name__ == "__main__":
    main()
