"""Replenishment settings.

A small frozen value object so the planning functions stay pure: the flow builds it once from
``oms.yaml`` (``replenishment`` section) and passes it in, and tests build it by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _default_service_levels() -> Mapping[str, float]:
    # A items earn most of the revenue, so a stockout there costs most: protect them hardest.
    return MappingProxyType({"A": 0.98, "B": 0.95, "C": 0.90})


@dataclass(frozen=True)
class ReplenishmentSettings:
    """Policy knobs for the periodic-review order-up-to policy.

    ``service_level_by_abc`` maps an ABC class to the target cycle service level (probability of
    not stocking out during a replenishment cycle); SKUs without a class, or with a class not in
    the map, get ``default_service_level``.
    """

    service_level_by_abc: Mapping[str, float] = field(
        default_factory=_default_service_levels, hash=False
    )
    default_service_level: float = 0.95
    review_period_days: int = 7
    horizon_days: int = 56
    max_days_of_cover: int = 120
    # Days of history behind the forecast's level (the baseline models average 28 days). The
    # level's estimation error is shared by every day of the protection interval, so it adds
    # P^2 * sigma_d^2 / n to the variance of demand over P; None leaves the term out (for
    # forecasts whose quantiles already describe the error of a sum over days).
    forecast_level_days: int | None = 28
    # Safety stock from forecast errors measured per series (``demand_errors`` of
    # plan_replenishment): the days of history they are measured on (a year, so seasonal
    # swings are in it), and how many intervals' worth of weight the forecast's own spread
    # keeps against them (few measured intervals: mostly the forecast's spread; many: mostly
    # the measured errors).
    error_history_days: int = 365
    error_prior_weight: float = 2.0

    def __post_init__(self) -> None:
        # Validate here so a bad oms.yaml fails loudly, naming the key, before any planning runs.
        levels = dict(self.service_level_by_abc)
        for cls, level in levels.items():
            if not 0.5 <= float(level) < 1.0:
                raise ValueError(
                    f"replenishment.service_level_by_abc.{cls}: {level!r} must be in [0.5, 1.0)"
                )
        if not 0.5 <= float(self.default_service_level) < 1.0:
            raise ValueError(
                f"replenishment.default_service_level: {self.default_service_level!r} "
                "must be in [0.5, 1.0)"
            )
        for name in ("review_period_days", "horizon_days", "max_days_of_cover"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"replenishment.{name}: {value!r} must be a positive integer")
        if self.forecast_level_days is not None and (
            not isinstance(self.forecast_level_days, int)
            or isinstance(self.forecast_level_days, bool)
            or self.forecast_level_days < 1
        ):
            raise ValueError(
                f"replenishment.forecast_level_days: {self.forecast_level_days!r} "
                "must be a positive integer or null"
            )
        if (
            not isinstance(self.error_history_days, int)
            or isinstance(self.error_history_days, bool)
            or self.error_history_days < 1
        ):
            raise ValueError(
                f"replenishment.error_history_days: {self.error_history_days!r} "
                "must be a positive integer"
            )
        if not float(self.error_prior_weight) >= 0.0:
            raise ValueError(
                f"replenishment.error_prior_weight: {self.error_prior_weight!r} must be >= 0"
            )
        # Freeze the mapping so the settings really are immutable.
        object.__setattr__(self, "service_level_by_abc", MappingProxyType(levels))

    def service_level_for(self, abc_class: str | None) -> float:
        """Target service level for an ABC class (default when unknown or missing)."""
        if abc_class is None:
            return float(self.default_service_level)
        return float(self.service_level_by_abc.get(abc_class, self.default_service_level))
