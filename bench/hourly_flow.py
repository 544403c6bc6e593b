"""`python -m bench.hourly_flow`: the hourly flow end to end on the `large` sandbox, by stage.

One warehouse with the large store's history in raw (loaded with DuckDB's readers, as
`bench.dbt_build` does) and its marts built by the real `full-refresh` flow; then 5,000 new or
changed orders arrive as dropped JSON Lines files (3,000 new Shopify orders, 1,500 late Shopify
cancellations, Woo orders completed, Amazon orders shipped: `bench.dbt_build.HOURLY_SQL`), and
the real `hourly-sync` Prefect flow runs: the landing gate and the one landing path, `dbt build`
of what the new rows feed (with its snapshot for rollback), the checks, and the publication of
the read-only copy for analysts. Each stage is timed inside the flow
(`flows.pipeline.sync_stage` / `build_stage` / `check_stage` / `publish_stage`), so the figures
are what a scheduler sees. The floor is `bench.dbt_build.floor_query` in the same run.

Targets: the hourly flow under 30 s, its dbt part under 10 s; the full
`dbt build --full-refresh` under 2 minutes (issue #20); the publish step under 15% of the hourly
flow (issue #16).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import flows  # noqa: F401  (library defaults)
from bench import Stopwatch, timing
from bench.dbt_build import (
    CACHE,
    HOURLY_AMAZON_SQL,
    HOURLY_ORDERS,
    HOURLY_SQL,
    HOURLY_TABLES,
    ensure_drop,
    floor_query,
    load_raw,
)

# raw table -> the folder of the sandbox's drop the channel reads (demo config)
FOLDERS = {
    "shop__orders": "shop/orders",
    "woo__orders": "woo/orders",
    "amazon__orders": "amazon/orders",
}


def write_hourly_drop(warehouse: Path, drop: Path) -> int:
    """The hourly batch as dropped files: computed by the same SQL as bench.dbt_build, inside a
    transaction that is rolled back, so raw is untouched and the files land the real way."""
    import duckdb

    con = duckdb.connect(str(warehouse))
    n = 0
    try:
        con.execute("set timezone = 'UTC'")
        con.execute("begin")
        con.execute(HOURLY_SQL)
        done = sum(
            con.execute(f"select count(*) from raw.{t} where _load_id = 'hourly'").fetchall()[0][0]
            for t in HOURLY_TABLES
        )
        con.execute(HOURLY_AMAZON_SQL.format(remaining=max(HOURLY_ORDERS - done, 0)))
        for table in HOURLY_TABLES:
            folder = drop / FOLDERS[table]
            folder.mkdir(parents=True, exist_ok=True)
            rows = con.execute(
                f"select _payload::varchar from raw.{table} where _load_id = 'hourly'"
            ).fetchall()
            (folder / "hourly.jsonl").write_text("".join(p + "\n" for (p,) in rows))
            n += len(rows)
        con.execute("rollback")
    finally:
        con.close()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(CACHE / "hourly"), help="warehouse folder (rebuilt)")
    parser.add_argument("--out", default="bench/results/hourly_flow.json")
    args = parser.parse_args()

    from flows import pipeline
    from flows.config import parse_config
    from flows.demo import demo_config_dict

    drop = ensure_drop()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    warehouse = work / "oms.duckdb"
    t0 = time.perf_counter()
    raw_rows = load_raw(warehouse, drop)
    t_load = time.perf_counter() - t0
    print(f"raw loaded in {t_load:.1f}s: {sum(raw_rows.values()):,} rows", flush=True)

    t0 = time.perf_counter()
    floor_query(warehouse)
    t_floor = time.perf_counter() - t0

    hourly_drop = work / "drop"
    data = demo_config_dict(str(warehouse), str(hourly_drop), str(work / "out"))
    cfg = parse_config(data, source="bench config", base_dir=work)

    t0 = time.perf_counter()
    full = pipeline.full_refresh(cfg=cfg)
    t_full = time.perf_counter() - t0
    assert full.dbt is not None
    print(f"full-refresh flow: {t_full:.1f}s ({full.dbt.models_built} models)", flush=True)

    n_orders = write_hourly_drop(warehouse, hourly_drop)
    names = ("sync_stage", "build_stage", "check_stage", "publish_stage")
    stages = {name: Stopwatch() for name in names}
    t0 = time.perf_counter()
    with (
        timing(pipeline, "sync_stage", stages["sync_stage"]),
        timing(pipeline, "build_stage", stages["build_stage"]),
        timing(pipeline, "check_stage", stages["check_stage"]),
        timing(pipeline, "publish_stage", stages["publish_stage"]),
    ):
        hourly = pipeline.hourly_sync(cfg=cfg)
    t_hourly = time.perf_counter() - t0
    assert hourly.sync is not None and hourly.dbt is not None, hourly.skipped
    seconds = {k.removesuffix("_stage"): round(w.seconds, 2) for k, w in stages.items()}
    other = t_hourly - sum(w.seconds for w in stages.values())
    seconds["flow_overhead"] = round(other, 2)
    print(f"hourly flow after {n_orders:,} orders: {t_hourly:.1f}s {seconds}", flush=True)

    result = {
        "bench": "hourly_flow",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine_cpus": os.cpu_count(),
        "raw_rows": sum(raw_rows.values()),
        "hourly_orders_dropped": n_orders,
        "hourly_rows_landed": hourly.sync.rows_landed,
        "hourly_rows_quarantined": hourly.sync.rows_quarantined,
        "seconds": {
            "load_raw": round(t_load, 1),
            "floor_query": round(t_floor, 2),
            "full_refresh_flow": round(t_full, 1),
            "full_dbt_snapshot": round(full.dbt.snapshot_seconds, 2),
            "hourly_flow": round(t_hourly, 1),
            "hourly_dbt_snapshot": round(hourly.dbt.snapshot_seconds, 2),
            **{f"hourly_{k}": v for k, v in seconds.items()},
        },
        "hourly_stage_share": {k: round(v / t_hourly, 3) for k, v in seconds.items()},
        "ratio_to_floor": {
            "full_refresh_flow": round(t_full / t_floor, 1),
            "hourly_flow": round(t_hourly / t_floor, 1),
            "hourly_build": round(stages["build_stage"].seconds / t_floor, 1),
        },
        "targets_seconds": {"hourly_flow": 30, "hourly_build": 10, "full_build": 120},
        "targets_share": {"publish": 0.15},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["seconds"]), json.dumps(result["hourly_stage_share"]))


if __name__ == "__main__":
    main()
