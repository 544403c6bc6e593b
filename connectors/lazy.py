"""Names a channel package re-exports from its modules, imported only when first used.

A channel package (`connectors/shopify/`, …) keeps its old public names importable from the
package while the registry reads its `checks` and `streams` without importing its client (and
httpx): the package's `__getattr__` imports the module that defines a name on first access.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], object]:
    """A module-level `__getattr__` for `package`: `exports` maps a name to the submodule that
    defines it; the value is cached in the package once imported."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
