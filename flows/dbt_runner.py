"""Run dbt in-process against the warehouse, and turn its results into something a person reads.

dbt opens the DuckDB file itself, so callers must not hold a connection while it runs. The
profile keeps it open for the whole invocation (`keep_open: true`: re-opening the file for every
model and test cost ~10 s per hourly build on the large sandbox), and `_release_warehouse` closes
it when dbt returns, so the flows and `oms` commands can open the file again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flows.config import Config

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


def project_dir() -> Path:
    """The dbt project; `OMS_DBT_PROJECT_DIR` points elsewhere (a merchant's own fork, tests)."""
    return Path(os.environ.get("OMS_DBT_PROJECT_DIR") or DBT_PROJECT_DIR)


class DbtFailed(RuntimeError):
    """dbt reported an error or a failing test; the message lists the nodes and their errors."""


@dataclass
class DbtReport:
    models_built: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    warnings: int = 0
    failures: list[str] = field(default_factory=list)


def dbt_vars(cfg: Config) -> dict[str, str]:
    return {"base_currency": cfg.base_currency, "business_timezone": cfg.business_timezone}


def run_dbt(
    cfg: Config,
    command: str = "build",
    select: str | None = None,
    on_event: Callable[[str], None] | None = None,
    full_refresh: bool = False,
) -> DbtReport:
    """`dbt <command>` in-process; raise DbtFailed naming every failed node."""
    os.environ["OMS_WAREHOUSE"] = str(Path(cfg.warehouse).resolve())
    args = [
        command,
        "--project-dir",
        str(project_dir()),
        "--profiles-dir",
        str(project_dir()),
        "--vars",
        json.dumps(dbt_vars(cfg)),
        "--quiet",
    ]
    if select:
        args += ["--select", *select.split()]
    if full_refresh:
        args.append("--full-refresh")

    def callback(event) -> None:
        if on_event and event.info.name in ("LogModelResult", "LogTestResult", "LogSeedResult"):
            on_event(event.info.msg)

    result = invoke(args, [callback])
    report = DbtReport()
    if result.exception is not None:
        raise DbtFailed(f"dbt {command} could not run: {result.exception}")
    for r in result.result or []:
        node = r.node
        status = str(r.status)
        if node.resource_type == "model" and status == "success":
            report.models_built += 1
        elif node.resource_type in ("test", "unit_test"):
            if status == "pass":
                report.tests_passed += 1
            elif status == "warn":
                report.warnings += 1
            elif status in ("fail", "error"):
                report.tests_failed += 1
        if status in ("error", "fail"):
            report.failures.append(f"{node.resource_type} {node.name}: {status}: {r.message}")
    if not result.success:
        raise DbtFailed(
            f"dbt {command} failed ({len(report.failures)} node(s)):\n  - "
            + "\n  - ".join(report.failures or ["see dbt_project/logs/dbt.log"])
        )
    return report


def generate_docs(cfg: Config) -> Path:
    """dbt's documentation site, as one self-contained page analysts open offline."""
    target = (Path(cfg.replenishment.output_dir) / "dbt_docs").resolve()
    os.environ["OMS_WAREHOUSE"] = str(Path(cfg.warehouse).resolve())
    result = invoke([
        "docs", "generate", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir()),
        "--target-path", str(target), "--vars", json.dumps(dbt_vars(cfg)), "--static", "--quiet",
    ])  # fmt: skip
    if not result.success:
        raise DbtFailed(f"dbt docs generate failed: {result.exception}")
    return target / "static_index.html"


def invoke(args: list[str], callbacks: list | None = None):
    """`dbtRunner(callbacks).invoke(args)`, then free the warehouse file (see module docstring).
    Everything that runs dbt in this project goes through here (flows, tests, benchmarks)."""
    from dbt.cli.main import dbtRunner

    try:
        return dbtRunner(callbacks=callbacks or []).invoke(args)
    finally:
        _release_warehouse()


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open across an invocation (`keep_open`), so
    the file is free for the next writer. The next invocation opens it again."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None:
            env.close()
