"""Shared test fixtures: one Prefect test harness per session (a fresh Prefect database costs
~15 s to start), a check that no process the suite started outlives it, and helpers that build a
real configuration on a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_HOME", str(Path(__file__).resolve().parent.parent / ".prefect"))
# An ephemeral Prefect server (a test's own, or `oms` started by a test) may take longer than
# Prefect's default 20 s to start on a loaded 2-core machine; on timeout Prefect leaves it running.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

import flows  # noqa: E402,F401  (Prefect environment defaults)
from flows.config import parse_config  # noqa: E402
from flows.demo import demo_config_dict  # noqa: E402

# The test files that take longest (CI's `--durations` list), run first: `make test` hands
# whole files to two workers in collection order, so a long file collected last ran alone at the
# end while the other worker sat idle. Order only; every file still runs.
LONGEST_FILES_FIRST = (
    "test_flows_processes.py",
    "test_published.py",
    "test_orchestration.py",
    "test_flows.py",
    "test_pipeline_e2e.py",
    "test_dbt_incremental.py",
    "test_edge_cases.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept within


# Helpers Python itself keeps for the life of the process (not ours to stop).
# Helpers that end with their parent, not before: the interpreter's, and the watchdog an `oms`
# command run in-process (CliRunner) starts for pytest itself (flows/children.py).
_INTERPRETER_HELPERS = (
    "multiprocessing.resource_tracker",
    "multiprocessing.forkserver",
    "flows.children",
)


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_suite():
    """Set up before (so torn down after) every other session fixture: at the end of the session
    no child process of pytest may survive (a Prefect server, a worker, an `oms` subprocess and
    its ephemeral Prefect server...). Survivors are named, killed, and fail the session."""
    yield
    import psutil

    me = psutil.Process()

    def survivors() -> list[psutil.Process]:
        out = []
        for child in me.children(recursive=True):
            try:
                cmdline = " ".join(child.cmdline())
                if child.status() == psutil.STATUS_ZOMBIE or any(
                    h in cmdline for h in _INTERPRETER_HELPERS
                ):
                    continue
            except psutil.NoSuchProcess:
                continue
            out.append(child)
        return out

    left = survivors()
    if left:  # give processes told to stop a moment to exit
        psutil.wait_procs(left, timeout=10)
        left = survivors()
    if not left:
        return
    described = []
    for child in left:
        try:
            described.append(f"pid {child.pid}: {' '.join(child.cmdline())[:300]}")
            child.kill()
        except psutil.NoSuchProcess:
            pass
    pytest.fail(
        "processes started by the test suite were still running at its end (now killed):\n  "
        + "\n  ".join(described),
        pytrace=False,
    )


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect against a throwaway database, started once for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def make_config(tmp: Path, **overrides):
    """The sandbox configuration rooted in `tmp` (warehouse, drop folder and outputs inside it)."""
    data = demo_config_dict(
        warehouse=str(tmp / "oms.duckdb"), drop_dir=str(tmp / "drop"), output_dir=str(tmp / "out")
    )
    data.update(overrides)
    return parse_config(data, source="test config", base_dir=tmp)


def till_channel(mapping: dict[str, str], **settings: object) -> dict[str, object]:
    """A till-export channel as the tests' small hand-made stores declare it (Berlin shop, EUR,
    files in `tills/`): only the column mapping and the export's own settings differ."""
    return {
        "name": "tills",
        "kind": "till_export",
        "currency": "EUR",
        "default_location": "ST-BER",
        "path": "tills",
        "timezone": "Europe/Berlin",
        "mapping": mapping,
        **settings,
    }


@pytest.fixture
def cfg(tmp_path):
    return make_config(tmp_path)
