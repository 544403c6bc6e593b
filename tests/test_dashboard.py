"""The operations dashboard (`oms dashboard`): the pure page on hand-made frames, then the real
page on the tiny sandbox, opened in a real headless Chromium.

The module builds one tiny sandbox warehouse (seed 11, ending 2026-06-30: files landed with
`flows.sync.sync_files`, `dbt build`, the replenishment plan of 2026-07-01, the run recorded in
`ops.runs`) and writes the dashboard from it. The browser test drives Chromium over the DevTools
protocol (the `websockets` client Prefect already depends on): no JavaScript error or console
error on load, no request leaves `file://` (the page works offline), every chart drew its points,
the 7/30/90-day switch works, and a screenshot is saved (to `docs/img/dashboard.png` when
OMS_UPDATE_SCREENSHOTS=1 is set, the README's picture; else beside the test warehouse). Without a
Chromium binary the browser test is skipped, saying what is missing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from flows.dashboard_html import DashboardData, render_dashboard

SEED, SCALE, END = 11, "tiny", date(2026, 6, 30)
RUN_DATE = date(2026, 7, 1)
CHARTS = {
    "sales-by-channel",
    "sales-by-region",
    "stock-value-by-location",
    "customers-by-segment",
    "po-value-by-supplier",
}
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "img" / "dashboard.png"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


# ------------------------------------------------------------------------ the pure page


def _hand_made(**overrides) -> DashboardData:
    as_of = date(2026, 6, 30)
    kpis = pl.DataFrame(
        [
            {"window_days": w, "period": p, "channel": ch, "net_sales": ns, "gross_margin": ns * 0.4,
             "margin_sales": ns, "units": 100, "units_returned": 5 if p == "current" else 4,
             "orders": 50, "order_value": ns * 1.05}
            for w in (7, 30, 90)
            for p, ns in (("current", 1200.0 * w), ("previous", 1000.0 * w))
            for ch in ("shop", "all")
        ]
    )  # fmt: skip
    weeks = [date(2026, 6, 30 - 7 * k) for k in range(4)]
    data = DashboardData(
        as_of=as_of,
        generated_at=datetime(2026, 7, 1, 6, 0, tzinfo=UTC),
        currency="EUR",
        kpis=kpis,
        sales_weekly=pl.DataFrame(
            {
                "week_end": weeks * 2,
                "channel": ["shop"] * 4 + ["woo"] * 4,
                "region": ["EU"] * 4 + ["UK"] * 4,
                "net_sales": [10.0, 20.0, 30.0, 40.0, 5.0, 6.0, 7.0, 8.0],
            }
        ),
        bestsellers=pl.DataFrame(
            {
                "channel": ["shop"],
                "region": ["EU"],
                "rank": [1],
                "sku": ["SKU-1"],
                "title": ["<script>alert(1)</script> mug"],
                "units_kept": [12],
                "net_sales": [99.5],
            }
        ),  # fmt: skip
        stock_by_location=pl.DataFrame(
            {
                "location_id": ["WH-A"],
                "pairs": [3],
                "stock_value": [1000.0],
                "excess_value": [200.0],
                "excess_pairs": [1],
                "dead_value": [50.0],
                "dead_pairs": [1],
                "stockouts": [1],
            }
        ),  # fmt: skip
        stockouts=pl.DataFrame(
            {
                "sku": ["SKU-2"],
                "location_id": ["WH-A"],
                "title": ["Plate"],
                "abc_class": ["A"],
                "units_90d": [30],
                "on_order": [0],
            }
        ),  # fmt: skip
        at_risk=pl.DataFrame(
            {
                "sku": ["SKU-3"],
                "location_id": ["WH-A"],
                "supplier_id": ["SUP-1"],
                "abc_class": ["B"],
                "on_hand": [2],
                "on_order": [0],
                "projected_stockout_date": [date(2026, 7, 4)],
                "expected_receipt_date": [date(2026, 7, 15)],
                "suggested_qty": [24],
            }
        ),  # fmt: skip
        segments=pl.DataFrame(
            {
                "segment": ["champion", "one_time", "one_time"],
                "region": ["EU", "UK", None],
                "customers": [10, 4, 1],
                "orders": [100, 4, 1],
                "lifetime_net": [5000.0, 120.0, 30.0],
                "one_time": [0, 4, 1],
                "high_aov": [2, 0, 0],
                "repeat": [10, 0, 0],
            }
        ),  # fmt: skip
        suppliers=pl.DataFrame(
            {
                "supplier_id": ["SUP-1"],
                "supplier_name": ["Supplier A"],
                "currency": ["USD"],
                "lines": [3],
                "units": [72],
                "value": [500.0],
                "value_base": [450.5],
            }
        ),  # fmt: skip
        freshness=pl.DataFrame(
            {
                "channel": ["shop", "tpl"],
                "source": ["raw.shop__orders", "raw.tpl__stock"],
                "last_loaded_at": [
                    datetime(2026, 6, 28, 6, tzinfo=UTC),
                    datetime(2026, 7, 1, 5, tzinfo=UTC),
                ],
                "newest_record_at": [datetime(2026, 6, 28, 5, tzinfo=UTC), None],
                "records": [10, 5],
                "allowed_hours": [48.0, 48.0],
                "judged": [True, False],
            }
        ),  # fmt: skip
        quarantine=pl.DataFrame(
            {
                "channel": ["woo"],
                "stream": ["orders"],
                "reason": ["total is not a number"],
                "records": [2],
                "newest": [datetime(2026, 6, 30, 12, tzinfo=UTC)],
            }
        ),  # fmt: skip
        runs=pl.DataFrame(
            {
                "run_id": ["r1"],
                "flow": ["daily-replenishment"],
                "status": ["failed"],
                "started_at": [datetime(2026, 7, 1, 5, tzinfo=UTC)],
                "finished_at": [datetime(2026, 7, 1, 5, 3, tzinfo=UTC)],
                "rows_landed": [0],
                "rows_quarantined": [0],
                "message": ["DbtFailed: 1 test failed"],
            }
        ),  # fmt: skip
        plan_date=date(2026, 7, 1),
        report_href="../reorder/2026-07-01/report.html",
        needs_attention=2,
    )
    for k, v in overrides.items():
        setattr(data, k, v)
    return data


def _charts(page: str) -> dict[str, int]:
    import re

    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r'data-chart="([^"]+)" data-points="(\d+)"', page)
    }


@pytest.mark.fast
def test_the_page_from_hand_made_frames():
    page = render_dashboard(_hand_made())
    charts = _charts(page)
    assert set(charts) == CHARTS and all(n > 0 for n in charts.values()), charts
    # a line chart marks every point: 2 channels x 4 weeks
    assert charts["sales-by-channel"] == 8 and charts["stock-value-by-location"] == 3
    assert page.count('class="mk"') == sum(charts.values())
    # periods relative to the last day with data, with their comparison
    assert "01 Jun 2026 – 30 Jun 2026" in page and "02 May 2026 – 31 May 2026" in page
    assert "EUR 36,000" in page and "▲ +20.0%" in page  # 30 days: 1200*30 vs 1000*30
    assert "+1.0 pp" in page  # return rate 5% vs 4%
    # money in the base currency, PO values in the supplier's and the base currency
    assert "money in <b>EUR</b>" in page and "USD" in page and "450.50" in page
    assert 'href="../reorder/2026-07-01/report.html"' in page
    # data health: stale channel, quarantined records, a failed run
    assert "stale (&gt; 48 h)" in page and "not judged" in page
    assert 'Quarantined records: <span class="bad">2</span>' in page
    assert '<span class="bad">failed</span>' in page
    assert (
        "stale: shop</span> · 2 records quarantined · last run daily-replenishment: failed" in page
    )
    # offline and safe: nothing fetched, no script, titles escaped
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.fast
def test_an_empty_warehouse_still_gives_a_page():
    empty = pl.DataFrame()
    page = render_dashboard(
        _hand_made(
            as_of=None, kpis=empty, sales_weekly=empty, bestsellers=empty,
            stock_by_location=empty, stockouts=pl.DataFrame(schema=_hand_made().stockouts.schema),
            at_risk=pl.DataFrame(schema=_hand_made().at_risk.schema), segments=empty,
            suppliers=empty, plan_date=None, report_href=None,
            quarantine=pl.DataFrame(schema=_hand_made().quarantine.schema),
            runs=pl.DataFrame(schema=_hand_made().runs.schema),
        )
    )  # fmt: skip
    assert "no orders yet" in page and "No replenishment plan yet" in page
    assert _charts(page) == {}


# --------------------------------------------------------------- the real page, the sandbox


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny sandbox landed, built and planned (one recorded run); the dashboard written."""
    from flows.dashboard import read_dashboard, write_dashboard
    from flows.dbt_runner import run_dbt
    from flows.demo import prepare_demo
    from flows.planning import run_planning
    from flows.sync import sync_files
    from flows.warehouse import finish_run, new_run_id, start_run

    project = tmp_path_factory.mktemp("dashboard")
    with pytest.MonkeyPatch.context() as mp:
        # dbt's target/ and logs/ stay in the temporary folder (other runs may use the project's)
        mp.setenv("DBT_TARGET_PATH", str(project / "dbt_target"))
        mp.setenv("DBT_LOG_PATH", str(project / "dbt_logs"))
        cfg, _, end = prepare_demo(project, seed=SEED, scale=SCALE, end_date=END)
        run_id = new_run_id()
        start_run(cfg.warehouse, run_id, "daily-replenishment", cfg)
        landed = sync_files(cfg)
        assert landed.files_rejected == 0, landed.rejected
        report = run_dbt(cfg)
        assert report.tests_failed == 0, report.failures
        plan = run_planning(cfg, RUN_DATE)
        finish_run(cfg.warehouse, run_id, "success", landed.rows_landed, landed.rows_quarantined)
    page = write_dashboard(cfg, RUN_DATE)
    return {
        "root": project,
        "cfg": cfg,
        "page": page,
        "data": read_dashboard(cfg, RUN_DATE),
        "plan": plan,
        "end": end,
    }


def test_the_page_is_written_atomically_under_the_output_dir(built):
    cfg, page = built["cfg"], built["page"]
    assert page == Path(cfg.replenishment.output_dir) / "dashboard" / "index.html"
    assert [p.name for p in page.parent.iterdir()] == ["index.html"]  # no temporary file left
    text = page.read_text(encoding="utf-8")
    assert f"Data to <b>{END.isoformat()}</b>" in text
    charts = _charts(text)
    assert set(charts) == CHARTS and all(n > 0 for n in charts.values()), charts
    # the link to the plan's buyer report resolves from the page's folder
    assert 'href="../reorder/2026-07-01/report.html"' in text
    assert (page.parent / "../reorder/2026-07-01/report.html").resolve().is_file()


def test_the_figures_are_the_marts(built):
    """The 30-day tiles equal the same sums written by hand against the marts."""
    from flows.warehouse import connection

    data = built["data"]
    assert data.as_of == END and data.plan_date == RUN_DATE and data.currency == "EUR"
    k = data.kpis.filter((pl.col("window_days") == 30) & (pl.col("channel") == "all")).sort(
        "period"
    )  # current, previous
    with connection(built["cfg"].warehouse, read_only=True) as con:
        (net_now, net_before) = con.execute(
            """select sum(net_sales) filter (where sales_date > date '2026-06-30' - 30)::double,
                      sum(net_sales) filter (where sales_date <= date '2026-06-30' - 30)::double
               from marts.sales_daily where sales_date > date '2026-06-30' - 60"""
        ).fetchall()[0]
        orders_now = con.execute(
            """select count(*) from marts.orders where order_date > date '2026-06-30' - 30
               and status <> 'cancelled' and units > 0"""
        ).fetchall()[0][0]
        lines = con.execute(
            "select count(*) from planning.po_suggestions where run_date = ?", [RUN_DATE]
        ).fetchall()[0][0]
    assert k["period"].to_list() == ["current", "previous"]
    assert k["net_sales"].to_list() == pytest.approx([net_now, net_before])
    assert k["orders"][0] == orders_now > 0
    assert int(data.suppliers["lines"].sum()) == lines == built["plan"].suggestions > 0
    assert data.runs["status"].to_list() == ["success"]
    assert set(data.freshness["channel"]) >= {"shop", "amazon", "woo", "tills"}


def test_it_reads_a_copy_of_the_warehouse(built, tmp_path):
    """`path` points the dashboard at another file (a published read-only copy)."""
    from flows.dashboard import read_dashboard

    copy = tmp_path / "published.duckdb"
    shutil.copyfile(built["cfg"].warehouse, copy)
    data = read_dashboard(built["cfg"], RUN_DATE, path=copy)
    assert data.warehouse == str(copy) and data.as_of == END
    assert data.kpis.equals(built["data"].kpis)


# ------------------------------------------------------------------------- in a browser


def _browser() -> str:
    for name in (os.environ.get("OMS_CHROMIUM"), *BROWSERS):
        if name and (found := shutil.which(name)):
            return found
    pytest.skip(
        f"no Chromium browser found (looked for {', '.join(BROWSERS)} on PATH and $OMS_CHROMIUM); "
        "install the Debian package `chromium` to run the browser test"
    )


class _DevTools:
    """A minimal DevTools-protocol client over one page's websocket."""

    def __init__(self, url: str):
        from websockets.sync.client import connect

        self.ws = connect(url, max_size=None, open_timeout=30)
        self.events: list[dict] = []
        self._id = 0

    def _receive(self, deadline: float) -> dict:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer from the browser")
        msg = json.loads(self.ws.recv(timeout=left))
        if "method" in msg:
            self.events.append(msg)
        return msg

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = self._receive(deadline)
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        for e in self.events:
            if e["method"] == method:
                return e
        while True:
            self._receive(deadline)
            for e in self.events[seen:]:
                if e["method"] == method:
                    return e
            seen = len(self.events)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def chromium_binary() -> str:
    """The browser, or a skip naming what is missing (module-scoped, so a test asking for it
    before `built` skips before the warehouse is built)."""
    return _browser()


@pytest.fixture
def chromium(chromium_binary, tmp_path):
    """A headless Chromium with the DevTools protocol on a free port; stopped afterwards, with
    every process it started."""
    import psutil

    binary = chromium_binary
    profile = tmp_path / "profile"
    log = (tmp_path / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
        ],
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = (tmp_path / "chromium.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"{binary} did not start its DevTools endpoint:\n{output}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with no_proxy.open(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            targets = json.loads(r.read())
        page = next(t for t in targets if t.get("type") == "page")
        client = _DevTools(page["webSocketDebuggerUrl"])
        try:
            yield client
        finally:
            client.close()
    finally:
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        _, alive = psutil.wait_procs(children, timeout=10)
        for child in alive:
            child.kill()
        log.close()


CHART_STATE = """JSON.stringify(Array.from(document.querySelectorAll('svg.chart')).map(s => {
  const box = s.getBoundingClientRect();
  const marks = Array.from(s.querySelectorAll('.mk'));
  return {name: s.dataset.chart, points: Number(s.dataset.points), marks: marks.length,
          drawn: marks.filter(m => { const b = m.getBoundingClientRect();
                                     return b.width > 0 && b.height > 0; }).length,
          width: box.width, height: box.height};
}))"""

VISIBLE_PANELS = """JSON.stringify(Array.from(document.querySelectorAll('.panel'))
  .filter(p => p.offsetParent !== null).map(p => p.id))"""


def test_the_dashboard_in_a_real_browser(chromium_binary, built, chromium):
    cdp = chromium
    for domain in ("Runtime", "Log", "Page", "Network"):
        cdp.call(f"{domain}.enable")
    cdp.call(
        "Emulation.setDeviceMetricsOverride",
        width=1280, height=1500, deviceScaleFactor=1, mobile=False,
    )  # fmt: skip
    cdp.call("Page.navigate", url=built["page"].resolve().as_uri())
    cdp.wait_for("Page.loadEventFired")
    charts = json.loads(cdp.evaluate(CHART_STATE))
    shown = json.loads(cdp.evaluate(VISIBLE_PANELS))
    cdp.evaluate("document.querySelector('label[for=w7]').click()")
    shown_after_click = json.loads(cdp.evaluate(VISIBLE_PANELS))
    cdp.evaluate("document.querySelector('label[for=w30]').click()")
    title = cdp.evaluate("document.title")
    shot = base64.b64decode(cdp.call("Page.captureScreenshot", format="png")["data"])
    cdp.call("Runtime.evaluate", expression="1")  # collect any late console events

    errors = [
        e["params"] for e in cdp.events
        if e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]  # fmt: skip
    assert errors == [], errors
    requests = [
        e["params"]["request"]["url"] for e in cdp.events if e["method"] == "Network.requestWillBeSent"
    ]  # fmt: skip
    assert requests and all(u.startswith("file://") for u in requests), requests
    assert END.isoformat() in title
    assert {c["name"] for c in charts} == CHARTS, charts
    for c in charts:
        assert c["points"] > 0 and c["marks"] == c["points"] and c["drawn"] > 0, c
        assert c["width"] > 100 and c["height"] > 50, c
    assert shown == ["p30"] and shown_after_click == ["p7"]

    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) < 300_000, len(shot)
    # The README's picture is refreshed on request only, so a test run leaves the tree clean.
    target = (
        SCREENSHOT if os.environ.get("OMS_UPDATE_SCREENSHOTS") else built["root"] / "dashboard.png"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(shot)
