"""`python -m bench.amazon`: a first Amazon backfill of two years at Amazon's real usage plans,
Orders API (one getOrderItems per order) against order reports (Reports API, 30-day windows).

The emulator serves the store at the `realistic` preset (Amazon's documented default plans) in
its own process (it holds the whole generated store; the peak memory reported is the syncing
process's). At those limits the Orders API path would wait hours, so time is emulated: the
connector's clock and the emulator's are one virtual clock (the connector's every wait advances
both: the emulator's through a bench-only `/_bench/advance` endpoint), and the *emulated* wall
time is what the backfill would take against Amazon: rate-limit waits, report polling, and the
report processing time we assume (Amazon does not document it; `--report-seconds`). The real
seconds spent (HTTP, parsing, mapping) are reported beside it. Landing into DuckDB is not part of
this bench (bench.connectors measures the landing path).

The Orders API path is run over `--sample-days` (default 14) and its emulated time extrapolated
to the two years linearly (it is linear: 2 s per order after the burst); the reports path is
run over the whole two years. Writes `bench/results/amazon.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

RESULTS = Path(__file__).resolve().parent / "results"
END = date(2026, 6, 30)


def _scale(orders_per_day: float, days: int):
    from sandbox.catalog import Scale

    # the large preset's order rate (~1,600 a day across channels) with fewer SKUs and
    # customers, so the store generates in minutes (bench.connectors does the same)
    return Scale("bench", n_skus=400, n_customers=60_000, days=days, orders_per_day=orders_per_day)


def serve(args: argparse.Namespace) -> None:
    """Child process: generate the store, serve it at the realistic preset on a virtual clock
    the parent advances, print the endpoint, run until stdin closes."""
    from sandbox import generate_store
    from sandbox.emulators.amazon import AmazonEmulator, VirtualClock
    from sandbox.emulators.base import Reply, Request

    store = generate_store(seed=args.seed, scale=_scale(args.orders_per_day, args.days),
                           end_date=END)  # fmt: skip
    clock = VirtualClock()

    class BenchAmazon(AmazonEmulator):
        def handle(self, req: Request) -> Reply:
            if req.path == "/_bench/advance":
                clock.sleep(float(req.arg("seconds", "0")))
                return Reply(200, {"now": clock.monotonic()})
            return super().handle(req)

    emu = BenchAmazon(store, rates="realistic", clock=clock.monotonic,
                      report_seconds=(args.report_seconds / 3, args.report_seconds * 2 / 3))  # fmt: skip
    emu.start()
    n = sum(1 for o in emu.book.orders)
    print(json.dumps({"base_url": emu.base_url, "orders": n, "refresh_token": emu.refresh_token,
                      "client_id": emu.client_id, "client_secret": emu.client_secret,
                      "marketplaces": list(emu.marketplace_ids), "end_ts": store.end_ts}),
          flush=True)  # fmt: skip
    sys.stdin.read()
    emu.stop()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class SharedClock:
    """The connector's clock: advancing it advances the emulator's too."""

    def __init__(self, base_url: str) -> None:
        self.now = 0.0
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.now += seconds
            self.http.post("/_bench/advance", params={"seconds": repr(seconds)})


def _backfill(info: dict, since: datetime, reports: bool) -> dict:
    from connectors.amazon.client import AmazonConnector
    from connectors.http import RetryPolicy

    clock = SharedClock(info["base_url"])
    for key, env in (("refresh_token", "B_AMZ_REFRESH"), ("client_id", "B_AMZ_ID"),
                     ("client_secret", "B_AMZ_SECRET")):  # fmt: skip
        os.environ[env] = info[key]
    con = AmazonConnector(
        info["base_url"], refresh_token_env="B_AMZ_REFRESH", client_id_env="B_AMZ_ID",
        client_secret_env="B_AMZ_SECRET", marketplace_ids=info["marketplaces"],
        auth_url=info["base_url"] + "/auth/o2/token", policy=RetryPolicy(),
        sleep=clock.sleep, clock=clock.monotonic, rate_limit_wait_seconds=86_400,
        report_backfill_days=7 if reports else None,
    )  # fmt: skip
    t0 = time.perf_counter()
    orders = items = lines = 0
    for page in con.pages("orders", since):
        orders += len(page.batches["orders"].records)
        items += len(page.batches["order_items"].records)
        lines += sum(
            len(r.payload.get("OrderItems") or []) for r in page.batches["order_items"].records
        )
    real = time.perf_counter() - t0
    stats = con.client.stats
    con.close()
    return {"orders": orders, "order_item_records": items, "lines": lines,
            "emulated_seconds": round(clock.now, 1), "real_seconds": round(real, 1),
            "requests": stats.requests, "throttled_429": stats.by_reason.get("429", 0),
            "reports": con.reports_requested}  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.amazon", "--serve", "--days", str(args.days),
         "--orders-per-day", str(args.orders_per_day), "--seed", str(args.seed),
         "--report-seconds", str(args.report_seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        end = datetime.fromtimestamp(info["end_ts"], UTC)
        history = timedelta(days=args.days - 1)
        sample = _backfill(info, end - timedelta(days=args.sample_days), reports=False)
        full = _backfill(info, end - history, reports=True)
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=60)
    # the Orders API's emulated time is linear in the orders: scale the sample to two years
    per_order = sample["emulated_seconds"] / max(sample["orders"], 1)
    orders_api_2y = per_order * full["orders"]
    result = {
        "store": {"days": args.days, "orders_per_day_all_channels": args.orders_per_day,
                  "amazon_orders_in_store": info["orders"]},
        "orders_api_sample": {"days": args.sample_days, **sample},
        "orders_api_two_years_extrapolated": {
            "orders": full["orders"], "emulated_seconds": round(orders_api_2y),
            "emulated_hours": round(orders_api_2y / 3600, 1),
            "requests": round(sample["requests"] / max(sample["orders"], 1) * full["orders"]),
        },
        "reports_two_years": {**full, "emulated_hours": round(full["emulated_seconds"] / 3600, 2),
                              "assumed_report_processing_seconds": args.report_seconds},
        "ratio_reports_to_orders_api_emulated_time": round(full["emulated_seconds"] / orders_api_2y, 4),
        "peak_rss_mb": round(_rss_mb()),
        "peak_rss_under_1gb": _rss_mb() < 1024,
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--orders-per-day", type=float, default=1600.0)
    p.add_argument("--sample-days", type=int, default=14)
    p.add_argument("--report-seconds", type=float, default=180.0,
                   help="assumed time a report spends queued and processed (not documented)")  # fmt: skip
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    if args.serve:
        serve(args)
        return
    result = run(args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "amazon.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
