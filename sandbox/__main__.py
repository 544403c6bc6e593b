"""`python -m sandbox --scale demo --seed 7 --out data/drop [--end-date 2026-11-24]`.

A convenience for trying the sandbox by hand and for benchmarks; flows use the Python API.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from sandbox import PRESETS, generate_store, write_drops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", default="demo", choices=sorted(PRESETS))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--end-date", type=dt.date.fromisoformat, default=None)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    t0 = time.perf_counter()
    store = generate_store(args.seed, args.scale, args.end_date)
    t1 = time.perf_counter()
    counts = write_drops(store, args.out)
    t2 = time.perf_counter()
    print(
        f"generated {args.scale} (seed {args.seed}, {store.start_date}..{store.end_date}) in {t1 - t0:.1f}s"
    )
    print(f"orders {store.truth['orders'].height}, lines {store.truth['order_lines'].height}")
    print(f"wrote {sum(counts.values())} files to {args.out} in {t2 - t1:.1f}s: {counts}")


if __name__ == "__main__":
    main()
