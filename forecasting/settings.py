"""Replenishment settings: the ``replenishment`` section of ``oms.yaml``, declared and validated once.

One frozen pydantic model. ``flows/config.py`` uses it as the type of ``Config.replenishment``
(so a bad ``oms.yaml`` value stops the run with a message naming the key), the flow passes it to
the planning functions as is, and tests build it by hand (``ReplenishmentSettings(...)``; a bad
value raises ``pydantic.ValidationError``, a ``ValueError``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AbcClass = Literal["A", "B", "C"]
ServiceLevel = Annotated[float, Field(gt=0.5, lt=1)]


def _default_service_levels() -> dict[AbcClass, float]:
    # A items earn most of the revenue, so a stockout there costs most: protect them hardest.
    return {"A": 0.98, "B": 0.95, "C": 0.90}


class TransferLane(BaseModel):
    """One way to move stock between two own locations (``transfer_lanes`` in ``oms.yaml``).

    ``from`` and ``to`` are location ids; ``lead_time_days`` is door to door; ``cost_per_unit``
    (Decimal, in ``currency``) is what moving one unit costs. A lane is one direction: list
    both if stock can go either way. Used by :mod:`forecasting.transfers`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_location: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    lead_time_days: Annotated[int, Field(ge=0, le=365)]
    cost_per_unit: Annotated[Decimal, Field(ge=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

    @model_validator(mode="after")
    def _two_places(self) -> TransferLane:
        if self.from_location == self.to:
            raise ValueError(f"transfer lane from {self.to} to itself")
        return self


class ReplenishmentSettings(BaseModel):
    """Policy knobs for the periodic-review order-up-to policy.

    ``service_levels`` maps an ABC class to the target cycle service level (probability of not
    stocking out during a replenishment cycle); SKUs without a class, or with a class not in the
    map, get ``default_service_level``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_levels: dict[AbcClass, ServiceLevel] = Field(default_factory=_default_service_levels)
    default_service_level: ServiceLevel = 0.95
    review_period_days: Annotated[int, Field(ge=1, le=90)] = 7
    horizon_days: Annotated[int, Field(ge=7, le=365)] = 56
    max_days_of_cover: Annotated[int, Field(ge=1, le=730)] = 120
    # Days of history behind the forecast's level (the naive models average 28 days). The
    # level's estimation error is shared by every day of the protection interval, so it adds
    # P^2 * sigma_d^2 / n to the variance of demand over P; None leaves the term out (for
    # forecasts whose quantiles already describe the error of a sum over days).
    forecast_level_days: Annotated[int, Field(ge=1, le=365)] | None = 28
    # Safety stock from forecast errors measured per series (``demand_errors`` of
    # plan_replenishment): the days of history they are measured on (a year, so seasonal
    # swings are in it), and how many intervals' worth of weight the forecast's own spread
    # keeps against them (few measured intervals: mostly the forecast's spread; many: mostly
    # the measured errors).
    error_history_days: Annotated[int, Field(ge=1, le=730)] = 365
    error_prior_weight: Annotated[float, Field(ge=0)] = 2.0
    # Lead times measured from receipts (marts.supplier_performance, forecasting/lead_times.py)
    # replace a supplier x SKU's terms from this many receipts on; below it the terms file's
    # lead time and spread are used. Each purchase line says which (lead_time_source).
    min_receipts_for_measured_lead_time: Annotated[int, Field(ge=2, le=1000)] = 5
    # Where the buyer files go (``<output_dir>/reorder/<run_date>/``); relative paths are
    # anchored at the config's folder by ``Config.resolve``.
    output_dir: str = "out"
    # Transfers between own locations before purchases (forecasting/transfers.py,
    # docs/replenishment.md): the lanes stock can move along, how far above its order-up-to
    # level a location must be before it gives stock away (days of its own daily demand), and
    # whether a marketplace-fulfilled location (Amazon FBA) may also be bought for directly
    # from the supplier (by default it is replenished from own warehouses only).
    transfer_lanes: tuple[TransferLane, ...] = ()
    transfer_buffer_days: Annotated[int, Field(ge=0, le=730)] = 42
    marketplace_buy_direct: bool = False

    @field_validator("transfer_lanes")
    @classmethod
    def _one_lane_per_pair(cls, lanes: tuple[TransferLane, ...]) -> tuple[TransferLane, ...]:
        pairs = [(lane.from_location, lane.to) for lane in lanes]
        dupes = sorted({p for p in pairs if pairs.count(p) > 1})
        if dupes:
            raise ValueError(f"transfer_lanes: more than one lane for {dupes}")
        return lanes

    def replace(self, **changes: object) -> ReplenishmentSettings:
        """A validated copy with some fields changed (``model_copy`` would not validate)."""
        return type(self).model_validate({**self.model_dump(by_alias=True), **changes})

    def service_level_for(self, abc_class: str | None) -> float:
        """Target service level for an ABC class (default when unknown or missing)."""
        if abc_class is None:
            return float(self.default_service_level)
        levels: dict[str, float] = {str(k): v for k, v in self.service_levels.items()}
        return float(levels.get(abc_class, self.default_service_level))
