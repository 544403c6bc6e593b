"""`python -m bench.edges`: the bounds of issue #19, measured.

1. **Peak memory of landing one large order file** (default 200 MB of Shopify orders as JSON
   Lines, about 130,000 orders), in a fresh process, against the file's size and against DuckDB's
   own `read_json_objects` loading the same file (the floor). The target is under 1 GB for any
   file size.
2. **A sync against a server that trickles** (one byte every 20 ms after the first page): its wall
   time against the configured `sync_deadline_seconds` (the bound; the ratio should be about 1).

Results: bench/results/edges.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "edges.json"


def _order(i: int) -> dict:
    lines = [
        {"id": i * 10 + k, "sku": f"SKU-{(i + k) % 400:04d}", "quantity": 1 + k % 3,
         "price": "12.50", "title": "A product with a realistic title", "vendor": "Acme",
         "tax_lines": [{"title": "VAT", "rate": 0.21, "price": "2.17"}]}
        for k in range(3)
    ]  # fmt: skip
    total = sum(12.5 * li["quantity"] for li in lines)
    return {
        "id": 9_000_000 + i, "name": f"#{i}", "currency": "EUR",
        "created_at": "2026-06-01T09:00:00+00:00", "updated_at": "2026-06-01T10:00:00+00:00",
        "total_price": f"{total:.2f}", "total_line_items_price": f"{total:.2f}",
        "email": f"c{i % 5000}@example.com", "line_items": lines,
        "shipping_address": {"country_code": "NL", "city": "Amsterdam", "zip": "1011AB",
                             "address1": "Damrak 1", "name": "A Customer"},
        "note": "x" * 200,
    }  # fmt: skip


def write_order_file(path: Path, megabytes: float) -> int:
    """JSON Lines of Shopify orders until the file holds `megabytes`; returns the order count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target, n = megabytes * 1e6, 0
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < target:
            out.write(json.dumps(_order(n)) + "\n")
            n += 1
    return n


def _child_land(work: str) -> None:  # runs in a fresh process: its peak RSS is the figure
    from flows.config import parse_config
    from flows.demo import demo_config_dict
    from flows.sync import sync_files

    w = Path(work)
    data = demo_config_dict(
        warehouse=str(w / "oms.duckdb"), drop_dir=str(w / "drop"), output_dir=str(w / "out")
    )
    cfg = parse_config(data, source="bench", base_dir=w)
    started = time.perf_counter()
    report = sync_files(cfg, only_channel="shop")
    took = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": took, "peak_mb": peak_kb / 1024, "landed": report.rows_landed,
                      "quarantined": report.rows_quarantined, "rejected": report.rejected}))  # fmt: skip


def _child_floor(path: str, db: str) -> None:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(db)
    con.execute(
        f"create table j as select json from read_json_objects('{path}', "
        "format='newline_delimited')"
    )
    n = con.execute("select count(*) from j").fetchall()[0][0]
    con.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": peak_kb / 1024,
                      "rows": n}))  # fmt: skip


def _run_child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.edges", *args], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench.edges {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def large_file(megabytes: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="oms-bench-edges-") as tmp:
        work = Path(tmp)
        path = work / "drop" / "shop" / "orders" / "orders_large.jsonl"
        orders = write_order_file(path, megabytes)
        size_mb = path.stat().st_size / 1e6
        floor = _run_child("--child-floor", str(path), str(work / "floor.duckdb"))
        ours = _run_child("--child-land", str(work))
    return {
        "file_mb": round(size_mb, 1),
        "orders": orders,
        "ours": ours,
        "floor_read_json": floor,
        "peak_vs_file": round(ours["peak_mb"] / size_mb, 2),
        "peak_vs_floor": round(ours["peak_mb"] / floor["peak_mb"], 2),
        "time_vs_floor": round(ours["seconds"] / floor["seconds"], 2),
        "target_peak_mb": 1024,
        "target_met": ours["peak_mb"] < 1024,
    }


def trickle(deadline: float) -> dict:
    """The Woo emulator answers the first orders page at once, then trickles (1 byte / 20 ms)."""
    from connectors.http import SyncDeadlineExceeded
    from flows.api_sync import sync_api
    from tests.test_connector_helpers import api_config, emulated

    with (
        tempfile.TemporaryDirectory(prefix="oms-bench-trickle-") as tmp,
        emulated(channels=("woo",)) as eps,
    ):
        emu = eps.woo.emulator
        pages = {"n": 0}

        def after_the_first_orders_page(req) -> bool:
            pages["n"] += req.path.endswith("/orders")
            return pages["n"] > 1

        emu.trickle_gap, emu.trickle_when = 0.02, after_the_first_orders_page
        cfg = api_config(Path(tmp), eps, channels=("woo",), page_size=10, landing_batch=1,
                         timeout_seconds=600, sync_deadline_seconds=deadline)  # fmt: skip
        started = time.perf_counter()
        outcome = "finished"
        try:
            sync_api(cfg, streams=["orders"])
        except SyncDeadlineExceeded:
            outcome = "stopped at its deadline"
        took = time.perf_counter() - started
    return {"deadline_s": deadline, "wall_s": round(took, 2), "ratio": round(took / deadline, 2),
            "outcome": outcome}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--megabytes", type=float, default=200)
    ap.add_argument("--deadline", type=float, default=10)
    ap.add_argument("--child-land")
    ap.add_argument("--child-floor", nargs=2)
    a = ap.parse_args()
    if a.child_land:
        return _child_land(a.child_land)
    if a.child_floor:
        return _child_floor(*a.child_floor)
    result = {"large_file": large_file(a.megabytes), "trickle": trickle(a.deadline)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
