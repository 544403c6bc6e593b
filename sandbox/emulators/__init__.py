"""Emulated channel APIs serving a sandbox Store on 127.0.0.1 (ephemeral ports).

with run_emulators(store, faults=Faults(error_rate=0.3)) as eps:
    eps.shop.base_url, eps.shop.token      # Shopify GraphQL Admin API
    eps.env()                              # credential env vars -> values
    eps.channel_config("shop")             # the `source: api` channel block for oms.yaml
    eps.shop.emulator.add_refund(order_id) # change an old order between syncs
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from sandbox.emulators.base import Emulator, Faults
from sandbox.emulators.shopify import ShopifyEmulator
from sandbox.store import Store

ENV = {
    "shop": {"access_token": "OMS_SHOP_ACCESS_TOKEN"},
    "woo": {"consumer_key": "OMS_WOO_CONSUMER_KEY", "consumer_secret": "OMS_WOO_CONSUMER_SECRET"},
    "amazon": {
        "refresh_token": "OMS_AMAZON_REFRESH_TOKEN",
        "client_id": "OMS_AMAZON_CLIENT_ID",
        "client_secret": "OMS_AMAZON_CLIENT_SECRET",
    },
}


@dataclass
class Endpoint:
    channel: str
    emulator: Emulator
    base_url: str
    secrets: dict[str, str] = field(default_factory=dict)  # credential name -> value
    extra: dict = field(default_factory=dict)

    @property
    def token(self) -> str:
        return next(iter(self.secrets.values()))


@dataclass
class Endpoints:
    endpoints: dict[str, Endpoint]

    def __getattr__(self, name: str) -> Endpoint:
        try:
            return self.__dict__["endpoints"][name]
        except KeyError:
            raise AttributeError(name) from None

    def env(self) -> dict[str, str]:
        """Environment variables (names as in `channel_config`) -> credential values."""
        out = {}
        for ch, ep in self.endpoints.items():
            for key, value in ep.secrets.items():
                out[ENV[ch][key]] = value
        return out

    def channel_config(self, channel: str, **api: object) -> dict:
        """The `api:` block (plus `source: api`) of this channel for oms.yaml."""
        ep = self.endpoints[channel]
        block = {"base_url": ep.base_url, "credentials": dict(ENV[channel]), **ep.extra, **api}
        return {"source": "api", "api": block}


def start_emulator(store: Store, channel: str, faults: Faults | None = None, **kw) -> Endpoint:
    if channel == "shop":
        emu = ShopifyEmulator(store, faults=faults, **kw).start()
        return Endpoint("shop", emu, emu.base_url, {"access_token": emu.token},
                        {"api_version": "2025-01"})  # fmt: skip
    if channel == "woo":
        from sandbox.emulators.woocommerce import WooEmulator

        woo = WooEmulator(store, faults=faults, **kw).start()
        return Endpoint("woo", woo, woo.base_url,
                        {"consumer_key": woo.key, "consumer_secret": woo.secret})  # fmt: skip
    if channel == "amazon":
        from sandbox.emulators.amazon import AmazonEmulator

        amz = AmazonEmulator(store, faults=faults, **kw).start()
        return Endpoint("amazon", amz, amz.base_url,
                        {"refresh_token": amz.refresh_token, "client_id": amz.client_id,
                         "client_secret": amz.client_secret},
                        {"auth_url": amz.base_url + "/auth/o2/token",
                         "marketplace_ids": list(amz.marketplace_ids)})  # fmt: skip
    raise ValueError(f"no emulator for channel {channel!r}")


@contextmanager
def run_emulators(
    store: Store,
    faults: Faults | dict[str, Faults] | None = None,
    channels: tuple[str, ...] = ("shop",),
    **kw,
) -> Iterator[Endpoints]:
    """Start the emulators of `channels` for `store`; stop them on exit."""
    with ExitStack() as stack:
        eps = {}
        for ch in channels:
            f = faults.get(ch) if isinstance(faults, dict) else faults
            ep = start_emulator(store, ch, f, **kw.get(ch, {}))
            stack.callback(ep.emulator.stop)
            eps[ch] = ep
        yield Endpoints(eps)


__all__ = ["Faults", "Endpoint", "Endpoints", "run_emulators", "start_emulator", "ENV"]
