"""`source: api` channels in oms.yaml: validated like every other key, secrets only by name."""

from __future__ import annotations

import pytest

from flows.config import ConfigError, parse_config
from flows.demo import demo_config_dict

pytestmark = pytest.mark.fast  # make test-fast

SHOP_API = {
    "base_url": "https://shop.example.com",
    "credentials": {"access_token": "SHOPIFY_TOKEN"},
}


def _cfg(channel_update: dict, index: int = 0):
    data = demo_config_dict()
    ch = data["channels"][index]
    ch.pop("path", None)
    ch.update(channel_update)
    return parse_config(data, source="oms.yaml")


def test_api_channel_is_valid_with_defaults():
    ch = _cfg({"source": "api", "api": SHOP_API}).channel("shopify")
    assert ch.source == "api" and ch.path is None
    assert (ch.api.page_size, ch.api.lookback_days, ch.api.landing_batch) == (100, 2, 10_000)


@pytest.mark.parametrize(
    ("update", "index", "message"),
    [
        ({"source": "api", "api": {**SHOP_API, "pagesize": 5}}, 0, "channels[0].api.pagesize: unknown key"),
        ({"source": "api"}, 0, "api: required when source is 'api'"),
        ({"source": "api", "api": {**SHOP_API, "credentials": {"token": "X"}}}, 0, "needs exactly ['access_token']"),
        ({"source": "api", "api": {**SHOP_API, "credentials": {"access_token": "shpat_123abc"}}}, 0,
         "channels[0].api.credentials.access_token: String should match pattern"),
        ({"source": "api", "api": {**SHOP_API, "lookback_days": -1}}, 0, "channels[0].api.lookback_days"),
        ({"api": SHOP_API, "path": "shop"}, 0, "api: only allowed with `source: api`"),
        ({}, 0, "path: required for a channel with source 'files'"),
        ({"source": "api", "api": {"base_url": "https://x", "credentials": {
            "refresh_token": "A", "client_id": "B", "client_secret": "C"}}}, 1, "marketplace_ids"),
        ({"source": "api", "api": SHOP_API}, 3, "has no API connector"),
    ],
)  # fmt: skip
def test_api_settings_errors_name_the_key(update, index, message):
    with pytest.raises(ConfigError) as err:
        _cfg(update, index)
    assert message in str(err.value)
