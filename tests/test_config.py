"""oms.yaml validation: bad keys, types and values stop with a message that names them."""

from __future__ import annotations

import copy

import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from flows.config import ConfigError, load_config, parse_config
from flows.demo import demo_config_dict
from flows.starter import STARTER_YAML

pytestmark = pytest.mark.fast  # make test-fast


def _parse(data):
    return parse_config(data, source="oms.yaml")


def test_demo_and_starter_configs_are_valid(tmp_path):
    cfg = _parse(demo_config_dict())
    assert cfg.base_currency == "EUR"
    assert {c.name for c in cfg.channels} == {"shop", "amazon", "woo", "tills", "tpl"}
    starter = _parse(yaml.safe_load(STARTER_YAML))
    till = starter.channel("till_export")
    assert till is not None and till.mapping["quantity"] == "Quantity"
    rules = till.export_rules()  # the retailer's export the starter shows (README)
    assert rules.credit_notes.prefix == "C" and rules.line_types["shipping"] == ("POST", "DOT")
    assert rules.constants == {"location_id": "STORE-1", "currency": "GBP"}


def test_relative_paths_are_anchored_at_the_config_folder(tmp_path):
    p = tmp_path / "cfgdir" / "oms.yaml"
    p.parent.mkdir()
    p.write_text(yaml.safe_dump(demo_config_dict()))
    cfg = load_config(p)
    assert cfg.warehouse == str((p.parent / "data" / "oms.duckdb").resolve())


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(warehose="x.duckdb"), "warehose: unknown key"),
        (lambda d: d["channels"][0].update(kind="shopfy"), "channels[0].kind"),
        (lambda d: d["channels"][0].update(tokn="x"), "channels[0].tokn: unknown key"),
        (lambda d: d.update(base_currency="EUX"), "'EUX' is not a known ISO 4217"),
        (lambda d: d.update(business_timezone="Mars/Olympus"), "business_timezone"),
        (
            lambda d: d["replenishment"].update(review_period_days="weekly"),
            "replenishment.review_period_days",
        ),
        (lambda d: d["channels"][0].update(default_location="NOPE"), "default_location: 'NOPE'"),
        (lambda d: d["locations"][0].update(country="Netherlands"), "locations[0].country"),
        (lambda d: d["channels"][3]["mapping"].pop("sku"), "missing required field(s) ['sku']"),
        (
            lambda d: d["channels"][3]["mapping"].update(colour="Kleur"),
            "unknown field(s) ['colour']",
        ),
        (lambda d: d["channels"][1].update(currency="SEK"), "not listed in currencies"),
        (
            lambda d: (
                d["quality"].update(max_bad_share=1.5)
                if "quality" in d
                else d.update(quality={"max_bad_share": 1.5})
            ),
            "quality.max_bad_share",
        ),
        (lambda d: d.pop("locations"), "locations: Field required"),
    ],
)
def test_bad_config_names_the_key(mutate, expected):
    data = copy.deepcopy(demo_config_dict())
    mutate(data)
    with pytest.raises(ConfigError) as err:
        _parse(data)
    assert expected in str(err.value)


def test_not_a_mapping_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="must be a mapping"):
        _parse(["a", "b"])
    p = tmp_path / "oms.yaml"
    p.write_text("warehouse: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")


def test_cli_stops_before_running_with_the_key_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = demo_config_dict()
    data["lock_timeout_secs"] = 5
    (tmp_path / "oms.yaml").write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["sync"])
    assert result.exit_code == 2
    assert "lock_timeout_secs" in result.output and "unknown key" in result.output
    assert not (tmp_path / "data").exists()  # nothing ran


def test_oms_init_writes_a_valid_starter(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert load_config(tmp_path / "oms.yaml").channel("shopify").name == "shop"
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 2 and "exists" in again.output
