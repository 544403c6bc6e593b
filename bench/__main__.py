"""`make bench` / `python -m bench [--scale demo]`: landing throughput against DuckDB's own reader.

The baseline is the floor of what landing could cost: DuckDB reading the same JSON Lines and CSV
files straight into tables with no checks. Ours adds parsing in Python, the GX landing gate,
payload hashing and de-duplication against what already landed. The machine is shared and noisy,
so the figure that matters is the ratio, measured back to back on the same files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import flows  # noqa: F401
from bench import Stopwatch, timing


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def baseline_duckdb(drop: Path, db: Path) -> int:
    """DuckDB's readers on the same files: every JSONL line as one JSON value, every CSV row."""
    import duckdb

    con = duckdb.connect(str(db))
    rows = 0
    for i, folder in enumerate(sorted({p.parent for p in drop.rglob("*.jsonl")})):
        con.execute(
            f"create table j{i} as select json from read_json_objects('{folder}/*.jsonl', "
            "format='newline_delimited')"
        )
        rows += con.execute(f"select count(*) from j{i}").fetchall()[0][0]
    for i, folder in enumerate(sorted({p.parent for p in drop.rglob("*.csv")})):
        con.execute(
            f"create table c{i} as select * from read_csv('{folder}/*.csv', all_varchar=true, "
            "union_by_name=true)"
        )
        rows += con.execute(f"select count(*) from c{i}").fetchall()[0][0]
    con.close()
    return rows


GATE = Stopwatch()  # time inside the landing gate itself


def ours(drop: Path, work: Path, gate: bool = True) -> int:
    import flows.landing as landing
    import flows.sync as sync
    from flows.config import parse_config
    from flows.demo import demo_config_dict

    cfg = parse_config(
        demo_config_dict(str(work / "oms.duckdb"), str(drop), str(work / "out")), base_dir=work
    )
    with timing(landing, "gate_groups", GATE):
        report = sync.sync_files(cfg, gate=gate)
    return report.rows_landed + report.rows_quarantined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="demo", help="sandbox preset: tiny, demo or large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    from sandbox import generate_store, write_drops

    with tempfile.TemporaryDirectory(prefix="oms-bench-") as tmp:
        tmp = Path(tmp)
        t_gen, store = _timed(
            lambda: generate_store(seed=args.seed, scale=args.scale, end_date=date(2026, 10, 31))
        )
        t_write, _ = _timed(lambda: write_drops(store, tmp / "drop"))
        shutil.copytree(tmp / "drop", tmp / "drop_base")
        shutil.copytree(tmp / "drop", tmp / "drop_nogate")
        t_base, n_base = _timed(lambda: baseline_duckdb(tmp / "drop_base", tmp / "base.duckdb"))
        # GX's import (seconds) happens once per process; pay it before either timed run.
        from flows.quality import _validator

        t_gx, _ = _timed(_validator)
        # Without the gate first, then with it (the same order as bench.connectors): the first
        # sync of a process warms caches the second one then enjoys, which flatters the second.
        (tmp / "work_nogate").mkdir()
        t_nogate, _ = _timed(lambda: ours(tmp / "drop_nogate", tmp / "work_nogate", gate=False))
        (tmp / "work").mkdir()
        t_ours, n_ours = _timed(lambda: ours(tmp / "drop", tmp / "work"))
    result = {
        "date": date.today().isoformat(),
        "scale": args.scale,
        "sandbox_generate_s": round(t_gen, 2),
        "sandbox_write_files_s": round(t_write, 2),
        "baseline_duckdb_read_s": round(t_base, 2),
        "baseline_rows": n_base,
        "oms_sync_s": round(t_ours, 2),
        "oms_rows": n_ours,
        "oms_rows_per_s": round(n_ours / t_ours),
        "ratio_oms_to_baseline": round(t_ours / t_base, 2),
        "oms_sync_without_gate_s": round(t_nogate, 2),
        "gate_overhead_share": round((t_ours - t_nogate) / t_nogate, 3),
        "gate_seconds_inside_sync": round(GATE.seconds, 2),
        "gate_time_share_of_landing_without_gate": round(GATE.seconds / t_nogate, 3),
        "gx_import_seconds_once_per_process": round(t_gx, 2),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"landing_{args.scale}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
