"""`oms serve`: the deployments of prefect.yaml, served by this process (Prefect's `serve`).

Reading prefect.yaml keeps one source of truth for schedules and parameters: the production path
(`prefect deploy --all` + a worker) and the local path run the same definitions.

Entrypoints are module paths (`flows.pipeline.hourly_sync`), and served deployments are made
with module-path entrypoints too, so `oms`, `prefect deploy`, a worker and `oms serve` all import
the flows the same way: as the module `flows.pipeline`. A file-path entrypoint
(`flows/pipeline.py:hourly_sync`) would make Prefect execute the file as a separate module and put
`flows/` first on `sys.path` for the rest of the process, where a module of ours could shadow a
dependency (as `flows/dbt.py` once shadowed `dbt`).
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import yaml
from rich.console import Console


def load_deployments(prefect_file: Path) -> list[dict]:
    data = yaml.safe_load(prefect_file.read_text(encoding="utf-8"))
    deployments = data.get("deployments") or []
    if not deployments:
        raise ValueError(f"{prefect_file}: no deployments")
    return deployments


def entrypoint_flow(entrypoint: str):
    """The flow object of an entrypoint, imported as a module: `flows.pipeline.hourly_sync`
    (what prefect.yaml uses), or `flows/pipeline.py:hourly_sync` read as that same module path."""
    if ":" in entrypoint:
        path, _, name = entrypoint.rpartition(":")
        module_path = path.removesuffix(".py").replace("/", ".")
    else:
        module_path, _, name = entrypoint.rpartition(".")
    return getattr(importlib.import_module(module_path), name)


def schedules_of(dep: dict) -> list:
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    out: list[CronSchedule | IntervalSchedule] = []
    for s in dep.get("schedules") or []:
        if "cron" in s:
            out.append(CronSchedule(cron=s["cron"], timezone=s.get("timezone", "UTC")))
        elif "interval" in s:
            # prefect.yaml's anchor_date (when the first slot falls) is honoured as Prefect's
            # own deploy does; without one Prefect anchors at the moment the schedule is made
            anchor = {"anchor_date": s["anchor_date"]} if s.get("anchor_date") else {}
            out.append(
                IntervalSchedule(
                    interval=timedelta(seconds=float(s["interval"])),
                    timezone=s.get("timezone", "UTC"),
                    **anchor,
                )
            )
    return out


@contextmanager
def local_prefect_server(console: Console) -> Iterator[str | None]:
    """Schedules need Prefect's scheduler, which the ephemeral API does not run: when no server is
    configured (PREFECT_API_URL), start one on 127.0.0.1 for as long as we serve, in the
    project's Prefect home."""
    if os.environ.get("PREFECT_API_URL"):
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    prefect = str(Path(sys.executable).parent / "prefect")
    env = {**os.environ, "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "10"}
    proc = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    "the local Prefect server did not start (see `prefect server start`)"
                )
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the local Prefect server did not answer within 180 s")
            time.sleep(0.5)
        console.print(f"local Prefect server: {url.removesuffix('/api')} (UI and API)")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def serve_deployments(prefect_file: Path, console: Console) -> None:
    from prefect import serve
    from prefect.deployments.runner import EntrypointType
    from prefect.settings import PREFECT_API_URL, temporary_settings

    runnable = []
    for dep in load_deployments(prefect_file):
        schedules = schedules_of(dep)
        runnable.append(
            entrypoint_flow(dep["entrypoint"]).to_deployment(
                name=dep["name"],
                description=dep.get("description"),
                parameters=dep.get("parameters") or {},
                schedules=schedules,
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
        when = (
            ", ".join(
                str(s.get("cron") or f"every {s.get('interval')} s")
                for s in dep.get("schedules") or []
            )
            or "on demand"
        )
        console.print(f"serving {dep['name']}: {when}")
    with local_prefect_server(console) as url:
        updates = {PREFECT_API_URL: url} if url else {}
        with temporary_settings(updates=updates):
            console.print("Ctrl-C stops.")
            try:
                serve(*runnable, print_starting_message=False)
            except KeyboardInterrupt:
                console.print("stopped")
