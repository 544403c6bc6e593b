"""`python -m bench.connectors`: Shopify order backfills from the emulated GraphQL Admin API
through the real connector and landing (gate, hash, dedup, quarantine, cursor per batch): paginated
and through Bulk Operations, beside DuckDB's own `read_json` loading the bulk result file itself
and the landed payloads (the floors).

Three processes, so each memory figure is honest: the emulator (it holds the whole generated
store: its RSS is reported apart and not counted), the paginated phase and the bulk phase (each
`resource.getrusage(RUSAGE_SELF).ru_maxrss` of its own process: the pipeline's peak alone).

The emulator runs at the `fast` preset (its bucket never makes the run wait) and counts the actual
points each query costs; what Shopify's plans would make a store of N orders take is computed
from those points (the plan's bucket size spent at once, then its restore rate) and our own
measured time per 1,000 orders, the longer of the two, labelled `estimated_*`.

Scale: the store holds ~200,000 Shopify orders (200,958 at seed 3; the whole run ~10.5 min here) (`--orders-per-day`, 1,050 over a year; the
generator spreads them over every channel). The bulk backfill reads all of them: its join queries
send the ids as variables, so the emulator parses and validates their few texts once. The
paginated backfill reads only the orders updated in the last `--paginated-days` (35: ~26,000),
since at ~3 orders per query, executed in Python, all 200,000 would take ~15 minutes twice (gate
off and on); its figures for 200,000 are extrapolated per 1,000 orders and say so.

Figures are ratios to the in-run floors because these machines are shared and noisy. The speed
target (issue 12: the bulk JSONL landing at least a third as fast as `read_json` of the same
file) is judged on the same-file ratio; the ratio to `read_json` of the landed payloads (another
file, of the paginated phase's orders) is reported beside it. Writes
`bench/results/connectors.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from bench import Stopwatch, timing
from sandbox.emulators.shopify_cost import PLANS  # the published plan presets

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent


def _scale(orders_per_day: float, days: int):
    from sandbox.catalog import Scale

    return Scale("bench", n_skus=400, n_customers=60_000, days=days, orders_per_day=orders_per_day)


def serve(args: argparse.Namespace) -> None:
    """Child process: generate the store, serve it, print the endpoint, run until stdin closes."""
    from sandbox import generate_store
    from sandbox.emulators.shopify import ShopifyEmulator

    store = generate_store(seed=args.seed, scale=_scale(args.orders_per_day, args.days),
                           end_date=date(2026, 6, 30))  # fmt: skip
    # The `fast` preset: the cost bucket never makes the benchmark wait; the points each query
    # costs are counted, and the time Shopify's plans would take is computed from them.
    emu = ShopifyEmulator(store, plan="fast")
    n = len(emu.book.index(emu.now))
    emu.start()
    print(json.dumps({"base_url": emu.base_url, "token": emu.token, "orders": n,
                      "now": emu.now}), flush=True)  # fmt: skip
    for _ in sys.stdin:  # each line asks for the bill so far (points per phase)
        print(json.dumps({"points": emu.points_spent, "queries": emu.queries,
                          "rss_mb": round(_rss_mb(), 1)}), flush=True)  # fmt: skip
    emu.stop()
    print(json.dumps({"points": emu.points_spent, "queries": emu.queries}), flush=True)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _config_data(args: argparse.Namespace, tmp: Path, warehouse: str, bulk: bool) -> dict:
    """The demo's config with the shop channel pointed at the emulator (`bulk`: backfill it
    through Bulk Operations)."""
    from flows.demo import demo_config_dict

    os.environ["OMS_SHOP_ACCESS_TOKEN"] = args.token
    data = demo_config_dict(warehouse=str(tmp / warehouse), drop_dir=str(tmp / "drop"),
                            output_dir=str(tmp / "out"))  # fmt: skip
    shop = data["channels"][0]
    shop.pop("path")
    api: dict = {"base_url": args.base_url, "api_version": "2025-01",
                 "credentials": {"access_token": "OMS_SHOP_ACCESS_TOKEN"},
                 "page_size": args.page_size, "landing_batch": args.landing_batch}  # fmt: skip
    if bulk:
        # The emulator runs a window's bulk query inside `bulkOperationRunQuery` (~20 s for a
        # 30-day window of ~17,000 orders, in Python): on a loaded machine that passed the 30 s
        # default timeout and the run gave up. A longer timeout changes no measured step.
        api.update({"bulk_backfill_days": 1, "bulk_window_days": 30, "timeout_seconds": 180})
    shop.update({"source": "api", "api": api})
    return data


@contextmanager
def timing_iter(owner: object, name: str, watch: Stopwatch) -> Iterator[Stopwatch]:
    """Like `bench.timing`, for a generator method: the time spent inside each `next()`
    (the generator's own body and what it calls synchronously), not the consumer's."""
    real = getattr(owner, name)

    def timed(*args, **kwargs):
        gen = real(*args, **kwargs)
        while True:
            start = time.perf_counter()
            try:
                item = next(gen)
            except StopIteration:
                return
            finally:
                watch.seconds += time.perf_counter() - start
            watch.calls += 1
            yield item

    setattr(owner, name, timed)
    try:
        yield watch
    finally:
        setattr(owner, name, real)


def phase_paginated(args: argparse.Namespace) -> dict:
    """Child process (so its peak memory is this phase's alone): the paginated backfill, without
    the landing gate first (the baseline of its overhead), then with it."""
    import flows  # noqa: F401  (environment defaults)
    import flows.api_sync as api_sync
    import flows.landing as landing_path
    from flows.config import parse_config
    from flows.quality import _validator

    tmp = Path(args.tmp)
    t = time.perf_counter()
    _validator()  # GX's import (~5 s), once per process: paid before either timed run
    gx_import_s = time.perf_counter() - t
    rss_before = _rss_mb()
    pages = {"n": 0}
    # a measured subset: the orders updated in the last `paginated_days` of the shop's clock
    since = datetime.fromtimestamp(args.now - args.paginated_days * 86400, UTC)

    def one_sync(warehouse: str, gate_on: bool):
        cfg = parse_config(_config_data(args, tmp, warehouse, bulk=False), source="bench config",
                           base_dir=tmp)  # fmt: skip
        landing, gate = Stopwatch(), Stopwatch()
        pages["n"] = 0
        t = time.perf_counter()
        with timing(api_sync, "land_page", landing), timing(landing_path, "gate_groups", gate):
            report = api_sync.sync_api(cfg, only_channel="shop", streams=["orders"],
                                       on_page=lambda p: pages.__setitem__("n", pages["n"] + 1),
                                       gate_on=gate_on, since=since)  # fmt: skip
        return time.perf_counter() - t, landing, gate, report

    nogate_s, _, _, nogate_report = one_sync("nogate.duckdb", gate_on=False)
    sync_s, landing, gate, report = one_sync("oms.duckdb", gate_on=True)
    return {
        "orders_landed": report.by_table.get("shop__orders", 0),
        "orders_landed_without_gate": nogate_report.by_table.get("shop__orders", 0),
        "sync_seconds": sync_s, "sync_without_gate_seconds": nogate_s, "api_pages": pages["n"],
        "landing_batches": landing.calls, "landing_seconds": landing.seconds,
        "gate_seconds": gate.seconds, "quarantined": report.rows_quarantined,
        "gx_import_seconds": gx_import_s, "rss_before_sync_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
    }  # fmt: skip


def phase_bulk(args: argparse.Namespace) -> dict:
    """Child process: the bulk backfill into a fresh warehouse, every downloaded result file
    kept (concatenated) for the floor, and the time of each step of its landing path."""
    import flows  # noqa: F401  (environment defaults)
    import flows.api_sync as api_sync
    from connectors.shopify import bulk as bulk_mod
    from flows.config import parse_config
    from flows.quality import _validator

    tmp = Path(args.tmp)
    _validator()
    rss_before = _rss_mb()
    cfg = parse_config(_config_data(args, tmp, "bulk.duckdb", bulk=True), source="bench config",
                       base_dir=tmp)  # fmt: skip
    kept = tmp / "bulk.jsonl"
    real_download = bulk_mod.BulkReader.download
    dl_watch = Stopwatch()

    def download(self, url, size):  # the real download, timed, then its file copied (untimed)
        t = time.perf_counter()
        dl = real_download(self, url, size)
        dl_watch.seconds += time.perf_counter() - t
        dl_watch.calls += 1
        with open(dl.path, "rb") as src, open(kept, "ab") as dst:
            shutil.copyfileobj(src, dst)
        return dl

    waiting, joining, rebuild = Stopwatch(), Stopwatch(), Stopwatch()
    staging, landing = Stopwatch(), Stopwatch()
    bulk_mod.BulkReader.download = download  # type: ignore[method-assign]
    # Pages are read one after another here (no prefetch thread), so the time of each step of
    # the landing path is its own and not another thread's holding the GIL: the landing rate
    # below is a conservative one (the real sync overlaps reading with landing).
    real_prefetch = api_sync.prefetch
    api_sync.prefetch = lambda pages, depth=2: iter(pages)  # type: ignore[assignment]
    t = time.perf_counter()
    try:
        with (
            timing(bulk_mod.BulkReader, "operation", waiting),
            timing(bulk_mod.BulkReader, "join", joining),
            timing_iter(bulk_mod.BulkReader, "file_pages", rebuild),
            timing(api_sync, "stage_page", staging),
            timing(api_sync, "land_page", landing),
        ):
            report = api_sync.sync_api(cfg, only_channel="shop", streams=["orders"])
    finally:
        bulk_mod.BulkReader.download = real_download  # type: ignore[method-assign]
        api_sync.prefetch = real_prefetch  # type: ignore[assignment]
    wall = time.perf_counter() - t
    lines = roots = 0
    with open(kept, "rb") as fh:
        for line in fh:
            lines += 1
            roots += b'"__parentId"' not in line
    return {
        "orders_landed": report.by_table.get("shop__orders", 0),
        "quarantined": report.rows_quarantined,
        "sync_seconds": wall, "waiting_seconds": waiting.seconds,
        "join_seconds": joining.seconds, "download_seconds": dl_watch.seconds,
        # file_pages' own time: reading, parsing and rebuilding the JSONL and mapping the
        # orders; the join queries it makes for each page are taken out
        "rebuild_and_map_seconds": rebuild.seconds - joining.seconds,
        "stage_seconds": staging.seconds, "gate_and_land_seconds": landing.seconds,
        "landing_batches": landing.calls, "jsonl_lines": lines, "jsonl_orders": roots,
        "jsonl_bytes": kept.stat().st_size, "rss_before_sync_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
    }  # fmt: skip


def _phase(name: str, args: argparse.Namespace, info: dict, tmp: Path, child) -> dict:
    """Run one phase in its own process; the emulator's bill for it taken around it."""
    before = _bill(child)
    cmd = [sys.executable, "-m", "bench.connectors", "--phase", name, "--base-url",
           info["base_url"], "--token", info["token"], "--tmp", str(tmp), "--page-size",
           str(args.page_size), "--landing-batch", str(args.landing_batch), "--now",
           str(info["now"]), "--paginated-days", str(args.paginated_days)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT))
    if out.returncode != 0:
        raise RuntimeError(f"phase {name} failed:\n{out.stderr[-4000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    after = _bill(child)
    res["points"] = after["points"] - before["points"]
    res["queries"] = after["queries"] - before["queries"]
    return res


def _floor(jsonl: Path, tmp: Path, name: str, orders: int) -> dict:
    """DuckDB's own `read_json` of a local JSON Lines file into a table: the floor (its best of
    three, so a load spike makes the target stricter, never easier)."""
    import duckdb

    con = duckdb.connect(str(tmp / f"floor-{name}.duckdb"))
    # the columns, inferred from the whole file beforehand (untimed): at 200,000 orders the
    # default sample (20,480 lines) misses keys that later lines hold, and read_json refuses
    described = con.execute(
        f"describe select * from read_json('{jsonl}', format='newline_delimited', sample_size=-1)"
    ).fetchall()
    columns = ", ".join(
        "'{}': '{}'".format(c[0].replace("'", "''"), str(c[1]).replace("'", "''"))
        for c in described
    )
    times = []
    for _ in range(3):  # the best of three: a short run is at the mercy of the machine's load
        con.execute("drop table if exists t")
        t = time.perf_counter()
        con.execute(
            f"create table t as select * from read_json('{jsonl}', format='newline_delimited', "
            f"columns={{{columns}}})"
        )
        times.append(time.perf_counter() - t)
    seconds = min(times)
    rows = con.execute("select count(*) from t").fetchall()[0][0]
    con.close()
    return {"seconds": seconds, "rows": rows, "orders_per_second": orders / seconds}


def _payload_file(tmp: Path, warehouse: str, out: Path, landed: int) -> None:
    """The landed REST payloads of a warehouse as one JSON Lines file."""
    import duckdb

    con = duckdb.connect(str(tmp / warehouse), read_only=True)
    with open(out, "w") as fh:
        step = 20_000
        for off in range(0, landed, step):
            rows = con.execute(
                f"select _payload::varchar from raw.shop__orders order by _source_id "
                f"limit {step} offset {off}"
            ).fetchall()
            fh.writelines(r[0] + "\n" for r in rows)
    con.close()


def _plan_seconds(points: float, plan: str) -> float:
    """Seconds Shopify's cost bucket makes `points` take on `plan`: the bucket starts full (its
    size is spent at once), then refills at the restore rate."""
    size, rate = PLANS[plan]
    return max(points - size, 0.0) / rate


def run(args: argparse.Namespace) -> dict:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.connectors", "--serve", "--orders-per-day",
         str(args.orders_per_day), "--days", str(args.days), "--seed", str(args.seed)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    try:
        t0 = time.perf_counter()
        info = json.loads(child.stdout.readline())
        gen_s = time.perf_counter() - t0
        tmp = Path(tempfile.mkdtemp(prefix="bench-connectors-"))
        paged = _phase("paginated", args, info, tmp, child)
        bulk = _phase("bulk", args, info, tmp, child)
        emulator_rss = _bill(child).get("rss_mb")
        # the phases' figures, kept should a floor below fail
        (Path(tempfile.gettempdir()) / "bench-connectors-phases.json").write_text(
            json.dumps([info, gen_s, paged, bulk, emulator_rss]) + "\n"
        )
    finally:
        if child.stdin:
            child.stdin.close()
        if child.stdout:
            child.stdout.read()
        child.wait(timeout=60)
    try:
        payloads = tmp / "orders.jsonl"
        _payload_file(tmp, "oms.duckdb", payloads, paged["orders_landed"])
        floor_bulk = _floor(tmp / "bulk.jsonl", tmp, "bulk", bulk["jsonl_orders"])
        floor_rest = _floor(payloads, tmp, "rest", paged["orders_landed"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(args, info, gen_s, paged, bulk, floor_bulk, floor_rest, emulator_rss)


def _bill(child) -> dict:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("\n")
    child.stdin.flush()
    return json.loads(child.stdout.readline())


def report(args, info, gen_s, paged, bulk, floor_bulk, floor_rest, emulator_rss) -> dict:
    """The JSON of bench/results/connectors.json: measured figures, ratios to the in-run floors,
    and (labelled `estimated_*`) what they mean for a 200,000-order store on Shopify's plans."""
    n_paged, n_bulk = paged["orders_landed"], bulk["orders_landed"]
    # Shopify's bill for the two paginated syncs (gate off and on read the same pages): half
    paged_points = paged["points"] / 2
    paged_per_1000 = paged_points / max(n_paged, 1) * 1000
    bulk_per_1000 = bulk["points"] / max(n_bulk, 1) * 1000
    jsonl_s = (bulk["download_seconds"] + bulk["rebuild_and_map_seconds"]
               + bulk["stage_seconds"] + bulk["gate_and_land_seconds"])  # fmt: skip
    jsonl_rate = n_bulk / max(jsonl_s, 1e-9)
    ratio_bulk_file = jsonl_rate / floor_bulk["orders_per_second"]
    ratio_rest_file = jsonl_rate / floor_rest["orders_per_second"]
    paged_rate = n_paged / paged["sync_seconds"]
    # our own time per 1,000 orders (at the `fast` preset nothing waits for points), the part
    # of a backfill that does not depend on the plan
    paged_local_per_1000 = paged["sync_seconds"] / max(n_paged, 1) * 1000
    bulk_local_per_1000 = (bulk["sync_seconds"] - bulk["waiting_seconds"]) / max(n_bulk, 1) * 1000
    big = args.estimate_orders

    def est(points_per_1000: float, local_per_1000: float, plan: str) -> float:
        # the connector pages while landing (a prefetch thread), so a store of `big` orders
        # takes the longer of the bucket's time and ours
        points_time = _plan_seconds(points_per_1000 * big / 1000, plan)
        return max(points_time, local_per_1000 * big / 1000)

    hourly_points = 1600 * paged_per_1000 / 1000
    hourly_local = 1.6 * paged_local_per_1000
    peak = max(paged["peak_rss_mb"], bulk["peak_rss_mb"])
    old_verdict = min(ratio_bulk_file, ratio_rest_file) >= 1 / 3  # the rule before (the note)
    return {
        "orders_served": info["orders"],
        "store_generation_seconds": round(gen_s, 1),
        "measured_scale_note": (
            f"bulk measured on all {n_bulk:,} orders of the store; paginated measured on the "
            f"{n_paged:,} orders updated in its last {args.paginated_days:g} days (at ~3 orders "
            "per query, executed in Python, the whole store would take ~15 minutes twice), its "
            f"{big:,}-order figures extrapolated per 1,000 orders; every estimated_* figure "
            "applies Shopify's plans to the measured points and times per 1,000 orders"
        ),
        "paginated": {
            "orders_landed": n_paged,
            "sync_seconds": round(paged["sync_seconds"], 2),
            "orders_per_second": round(paged_rate),
            "api_pages": paged["api_pages"],
            "landing_batches": paged["landing_batches"],
            "landing_seconds": round(paged["landing_seconds"], 2),
            "fetch_and_map_seconds": round(paged["sync_seconds"] - paged["landing_seconds"], 2),
            "api_points_per_1000_orders": round(paged_per_1000),
            "api_queries_per_1000_orders": round(paged["queries"] / 2 / max(n_paged, 1) * 1000, 1),
            "peak_rss_mb": round(paged["peak_rss_mb"], 1),
            "rss_before_sync_mb": round(paged["rss_before_sync_mb"], 1),
            "quarantined": paged["quarantined"],
            "sync_without_gate_seconds": round(paged["sync_without_gate_seconds"], 2),
            "orders_landed_without_gate": paged["orders_landed_without_gate"],
            "gx_import_seconds_once_per_process": round(paged["gx_import_seconds"], 2),
            # the gate's cost two ways: end to end (noisy on a shared machine) and inside it
            "gate_overhead_share": round(
                paged["sync_seconds"] / paged["sync_without_gate_seconds"] - 1, 3
            ),
            "gate_seconds_inside_sync": round(paged["gate_seconds"], 2),
            "gate_time_share_of_landing_without_gate": round(
                paged["gate_seconds"] / paged["sync_without_gate_seconds"], 3
            ),
            "ratio_to_read_json_of_payloads": round(
                paged_rate / floor_rest["orders_per_second"], 3
            ),
        },
        "bulk": {
            "orders_landed": n_bulk,
            "same_count_as_served": n_bulk == info["orders"],
            "wall_seconds_measured": round(bulk["sync_seconds"], 2),
            "quarantined": bulk["quarantined"],
            "sync_seconds": round(bulk["sync_seconds"], 2),
            "waiting_for_operations_seconds": round(bulk["waiting_seconds"], 2),
            "join_queries_seconds": round(bulk["join_seconds"], 2),
            "api_points_per_1000_orders": round(bulk_per_1000),
            "api_queries_per_1000_orders": round(bulk["queries"] / max(n_bulk, 1) * 1000, 1),
            "peak_rss_mb": round(bulk["peak_rss_mb"], 1),
            "rss_before_sync_mb": round(bulk["rss_before_sync_mb"], 1),
            "jsonl_file_mb": round(bulk["jsonl_bytes"] / 2**20, 1),
            "jsonl_lines": bulk["jsonl_lines"],
            "jsonl_orders": bulk["jsonl_orders"],
            # the landing path from the result file to raw rows: download, parse, rebuild from
            # __parentId, map, stage (canonical text), gate, hash-dedup and land
            "jsonl_landing": {
                "download_seconds": round(bulk["download_seconds"], 2),
                "rebuild_and_map_seconds": round(bulk["rebuild_and_map_seconds"], 2),
                "stage_seconds": round(bulk["stage_seconds"], 2),
                "gate_and_land_seconds": round(bulk["gate_and_land_seconds"], 2),
                "seconds": round(jsonl_s, 2),
                "orders_per_second": round(jsonl_rate),
            },
        },
        "floor_read_json_of_bulk_file": {
            "seconds": round(floor_bulk["seconds"], 2),
            "rows": floor_bulk["rows"],
            "orders_per_second": round(floor_bulk["orders_per_second"]),
        },
        "floor_read_json_of_landed_payloads": {
            "seconds": round(floor_rest["seconds"], 2),
            "rows": floor_rest["rows"],
            "orders_per_second": round(floor_rest["orders_per_second"]),
        },
        "ratio_bulk_jsonl_landing_to_read_json_same_file": round(ratio_bulk_file, 3),
        "ratio_bulk_jsonl_landing_to_read_json_of_payloads": round(ratio_rest_file, 3),
        "target_ratio": round(1 / 3, 3),
        # the target (issue 12) is against read_json of the same file; see `speed_target_note`
        "meets_speed_target": ratio_bulk_file >= 1 / 3,
        "speed_target_note": (
            "meets_speed_target is judged on ratio_bulk_jsonl_landing_to_read_json_same_file "
            "alone (the target: at least a third as fast as DuckDB's read_json loading the same "
            "bulk result file into a table). Before, it was the minimum of that and "
            "ratio_bulk_jsonl_landing_to_read_json_of_payloads, which is kept for information "
            "but is not a floor of the same work: it reads another file (the REST payloads the "
            f"paginated phase landed: {floor_rest['rows']:,} orders, not the "
            f"{n_bulk:,} of the bulk file, one line per order instead of the bulk file's "
            "order and child lines), so it divides our rate on one input by DuckDB's on "
            f"another, at another size. In this run: same file {ratio_bulk_file:.3f}, payloads "
            f"{ratio_rest_file:.3f}; the old rule (the minimum) gives "
            f"{'the same' if old_verdict == (ratio_bulk_file >= 1 / 3) else 'another'} verdict."
        ),
        "peak_rss_mb": round(peak, 1),
        "emulator_rss_mb_own_process_not_counted": emulator_rss,
        "meets_memory_target": peak < 1024,
        "page_size": args.page_size,
        "landing_batch": args.landing_batch,
        f"estimated_{big}_orders": {
            "how": "max(points over the plan's bucket, our own time per 1,000 orders x N/1,000); "
            "bulk adds Shopify's operation time, which no emulator knows (not included)",
            **{
                f"{kind}_hours_{plan}": round(est(p, loc, plan) / 3600, 2)
                for kind, p, loc in (
                    ("paginated", paged_per_1000, paged_local_per_1000),
                    ("bulk", bulk_per_1000, bulk_local_per_1000),
                )
                for plan in ("standard", "advanced", "plus", "enterprise")
            },
            "peak_rss_mb_note": "the bulk path holds one page of orders, the paginated one a "
            "landing batch; DuckDB's buffer pool is capped: memory does not grow with N",
        },
        "hourly_1600_changed_orders_standard": {
            "how": "paginated points per order x 1,600; the hour's idle refills the 2,000-point "
            "bucket, the rest comes at 100 points/s; our own time overlaps the waits",
            "points": round(hourly_points),
            "estimated_seconds": round(max(_plan_seconds(hourly_points, "standard"), hourly_local)),
            "our_own_seconds": round(hourly_local, 1),
            # the same 1,600 read through Bulk Operations (`api.bulk_threshold` below 1,600):
            # its points (the join queries) per order; Shopify's operation time not included
            "through_bulk_points": round(1600 * bulk_per_1000 / 1000),
            "through_bulk_estimated_seconds": round(
                max(
                    _plan_seconds(1600 * bulk_per_1000 / 1000, "standard"),
                    1.6 * bulk_local_per_1000,
                )  # fmt: skip
            ),
        },
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--phase", choices=("paginated", "bulk"), help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--tmp", help=argparse.SUPPRESS)
    # ~200,000 Shopify orders (the store's orders are spread over its channels)
    p.add_argument("--orders-per-day", type=float, default=1050)
    # the paginated path asks ~3 orders per query (Shopify's cost limit on our order query) and
    # the emulator executes each in Python: it reads the last 35 days' changes (~26,000 orders)
    p.add_argument("--paginated-days", type=float, default=35)
    p.add_argument("--now", type=int, help=argparse.SUPPRESS)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--page-size", type=int, default=250)
    p.add_argument("--landing-batch", type=int, default=10_000)
    p.add_argument("--estimate-orders", type=int, default=200_000)
    p.add_argument("--out", type=Path, default=RESULTS / "connectors.json")
    args = p.parse_args(argv)
    if args.serve:
        serve(args)
        return
    if args.phase:
        res = phase_paginated(args) if args.phase == "paginated" else phase_bulk(args)
        print(json.dumps(res), flush=True)
        return
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
