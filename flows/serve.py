"""`oms serve`: the deployments of prefect.yaml, served by this process (Prefect's `serve`).

Reading prefect.yaml keeps one source of truth for schedules and parameters: the production path
(`prefect deploy --all` + a worker) and the local path run the same definitions.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from rich.console import Console


def load_deployments(prefect_file: Path) -> list[dict]:
    data = yaml.safe_load(prefect_file.read_text(encoding="utf-8"))
    deployments = data.get("deployments") or []
    if not deployments:
        raise ValueError(f"{prefect_file}: no deployments")
    return deployments


def serve_deployments(prefect_file: Path, console: Console) -> None:
    from prefect import serve
    from prefect.client.schemas.schedules import CronSchedule

    from flows.pipeline import pipeline_flow

    runnable = []
    for dep in load_deployments(prefect_file):
        module, _, func = dep["entrypoint"].partition(":")
        if (module, func) != ("flows/pipeline.py", "pipeline_flow"):
            raise ValueError(f"{dep['name']}: unknown entrypoint {dep['entrypoint']}")
        schedules = [
            CronSchedule(cron=s["cron"], timezone=s.get("timezone", "UTC"))
            for s in dep.get("schedules") or []
        ]
        runnable.append(
            pipeline_flow.to_deployment(
                name=dep["name"],
                description=dep.get("description"),
                parameters=dep.get("parameters") or {},
                schedules=schedules,
            )
        )
        console.print(f"serving {dep['name']}: {[s['cron'] for s in dep.get('schedules') or []]}")
    serve(*runnable)
