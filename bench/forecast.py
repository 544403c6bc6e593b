"""`python -m bench.forecast [--scale large]`: our forecasts against statsforecast and seasonal naive.

On the sandbox store (``seed=7``, ``large``: 5,000 SKUs x 4 locations, 2 years) the last 13
weeks are held out. Every series with history before the holdout is forecast 13 weeks ahead by

- ours: :func:`forecasting.engine.forecast_all` (classification, candidates, rolling-origin
  selection, quantiles), timed on 2 worker processes, on a first slice of 10,000 series and
  then on the rest;
- statsforecast ``AutoETS(season_length=52)`` and ``CrostonOptimized`` (``n_jobs=2``) on the
  same weekly series (our censoring-imputed history, since they cannot take missing values);
- seasonal naive (same week last year).

statsforecast pins pandas below 3, so it never enters the project's environment: it runs in a
separate virtualenv (``.venv-bench``, ``--bench-python``) as a subprocess of this file, reading
and writing parquet. The same virtualenv draws the plot (matplotlib). Create it with::

    python3 -m venv .venv-bench
    .venv/bin/uv pip install --python .venv-bench/bin/python statsforecast polars pyarrow matplotlib

Accuracy is measured on the holdout weeks that were not censored by a stockout: MASE (mean
absolute error over the mean absolute one-week change of the training history, averaged over
series), RMSSE weighted by each series' revenue over the last 52 training weeks, and the share
of holdout weeks inside our p10-p90 band. Results go to ``bench/results/forecast.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOLDOUT_WEEKS = 13
END_DATE = date(2026, 11, 22)  # a Sunday: the store ends on a complete week


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


def _plot_worker(data_path: str, out_png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_parquet(data_path)
    series = list(dict.fromkeys(df["label"]))
    fig, axes = plt.subplots(len(series), 1, figsize=(10, 2.6 * len(series)), sharex=True)
    for ax, label in zip(axes, series, strict=True):
        d = df[df["label"] == label].sort_values("period_start")
        hist = d[d["kind"] == "history"]
        fut = d[d["kind"] == "forecast"]
        ax.plot(hist["period_start"], hist["units"], color="0.3", lw=1, label="history")
        ax.plot(fut["period_start"], fut["units"], "o", color="0.3", ms=3, label="actual (holdout)")
        ax.plot(fut["period_start"], fut["mean"], color="tab:blue", lw=1.5, label="forecast mean")
        ax.fill_between(
            fut["period_start"],
            fut["p10"],
            fut["p90"],
            color="tab:blue",
            alpha=0.2,
            label="p10-p90",
        )
        ax.set_title(label, fontsize=9, loc="left")
        ax.set_ylabel("units / week")
    axes[0].legend(loc="upper left", fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)


# ------------------------------------------------------------------------------------------
# project side


def _metrics(pl, np, fc, actual, scale, weights, name: str) -> dict:
    """MASE (mean over series), revenue-weighted RMSSE, both over observed holdout weeks."""
    j = (
        actual.join(fc, on=["sku", "location_id", "period_start"], how="inner")
        .filter(pl.col("units").is_not_null())
        .with_columns(err=pl.col("mean") - pl.col("units"))
        .group_by("sku", "location_id")
        .agg(mae=pl.col("err").abs().mean(), mse=(pl.col("err") ** 2).mean())
        .join(scale, on=["sku", "location_id"], how="inner")
        .filter(pl.col("scale") > 0)
        .join(weights, on=["sku", "location_id"], how="left")
        .with_columns(
            mase=pl.col("mae") / pl.col("scale"),
            rmsse=(pl.col("mse") / pl.col("scale2")).sqrt(),
            w=pl.col("revenue").fill_null(0.0),
        )
    )
    w = j["w"].to_numpy()
    return {
        "model": name,
        "series_scored": j.height,
        "mase": float(j["mase"].mean()),
        "rmsse_revenue_weighted": float(np.sum(w * j["rmsse"].to_numpy()) / np.sum(w)),
        "mase_revenue_weighted": float(np.sum(w * j["mase"].to_numpy()) / np.sum(w)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="large")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bench-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "forecast.json"))
    ap.add_argument("--plot", default=str(ROOT / "docs" / "img" / "forecast_examples.png"))
    ap.add_argument("--skip-statsforecast", action="store_true")
    ap.add_argument(
        "--reuse-statsforecast",
        default=None,
        help="take the statsforecast rows from an earlier results JSON (same store and holdout)",
    )
    ap.add_argument(
        "--ets-min-mean", type=float, default=None, help="override ForecastSettings.ets_min_mean"
    )
    args = ap.parse_args(argv)

    import numpy as np
    import polars as pl

    from forecasting.engine import ForecastSettings, accuracy_summary, forecast_all
    from forecasting.models import seasonal_naive
    from forecasting.series import build_series, series_matrix
    from sandbox import generate_store

    t0 = time.perf_counter()
    store = generate_store(seed=args.seed, scale=args.scale, end_date=END_DATE)
    t_gen = time.perf_counter() - t0
    truth = store.truth["demand"].filter(pl.col("is_active"))
    daily = truth.select(
        "date",
        "sku",
        "location_id",
        units_ordered="units_sold",
        units_returned="units_returned",
        is_stockout="is_stockout",
    )
    prices = store.truth["products"].select("sku", price=pl.col("list_price").cast(pl.Float64))
    products = store.truth["products"].select("sku", "category")
    del store, truth
    origin = END_DATE + timedelta(days=1) - timedelta(weeks=HOLDOUT_WEEKS)  # a Monday
    settings = ForecastSettings(horizon_periods=HOLDOUT_WEEKS)
    if args.ets_min_mean is not None:
        settings = replace(settings, ets_min_mean=args.ets_min_mean)

    train = build_series(daily, origin, "W", products=products)
    keys = train.select("sku", "location_id").unique().sort("sku", "location_id")
    full = build_series(daily, END_DATE + timedelta(days=1), "W")
    actual = full.filter(pl.col("period_start") >= origin).select(
        "sku", "location_id", "period_start", "units"
    )
    # per-series scales (lag-1, training observed history) and revenue weights (last 52 weeks)
    scale = (
        train.sort("sku", "location_id", "period_start")
        .with_columns(d=pl.col("units") - pl.col("units").shift(1).over("sku", "location_id"))
        .group_by("sku", "location_id")
        .agg(scale=pl.col("d").abs().mean(), scale2=(pl.col("d") ** 2).mean())
    )
    weights = (
        train.filter(pl.col("period_start") >= origin - timedelta(weeks=52))
        .join(prices, on="sku", how="left")
        .group_by("sku", "location_id")
        .agg(revenue=(pl.col("imputed") * pl.col("price")).sum())
    )

    # ---- ours: a 10,000-series slice, timed, then the rest ---------------------------------
    first_keys = keys.head(10_000)
    rest_keys = keys.slice(10_000)
    results = []
    timings = {}
    for label, ks in (("first_10k", first_keys), ("rest", rest_keys)):
        if ks.height == 0:
            continue
        part = daily.join(ks, on=["sku", "location_id"], how="semi")
        t = time.perf_counter()
        fc, acc = forecast_all(part, origin, settings, workers=args.workers, products=products)
        timings[label] = {"series": ks.height, "seconds": time.perf_counter() - t}
        results.append((fc, acc))
    ours_fc = pl.concat([r[0] for r in results])
    ours_acc = pl.concat([r[1] for r in results])
    ours_seconds = sum(v["seconds"] for v in timings.values())

    # ---- seasonal naive on the same matrices -----------------------------------------------
    kframe, periods, mats = series_matrix(train)
    t = time.perf_counter()
    sn = seasonal_naive(mats["y"], mats["filled"], [len(periods)], HOLDOUT_WEEKS, 52)[0]
    sn_seconds = time.perf_counter() - t
    starts = [origin + timedelta(weeks=k) for k in range(HOLDOUT_WEEKS)]
    sn_fc = pl.DataFrame(
        {
            "sku": np.repeat(kframe["sku"].to_numpy(), HOLDOUT_WEEKS),
            "location_id": np.repeat(kframe["location_id"].to_numpy(), HOLDOUT_WEEKS),
            "period_start": starts * kframe.height,
            "mean": sn.ravel(),
        }
    )

    rows = [
        _metrics(pl, np, ours_fc, actual, scale, weights, "ours") | {"seconds": ours_seconds},
        _metrics(pl, np, sn_fc, actual, scale, weights, "seasonal_naive") | {"seconds": sn_seconds},
    ]
    # coverage of our band on observed holdout weeks
    cov = (
        actual.join(ours_fc, on=["sku", "location_id", "period_start"], how="inner")
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

    # ---- statsforecast in its own venv ------------------------------------------------------
    sf_error = None
    with tempfile.TemporaryDirectory() as tmp:
        train_pq = Path(tmp) / "train.parquet"
        out_pq = Path(tmp) / "sf.parquet"
        train.select(
            unique_id=pl.concat_str("sku", "location_id", separator="|"),
            ds=pl.col("period_start"),
            y=pl.col("imputed"),
        ).write_parquet(train_pq)
        if args.reuse_statsforecast:
            prev = json.loads(Path(args.reuse_statsforecast).read_text())
            assert (prev["scale"], prev["seed"], prev["origin"]) == (
                args.scale,
                args.seed,
                origin.isoformat(),
            )
            rows += [
                r | {"reused_from": prev.get("run_at")}
                for r in prev["results"]
                if r["model"].startswith("statsforecast")
            ]
        elif not args.skip_statsforecast and Path(args.bench_python).exists():
            env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
            proc = subprocess.run(
                [
                    args.bench_python,
                    str(Path(__file__).resolve()),
                    "--statsforecast-worker",
                    str(train_pq),
                    str(out_pq),
                    str(HOLDOUT_WEEKS),
                    str(args.workers),
                ],
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
                sf_times = json.loads(Path(str(out_pq) + ".json").read_text())
                for name in ("autoets", "croston_optimized"):
                    part = sf.filter(pl.col("model") == name)
                    rows.append(
                        _metrics(pl, np, part, actual, scale, weights, f"statsforecast_{name}")
                        | {"seconds": sf_times[name]}
                    )
            else:
                sf_error = proc.stderr[-2000:]
        else:
            sf_error = "skipped (no bench venv or --skip-statsforecast)"

        # ---- plot: a few high-revenue series with different chosen models ------------------
        chosen = ours_acc.filter(pl.col("chosen")).join(weights, on=["sku", "location_id"])
        picks = (
            chosen.sort("revenue", descending=True)
            .group_by("model", maintain_order=True)
            .head(1)
            .head(4)
            .select("sku", "location_id", "model", "demand_class")
        )
        hist = full.join(picks, on=["sku", "location_id"]).filter(
            pl.col("period_start") >= origin - timedelta(weeks=52)
        )
        plot_df = (
            hist.join(
                ours_fc.select("sku", "location_id", "period_start", "mean", "p10", "p90"),
                on=["sku", "location_id", "period_start"],
                how="left",
            )
            .with_columns(
                kind=pl.when(pl.col("period_start") >= origin)
                .then(pl.lit("forecast"))
                .otherwise(pl.lit("history")),
                label=pl.format("{} @ {} ({}, {})", "sku", "location_id", "demand_class", "model"),
            )
            .select("label", "kind", "period_start", "units", "mean", "p10", "p90")
            .sort("label", "period_start")
        )
        plot_pq = Path(tmp) / "plot.parquet"
        plot_df.write_parquet(plot_pq)
        if Path(args.bench_python).exists():
            Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    args.bench_python,
                    str(Path(__file__).resolve()),
                    "--plot-worker",
                    str(plot_pq),
                    args.plot,
                ],
                check=False,
            )

    summary = accuracy_summary(ours_acc)
    chosen_mix = (
        ours_acc.filter(pl.col("chosen"))
        .group_by("demand_class", "model")
        .len()
        .sort("demand_class", "len", descending=[False, True])
    )
    out = {
        "run_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scale": args.scale,
        "seed": args.seed,
        "holdout_weeks": HOLDOUT_WEEKS,
        "origin": origin.isoformat(),
        "series": keys.height,
        "workers": args.workers,
        "settings": {k: v for k, v in settings.__dict__.items()},
        "load_average_at_end": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "generate_seconds": t_gen,
        "ours_timing": timings,
        "results": rows,
        "coverage_p10_p90_holdout": cov,
        "backtest_summary": summary.to_dicts(),
        "chosen_models": chosen_mix.to_dicts(),
        "statsforecast_error": sf_error,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps({k: out[k] for k in ("series", "ours_timing", "results")}, indent=2))
    print("coverage", cov)
    if sf_error:
        print("statsforecast:", sf_error, file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--statsforecast-worker":
        _statsforecast_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--plot-worker":
        _plot_worker(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(main())
