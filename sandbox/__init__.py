"""Sandbox store: a deterministic fake merchant generated from a seed and a scale.

store = generate_store(seed=7, scale="demo", end_date=None)
counts = write_drops(store, drop_dir)
store.truth["demand"]  # ground truth, polars
"""

from sandbox.catalog import PRESETS, Scale
from sandbox.store import Store, generate_store

__all__ = ["PRESETS", "Scale", "Store", "generate_store", "write_drops"]


def __getattr__(name: str):
    # write_drops is imported lazily so generating a store does not pay for the renderers.
    if name == "write_drops":
        from sandbox.drops import write_drops

        return write_drops
    raise AttributeError(name)
