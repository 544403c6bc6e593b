"""The dbt project's unit tests run when the project changed, not at every build: the first build
of a warehouse runs them all, a build of the same project does not, and a changed project whose
unit test fails fails the build and leaves the warehouse as it was."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from flows.dbt_runner import DBT_PROJECT_DIR, DbtFailed, build, project_fingerprint, unit_tests_due
from tests.test_orchestration import _fingerprint

END = date(2026, 6, 30)
BROKEN_TEST = "test_the_file_overrides_shopify_and_shopify_adds_the_bundles_the_file_lacks"


def _unit_tests_in_project() -> int:
    return sum(
        len((yaml.safe_load(p.read_text()) or {}).get("unit_tests") or [])
        for p in (DBT_PROJECT_DIR / "models").rglob("*.yml")
    )


def _project_with_a_wrong_expectation(tmp_path: Path) -> Path:
    """The project with one unit test expecting a quantity the model does not give."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    yml = copy / "models" / "intermediate" / "_int_bundles__models.yml"
    text = yml.read_text()
    right = "- {bundle_sku: BUN-2, component_sku: D, quantity: 3, bom_source: shopify}"
    assert text.count(right) == 1
    yml.write_text(text.replace(right, right.replace("quantity: 3", "quantity: 4")))
    return copy


def test_unit_tests_run_when_the_project_changed_and_a_failure_rolls_the_build_back(
    tmp_path, prefect_harness, monkeypatch
):
    from flows.demo import prepare_demo
    from flows.pipeline import pipeline_flow

    cfg, _, _ = prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END)
    assert unit_tests_due(cfg)  # a new warehouse: never seen them pass
    first = pipeline_flow(cfg=cfg, stages=["sync", "build"])
    assert first.dbt.unit_tests_passed == _unit_tests_in_project() > 0
    assert not unit_tests_due(cfg)

    again = build(cfg)  # the same project: its logic was proven on it already
    assert again.unit_tests_passed == 0 and again.models_built > 0

    before = _fingerprint(cfg.warehouse)
    seen = project_fingerprint(cfg)
    monkeypatch.setenv("OMS_DBT_PROJECT_DIR", str(_project_with_a_wrong_expectation(tmp_path)))
    assert project_fingerprint(cfg) != seen and unit_tests_due(cfg)
    with pytest.raises(DbtFailed, match=BROKEN_TEST) as failed:
        build(cfg)
    assert any("left as before the build" in n for n in failed.value.__notes__)
    assert _fingerprint(cfg.warehouse) == before
    assert unit_tests_due(cfg)  # still due: the next build runs them again
