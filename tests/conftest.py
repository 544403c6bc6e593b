"""Shared test fixtures: one Prefect test harness per session (a fresh Prefect database costs
~15 s to start), and helpers that build a real configuration on a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_HOME", str(Path(__file__).resolve().parent.parent / ".prefect"))

import flows  # noqa: E402,F401  (Prefect environment defaults)
from flows.config import parse_config  # noqa: E402
from flows.demo import demo_config_dict  # noqa: E402


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


@pytest.fixture
def cfg(tmp_path):
    return make_config(tmp_path)
