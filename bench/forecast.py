"""`python -m bench.forecast`: our forecasts against honest baselines and statsforecast.

Three data sets, each with a 13-week and an 8-week holdout (the last weeks of the history):

- ``sandbox``: the sandbox store (``--scale``, default ``demo``: 150 SKUs x 4 locations, two
  years; ``large`` is 5,000 SKUs, minutes per holdout), with its product categories;
- ``short_history``: the sandbox store shaped like the real retailer of issue 15
  (:mod:`sandbox.short_history`): one year in all (39-44 weeks before the holdout), many
  launches, the year-end peak inside the holdout, forecast *without* categories;
- ``m5``: the real M5 subset in ``../shared/datasets/m5-walmart-ca1-foods1`` (8 Walmart food
  items, daily, 2011-2016), weekly; days before an item's first sale are not history.

Every series with history before the holdout is forecast by

- ours: :func:`forecasting.engine.forecast_all` (classification, candidates, rolling-origin
  selection, quantiles);
- naive (last week), a 4-week moving average, seasonal naive (the same week a year before;
  *not available*, and left out of its averages, for series with less than 52 weeks);
- statsforecast ``AutoETS(season_length=52)`` and ``CrostonOptimized`` on the same weekly
  series (our censoring-imputed history: they cannot take missing values). statsforecast pins
  pandas below 3, so it runs in its own virtualenv (``.venv-bench``, ``make bench-venv``) as a
  subprocess of this file, reading and writing parquet.

Accuracy on the holdout weeks that were not censored by a stockout: per series MASE (mean
absolute error over the mean absolute one-week change of the training history), mean and median
over series; WAPE (sum of absolute errors over the sum of demand, pooled); overall and by the
demand class our engine gave the series at the origin. Coverage: share of holdout weeks inside
our p10-p90. Results go to ``bench/results/forecast.json`` and a markdown table to
``bench/results/forecast.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sandbox.shared import DATASETS

ROOT = Path(__file__).resolve().parent.parent
M5_CSV = DATASETS / "m5-walmart-ca1-foods1" / "m5_sales_exog_small.csv"
SANDBOX_END = date(2026, 11, 22)  # a Sunday: the store ends on a complete week
HOLDOUTS = (13, 8)
MODELS = (
    "ours",
    "naive",
    "moving_average_4",
    "seasonal_naive",
    "statsforecast_autoets",
    "statsforecast_croston_optimized",
)


# ------------------------------------------------------------------------------------------
# bench venv side (no project imports: this runs under .venv-bench)


def _statsforecast_worker(train_path: str, out_path: str, h: int, n_jobs: int) -> None:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, CrostonOptimized, Naive

    df = pd.read_parquet(train_path)
    df["ds"] = pd.to_datetime(df["ds"])
    timings = {}
    outs = []
    for name, model in (
        ("autoets", AutoETS(season_length=52)),
        ("croston_optimized", CrostonOptimized()),
    ):
        # AutoETS refuses series of a few weeks ("tiny datasets"): those get the naive forecast
        sf = StatsForecast(models=[model], freq="W-MON", n_jobs=n_jobs, fallback_model=Naive())
        t0 = time.perf_counter()
        fc = sf.forecast(df=df, h=h)
        timings[name] = time.perf_counter() - t0
        fc = fc.reset_index() if "unique_id" not in fc.columns else fc
        col = [c for c in fc.columns if c not in ("unique_id", "ds")][0]
        outs.append(fc[["unique_id", "ds"]].assign(model=name, mean=fc[col].clip(lower=0)))
    pd.concat(outs).to_parquet(out_path)
    Path(out_path + ".json").write_text(json.dumps(timings))


# ------------------------------------------------------------------------------------------
# project side


def sandbox_daily(scale: str, seed: int):
    """(daily demand, products with category, end date) of the sandbox store."""

    from sandbox import generate_store

    store = generate_store(seed=seed, scale=scale, end_date=SANDBOX_END)
    return _truth_daily(store.truth), store.truth["products"].select("sku", "category"), SANDBOX_END


def short_history_daily(seed: int):
    """(daily demand, no products: the real store had no categories, end date)."""
    from sandbox.short_history import END_DATE, generate_short_history_store

    store = generate_short_history_store(seed=seed)
    return _truth_daily(store.truth), None, END_DATE


def _truth_daily(truth):
    import polars as pl

    return (
        truth["demand"]
        .filter(pl.col("is_active"))
        .select(
            "date",
            "sku",
            "location_id",
            units_ordered="units_sold",
            is_stockout="is_stockout",
        )
    )


def m5_daily(path: Path = M5_CSV):
    """(daily demand from the M5 subset, None, the last Sunday of the data)."""
    import polars as pl

    raw = pl.read_csv(path, try_parse_dates=True)
    daily = (
        raw.select(
            date=pl.col("ds").cast(pl.Date),
            sku=pl.col("unique_id"),
            location_id=pl.lit("CA_1"),
            units_ordered=pl.col("y").cast(pl.Int64),
            is_stockout=pl.lit(False),
        )
        .sort("sku", "date")
        # days before an item's first sale are not history (it was not on sale yet)
        .filter(pl.col("units_ordered").cum_sum().over("sku") > 0)
    )
    last = daily["date"].max()
    assert isinstance(last, date)
    end = last - timedelta(days=(last.weekday() + 1) % 7)  # the last Sunday
    return daily.filter(pl.col("date") <= end), None, end


def _baseline_frames(pl, np, train, origin: date, h: int) -> dict:
    """naive, 4-week MA and seasonal naive (NaN where not available) on the training matrix."""
    from forecasting import models as M
    from forecasting.series import series_matrix

    keys, periods, mats = series_matrix(train)
    o = len(periods)
    means = {
        "naive": M.naive(mats["y"], mats["filled"], [o], h)[0],
        "moving_average_4": M.moving_average(mats["y"], mats["filled"], [o], h, 4)[0],
        "seasonal_naive": M.seasonal_naive(mats["y"], mats["filled"], [o], h, 52)[0],
    }
    starts = [origin + timedelta(weeks=k) for k in range(h)]
    out = {}
    for name, m in means.items():
        frame = pl.DataFrame(
            {
                "sku": np.repeat(keys["sku"].to_numpy(), h),
                "location_id": np.repeat(keys["location_id"].to_numpy(), h),
                "period_start": starts * keys.height,
                "mean": m.ravel(),
            }
        )
        out[name] = frame.filter(pl.col("mean").is_not_nan())
    return out


def _scores(pl, fc, actual, scale, classes, name: str):
    """Per-series MAE, MASE, absolute error and demand over the observed holdout weeks."""
    return (
        actual.join(fc, on=["sku", "location_id", "period_start"], how="inner")
        .filter(pl.col("units").is_not_null())
        .with_columns(err=(pl.col("mean") - pl.col("units")).abs())
        .group_by("sku", "location_id")
        .agg(mae=pl.col("err").mean(), abs_err=pl.col("err").sum(), demand=pl.col("units").sum())
        .join(scale, on=["sku", "location_id"], how="inner")
        .join(classes, on=["sku", "location_id"], how="left")
        .with_columns(
            mase=pl.when(pl.col("scale") > 0).then(pl.col("mae") / pl.col("scale")),
            model=pl.lit(name),
        )
    )


def _table(pl, scores, series_total):
    """mean / median MASE and pooled WAPE by model, overall and by class."""

    def agg(df, scope):
        return (
            df.with_columns(scope=scope)
            .group_by("scope", "model")
            .agg(
                series=pl.len(),
                mase_mean=pl.col("mase").mean(),
                mase_median=pl.col("mase").median(),
                wape=pl.col("abs_err").sum() / pl.col("demand").sum(),
            )
        )

    t = pl.concat([agg(scores, pl.lit("overall")), agg(scores, pl.col("demand_class"))])
    return t.sort("scope", "model")


def run_set(name: str, daily, products, end: date, h: int, args, log) -> dict:
    import numpy as np
    import polars as pl

    from forecasting.engine import ForecastSettings, forecast_all
    from forecasting.series import build_series

    origin = end + timedelta(days=1) - timedelta(weeks=h)  # a Monday
    settings = ForecastSettings(horizon_periods=h)
    train = build_series(daily, origin, "W", products=products)
    full = build_series(daily, end + timedelta(days=1), "W")
    actual = full.filter(pl.col("period_start") >= origin).select(
        "sku", "location_id", "period_start", "units"
    )
    scale = (
        train.sort("sku", "location_id", "period_start")
        .with_columns(d=pl.col("units") - pl.col("units").shift(1).over("sku", "location_id"))
        .group_by("sku", "location_id")
        .agg(scale=pl.col("d").abs().mean())
    )
    t = time.perf_counter()
    ours, acc = forecast_all(
        daily.filter(pl.col("date") < origin), origin, settings, workers=args.workers,
        products=products,
    )  # fmt: skip
    ours_s = time.perf_counter() - t
    log(f"{name} h={h}: ours {ours_s:.1f}s on {ours.select('sku', 'location_id').n_unique()}")
    classes = acc.filter(pl.col("chosen")).select("sku", "location_id", "demand_class")
    frames = {"ours": ours, **_baseline_frames(pl, np, train, origin, h)}
    timings = {"ours": ours_s}
    sf_error = None
    if not args.skip_statsforecast and Path(args.bench_python).exists():
        with tempfile.TemporaryDirectory() as tmp:
            train_pq, out_pq = Path(tmp) / "train.parquet", Path(tmp) / "sf.parquet"
            train.select(
                unique_id=pl.concat_str("sku", "location_id", separator="|"),
                ds=pl.col("period_start"),
                y=pl.col("imputed"),
            ).write_parquet(train_pq)
            # the worker is this file, which imports the project (sandbox.shared) at the top
            pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
            env = dict(
                os.environ, PYTHONPATH=pythonpath, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"
            )
            proc = subprocess.run(
                [args.bench_python, str(Path(__file__).resolve()), "--statsforecast-worker"]
                + [str(train_pq), str(out_pq), str(h), str(args.workers)],
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode == 0:
                sf = pl.read_parquet(out_pq).with_columns(
                    sku=pl.col("unique_id").str.split("|").list.get(0),
                    location_id=pl.col("unique_id").str.split("|").list.get(1),
                    period_start=pl.col("ds").cast(pl.Date),
                )
                times = json.loads(Path(str(out_pq) + ".json").read_text())
                for m in ("autoets", "croston_optimized"):
                    frames[f"statsforecast_{m}"] = sf.filter(pl.col("model") == m)
                    timings[f"statsforecast_{m}"] = times[m]
            else:
                sf_error = proc.stderr[-2000:]
    else:
        sf_error = "skipped (no bench venv or --skip-statsforecast)"
    scores = pl.concat(
        [_scores(pl, fc, actual, scale, classes, m) for m, fc in frames.items()],
        how="vertical_relaxed",
    )
    table = _table(pl, scores, classes.height)
    cov = (
        actual.join(ours, on=["sku", "location_id", "period_start"], how="inner")
        .filter(pl.col("units").is_not_null())
        .select(
            inside=(
                (pl.col("p10") <= pl.col("units").round(0))
                & (pl.col("units").round(0) <= pl.col("p90"))
            ).mean(),
            below=(pl.col("units").round(0) < pl.col("p10")).mean(),
            above=(pl.col("units").round(0) > pl.col("p90")).mean(),
        )
        .row(0, named=True)
    )
    with_year = int((train.group_by("sku", "location_id").len()["len"] >= 52 + h).sum())
    return {
        "set": name,
        "holdout_weeks": h,
        "origin": origin.isoformat(),
        "series": classes.height,
        "series_with_a_year_of_history": with_year,
        "class_counts": dict(classes.group_by("demand_class").len().iter_rows()),
        "table": table.to_dicts(),
        "coverage_p10_p90": cov,
        "seconds": timings,
        "statsforecast_error": sf_error,
    }


def _markdown(results: list[dict]) -> str:
    out = ["# bench.forecast", ""]
    for r in results:
        out += [
            f"## {r['set']}, {r['holdout_weeks']}-week holdout (origin {r['origin']}, "
            f"{r['series']} series, {r['series_with_a_year_of_history']} with a year of history)",
            "",
            f"p10-p90 coverage of ours: {100 * r['coverage_p10_p90']['inside']:.1f}%",
            "",
            "| scope | model | series | MASE mean | MASE median | WAPE |",
            "|---|---|---|---|---|---|",
        ]
        rows = sorted(
            r["table"],
            key=lambda x: (x["scope"] != "overall", x["scope"], MODELS.index(x["model"])),
        )
        for x in rows:

            def f(v):
                return "n/a" if v is None else f"{v:.3f}"

            out.append(
                f"| {x['scope']} | {x['model']} | {x['series']} | {f(x['mase_mean'])} | "
                f"{f(x['mase_median'])} | {f(x['wape'])} |"
            )
        if not any(x["model"] == "seasonal_naive" for x in r["table"]):
            out.append("| overall | seasonal_naive | 0 | not available: no year of history | | |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="demo", help="sandbox preset for the 'sandbox' set")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sets", default="sandbox,short_history,m5")
    ap.add_argument("--holdouts", default=",".join(str(h) for h in HOLDOUTS))
    ap.add_argument("--bench-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "forecast.json"))
    ap.add_argument("--skip-statsforecast", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    started = time.perf_counter()

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"{time.perf_counter() - started:7.1f}s  {msg}", flush=True)

    loaders: dict[str, Callable[[], tuple]] = {
        "sandbox": lambda: sandbox_daily(args.scale, args.seed),
        "short_history": lambda: short_history_daily(args.seed),
        "m5": m5_daily,
    }
    results = []
    for name in args.sets.split(","):
        daily, products, end = loaders[name]()
        log(f"{name}: {daily.height} daily rows to {end}")
        for h in (int(x) for x in args.holdouts.split(",")):
            results.append(run_set(name, daily, products, end, h, args, log))
    out = {
        "run_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sandbox_scale": args.scale,
        "seed": args.seed,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=str))
    md = _markdown(results)
    Path(args.out).with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--statsforecast-worker":
        _statsforecast_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        raise SystemExit(main())
