"""The flows as processes: `oms sync` killed mid-way is completed by the next run, one stopped
with Ctrl-C is recorded 'interrupted', `prefect deploy` plus a worker runs the deployments, and
`oms serve` runs the scheduled flows and stops on Ctrl-C. (Apart from tests/test_flows.py so the
two test workers share these slow end-to-end runs.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from flows.demo import prepare_demo, write_demo_config
from flows.pipeline import pipeline_flow
from flows.warehouse import connection
from tests.test_flows import END, ROOT, _no_duplicate_versions, _scalar, kill_process_group


def _sync_stopped_while_landing(tmp_path: Path, cfg, output: int) -> tuple[subprocess.Popen, bool]:
    """Start `oms sync` on the demo config in `tmp_path` and return it (and whether it had
    already finished) once it has moved five files to `processed/`: mid-landing, to be stopped.
    Its own process group: a signal then reaches the ephemeral Prefect server it started too
    (a killed parent cannot stop its children; they would outlive the suite)."""
    write_demo_config(tmp_path / "oms.yaml")
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / ".prefect"), "PYTHONUNBUFFERED": "1"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "sync"],
        cwd=tmp_path,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    processed = Path(cfg.files.drop_dir) / "processed"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if processed.exists() and sum(1 for p in processed.rglob("*") if p.is_file()) >= 5:
            break
        time.sleep(0.05)
    return proc, proc.poll() is not None


def test_a_killed_run_is_completed_by_the_next(tmp_path, prefect_harness):
    """SIGKILL an `oms run` while it lands files; the next run finishes the job exactly."""
    cfg, _, end = prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END)
    proc, finished_early = _sync_stopped_while_landing(tmp_path, cfg, subprocess.DEVNULL)
    kill_process_group(proc)
    assert not finished_early, "the run finished before it could be killed"
    summary = pipeline_flow(cfg=cfg, run_date=date(2026, 7, 1))
    assert summary.crashed_before == 1
    assert summary.checks.ok
    _no_duplicate_versions(cfg)
    with connection(cfg.warehouse, read_only=True) as con:
        statuses = [
            r[0] for r in con.execute("select status from ops.runs order by started_at").fetchall()
        ]
        pending = [
            p
            for p in Path(cfg.files.drop_dir).rglob("*.jsonl")
            if "processed" not in p.parts and "rejected" not in p.parts
        ]
    assert statuses == ["crashed", "success"] and not pending
    from sandbox import generate_store

    truth = generate_store(seed=11, scale="tiny", end_date=END).truth["demand"]
    assert (
        # the direct rows: the bundle rows repeat the sandbox's bundle sales on their components
        _scalar(
            cfg, "select sum(units_ordered) from marts.daily_demand where demand_source = 'direct'"
        )
        == truth["units_sold"].sum()
    )


def test_a_run_stopped_with_ctrl_c_is_recorded_interrupted_not_failed(tmp_path, prefect_harness):
    """Ctrl-C an `oms sync` while it lands files: `ops.runs` says 'interrupted' (someone stopped
    it; nothing is wrong with the data, so no `run_failed` alert) and the next run completes it."""
    cfg, _, end = prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END)
    proc, finished_early = _sync_stopped_while_landing(tmp_path, cfg, subprocess.PIPE)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        kill_process_group(proc)
    assert not finished_early, "the run finished before it could be stopped"
    assert proc.returncode != 0 and "Traceback" not in out, out[-3000:]
    with connection(cfg.warehouse, read_only=True) as con:
        status, message = con.execute("select status, message from ops.runs").fetchall()[0]
    assert (status, message) == ("interrupted", "interrupted by KeyboardInterrupt"), out[-3000:]
    summary = pipeline_flow(cfg=cfg, run_date=date(2026, 7, 1))
    assert summary.crashed_before == 0 and summary.checks.ok
    _no_duplicate_versions(cfg)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_health(url: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the Prefect server exited"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"the Prefect server at {url} did not answer within {seconds:g} s")


def _runs_by_flow(cfg) -> dict[str, list[tuple[str, object]]]:
    with connection(cfg.warehouse, read_only=True) as con:
        rows = con.execute("select flow, status, started_at from ops.runs").fetchall()
    out: dict[str, list[tuple[str, object]]] = {}
    for flow_name, status, started in rows:
        out.setdefault(flow_name, []).append((status, started))
    return out


def _recent_store(root: Path):
    """A tiny sandbox whose history ends yesterday, so an hourly run's checks judge it fresh."""
    cfg, _, end = prepare_demo(root, seed=11, scale="tiny", end_date=date.today() - timedelta(1))
    write_demo_config(root / "oms.yaml")
    return cfg, end


@pytest.mark.slow
def test_prefect_yaml_deploys_and_a_worker_runs_the_flows(tmp_path):
    """`prefect deploy --all` against a local server, then a process worker runs hourly-sync and
    daily-replenishment (their real dbt build) from the project folder: both complete."""
    import httpx

    cfg, _ = _recent_store(tmp_path)
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / ".prefect"),
        "PREFECT_API_URL": api,
        "OMS_PROJECT_DIR": str(ROOT),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    prefect = str(Path(sys.executable).parent / "prefect")
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_health(api, server)

        def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
            return subprocess.run([prefect, *args], env=env, cwd=ROOT, capture_output=True,
                                  text=True, timeout=timeout)  # fmt: skip

        made = run("work-pool", "create", "oms-process", "--type", "process")
        assert made.returncode == 0, made.stdout + made.stderr
        deployed = run("--no-prompt", "deploy", "--all")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        listed = run("deployment", "ls")
        for name in ("hourly-sync", "daily-replenishment", "full-refresh", "backfill"):
            assert name in listed.stdout, listed.stdout
        config = f"config_path={tmp_path / 'oms.yaml'}"
        for deployment in ("hourly-sync/hourly-sync", "daily-replenishment/daily-replenishment"):
            started = run("deployment", "run", deployment, "--param", config)
            assert started.returncode == 0, started.stdout + started.stderr
        worker = run("worker", "start", "--pool", "oms-process", "--run-once", "--limit", "2",
                     timeout=900)  # fmt: skip
        assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
        flow_runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=30).json()
        # the runs we started; the scheduler also adds future runs of the cron schedules
        ran = {
            r["name"]: r["state"]["type"] for r in flow_runs if r["state"]["type"] != "SCHEDULED"
        }
        assert len(ran) == 2 and set(ran.values()) == {"COMPLETED"}, (
            ran, worker.stdout[-3000:], worker.stderr[-3000:])  # fmt: skip
    finally:
        kill_process_group(server, signal.SIGINT)
    runs = _runs_by_flow(cfg)
    assert [s for s, _ in runs["hourly-sync"]] == ["success"], runs
    assert [s for s, _ in runs["daily-replenishment"]] == ["success"], runs


@pytest.mark.slow
def test_oms_serve_runs_the_scheduled_flows_and_stops_on_ctrl_c(tmp_path):
    """`oms serve` runs hourly_sync and daily_replenishment on a short schedule, each with its
    real dbt build (which imports dbt in the served run's process): every run succeeds."""
    cfg, _ = _recent_store(tmp_path)
    flows_dir = ROOT / "prefect.yaml"
    deployments = {d["name"]: d for d in yaml.safe_load(flows_dir.read_text())["deployments"]}
    served = []
    # The first hourly run as soon as the server is up, the first daily run a little later, so
    # it waits for the writer lock the hourly run holds (and hourly runs wait for it, then skip).
    # Anchored slots, not an interval away: the test does not wait five minutes for them, and
    # hourly runs two minutes apart do not queue up ahead of the daily one (the lock is unfair).
    now = datetime.now(UTC)
    for name, schedule in (
        ("hourly-sync", {"interval": 120, "anchor_date": now.isoformat()}),
        (
            "daily-replenishment",
            {"interval": 600, "anchor_date": (now + timedelta(seconds=45)).isoformat()},
        ),
    ):
        dep = dict(deployments[name])
        dep["schedules"] = [schedule]
        served.append(dep)
    (tmp_path / "serve.yaml").write_text(yaml.safe_dump({"deployments": served}))
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / ".prefect"), "PYTHONUNBUFFERED": "1"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve", "--prefect-file", "serve.yaml"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    decided = None
    try:
        deadline = time.monotonic() + 900  # a fresh Prefect server migrates its database first
        while time.monotonic() < deadline:
            time.sleep(3)
            try:
                runs = _runs_by_flow(cfg)
            except Exception:  # no warehouse yet, or a served run holds the file; look again
                continue
            done = all(
                any(s == "success" for s, _ in runs.get(name, []))
                for name in ("hourly-sync", "daily-replenishment")
            )
            if done:
                decided = datetime.now(UTC)
                break
        if decided is None:
            proc.send_signal(signal.SIGINT)
            pytest.fail("the served flows did not both succeed:\n"
                        + proc.communicate(timeout=60)[0][-4000:])  # fmt: skip
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            out, _ = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            kill_process_group(proc)
            out, _ = proc.communicate()
        kill_process_group(proc)  # whatever it started and did not stop
    assert proc.returncode is not None, out[-2000:]  # it stopped on Ctrl-C
    assert "serving hourly-sync: every 120 s" in out and "serving daily-replenishment" in out
    runs = _runs_by_flow(cfg)
    for name, rows in runs.items():
        rows.sort(key=lambda r: r[1])
        # the run the Ctrl-C interrupted, if any, is recorded 'interrupted' (or left 'running'
        # when the signal came before it could write: the next run marks it crashed)
        finished = rows[:-1] if rows[-1][0] in ("running", "interrupted") else rows
        if [s for s, _ in finished] != ["success"] * len(finished):
            with connection(cfg.warehouse, read_only=True) as con:
                why = con.execute("select status, message from ops.runs where status <> 'success'")
                pytest.fail(f"{name}: {rows}\n{why.fetchall()}\n{out[-3000:]}")
