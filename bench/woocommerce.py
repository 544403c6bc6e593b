"""`python -m bench.woocommerce`: a first WooCommerce backfill (orders with their refunds) from the
emulated REST API v3 through the real connector (OAuth 1.0a over plain HTTP) and landing (gate,
hash, dedup, cursor), beside the floor: the very same HTTP requests (signed, pages of 100, each
refunded order's refunds), read and JSON-parsed, with nothing mapped or landed.

The emulator runs in its own process (it holds the generated store and renders the documented
order shape), so both runs pay the same server. The ratio (ours / floor, orders per second) is what
matters on this shared machine; the request count is what a real shop's backfill costs, since a
WordPress host answers a page of 100 orders in its own time (measure yours: one `curl` of
`orders?per_page=100`), so a first backfill of N orders takes about
requests(N) x that time + N / (our orders/s). Writes `bench/results/woocommerce.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PREFIX = "/wp-json/wc/v3"


def _scale(orders_per_day: float, days: int):
    from sandbox.catalog import Scale

    return Scale("bench", n_skus=300, n_customers=20_000, days=days, orders_per_day=orders_per_day)


def serve(args: argparse.Namespace) -> None:
    """Child process: generate the store, serve its Woo channel, run until stdin closes."""
    from sandbox import generate_store
    from sandbox.emulators.woocommerce import WooEmulator

    store = generate_store(seed=args.seed, scale=_scale(args.orders_per_day, args.days),
                           end_date=date(2026, 6, 30))  # fmt: skip
    emu = WooEmulator(store).start()
    print(json.dumps({"base_url": emu.base_url, "key": emu.key, "secret": emu.secret,
                      "orders": len(emu.book.orders)}), flush=True)  # fmt: skip
    sys.stdin.read()
    emu.stop()


def floor(base_url: str, key: str, secret: str) -> tuple[float, int, int, int]:
    """The connector's requests, no mapping or landing: (seconds, orders, refunds, requests)."""
    import httpx
    import orjson

    from connectors.woocommerce.auth import OAuth1

    orders = refunds = requests = 0
    t = time.perf_counter()
    with httpx.Client(base_url=base_url + PREFIX, auth=OAuth1(key, secret), timeout=60) as c:
        page = 1
        while True:
            r = c.get("/orders", params={"orderby": "id", "order": "asc", "page": page,
                                         "per_page": 100, "dates_are_gmt": "true"})  # fmt: skip
            requests += 1
            body = orjson.loads(r.content)
            orders += len(body)
            for o in body:
                if o["refunds"]:
                    rr = c.get(f"/orders/{o['id']}/refunds", params={"page": 1, "per_page": 100})
                    requests += 1
                    refunds += len(orjson.loads(rr.content))
            if page >= int(r.headers["X-WP-TotalPages"]) or not body:
                break
            page += 1
    return time.perf_counter() - t, orders, refunds, requests


def run(args: argparse.Namespace) -> dict:
    import flows  # noqa: F401  (environment defaults)
    import flows.api_sync as api_sync
    from flows.config import parse_config
    from flows.demo import demo_config_dict

    child = subprocess.Popen(
        [sys.executable, "-m", "bench.woocommerce", "--serve", "--orders-per-day",
         str(args.orders_per_day), "--days", str(args.days), "--seed", str(args.seed)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )  # fmt: skip
    try:
        t0 = time.perf_counter()
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        gen_s = time.perf_counter() - t0
        tmp = Path(tempfile.mkdtemp(prefix="bench-woo-"))
        os.environ["OMS_WOO_CONSUMER_KEY"] = info["key"]
        os.environ["OMS_WOO_CONSUMER_SECRET"] = info["secret"]
        data = demo_config_dict(warehouse=str(tmp / "oms.duckdb"), drop_dir=str(tmp / "drop"),
                                output_dir=str(tmp / "out"))  # fmt: skip
        woo = next(c for c in data["channels"] if c["name"] == "woo")
        woo.pop("path", None)
        woo.pop("start_date", None)
        woo.update({"source": "api", "api": {
            "base_url": info["base_url"],
            "credentials": {"consumer_key": "OMS_WOO_CONSUMER_KEY",
                            "consumer_secret": "OMS_WOO_CONSUMER_SECRET"},
            "page_size": 100, "landing_batch": args.landing_batch}})  # fmt: skip
        cfg = parse_config(data, source="bench config", base_dir=tmp)
        from flows.quality import _validator

        _validator()  # GX's import (~5 s) once, before either timed run
        floor_s, n_floor, refunds_floor, requests = floor(info["base_url"], info["key"], info["secret"])  # fmt: skip
        t = time.perf_counter()
        report = api_sync.sync_api(cfg, only_channel="woo", streams=["orders"])
        sync_s = time.perf_counter() - t
        landed = report.by_table.get("woo__orders", 0)
        ours, base = landed / sync_s, n_floor / floor_s
        # our sync also re-reads what changed while it listed (one more listing request)
        per_1000 = requests / max(n_floor, 1) * 1000
        return {
            "orders_served": n_floor,
            "orders_landed": landed,
            "refunds_landed": report.by_table.get("woo__refunds", 0),
            "refunds_served": refunds_floor,
            "quarantined": report.rows_quarantined,
            "store_generation_seconds": round(gen_s, 1),
            "sync_seconds": round(sync_s, 2),
            "orders_per_second": round(ours),
            "floor_seconds": round(floor_s, 2),
            "floor_orders_per_second": round(base),
            "ratio_to_floor": round(ours / base, 3),
            "requests_floor": requests,
            "requests_per_1000_orders": round(per_1000, 1),
            "backfill_hours_100k_orders_at_1s_per_request": round(
                (per_1000 * 100 * 1.0 + 100_000 / ours) / 3600, 2
            ),
            "auth": "oauth1 (http://)",
        }
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=60)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--orders-per-day", type=float, default=120)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--landing-batch", type=int, default=10_000)
    p.add_argument("--out", type=Path, default=RESULTS / "woocommerce.json")
    args = p.parse_args(argv)
    if args.serve:
        serve(args)
        return
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
