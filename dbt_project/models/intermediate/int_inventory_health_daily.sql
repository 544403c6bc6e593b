{{ config(materialized='table') }}
-- Day x SKU x location: the daily arithmetic behind marts.inventory_health (month) and
-- marts.inventory_health_current (now). Spine: every day of inventory_snapshots (stock known)
-- plus every day with sales outside it (before a pair's first count, after the last count date;
-- on_hand null there).
--
-- * Sales from order_lines (not cancelled) by order date: units_ordered (demand), units_sold
--   (kept: ordered - refunded), revenue (net of discounts, before refunds: daily_demand's),
--   net_sales (revenue - refunded) and cogs (order_lines.cogs: cost of the units kept).
-- * unit_cost: the primary supplier's cost (int_sku_costs) in the base currency at the day's FX
--   rate; stock_value = on_hand x unit_cost.
-- * avg_daily_demand: units ordered on in-stock days over the var inventory_demand_window_days
--   days up to the day, per in-stock day (stocked-out days are censored: their sales are not
--   demand). Days of the window before the pair's first day do not count.
-- * Stockouts: on a stocked-out day the units lost are the demand rate of the last in-stock day
--   before the stockout began (the pre-stockout rate, held for the whole stockout) less what the
--   day still sold, never below 0; lost_revenue = lost_units x the average net price per unit of
--   that window. Not planning.demand_forecast: it is written by Python after dbt, for future
--   weeks of each run only, so a build could only see forecasts of earlier runs (none in a first
--   build or a backfill).
-- * received_units: observed stock increases, the FIFO receipts of the stock age: the first
--   known on_hand of a pair (opening stock, received that day at the latest) and every
--   day-over-day increase of on_hand. A lower bound: a day's sales hide part of what arrived.
{%- set window = var('inventory_demand_window_days') | int %}
with

snapshots as (
    select
        stock_date,
        sku,
        location_id,
        on_hand,
        is_stockout,
        -- (greatest() ignores nulls in DuckDB: the first day needs its own case)
        case
            when lag(on_hand) over pair is null then on_hand
            else greatest(on_hand - lag(on_hand) over pair, 0)
        end as received_units
    from {{ ref('inventory_snapshots') }}
    window pair as (partition by sku, location_id order by stock_date)
),

sales as (
    select
        order_date as stock_date,
        sku,
        location_id,
        sum(quantity) as units_ordered,
        sum(greatest(quantity - quantity_refunded, 0)) as units_sold,
        sum(net) as revenue,
        sum(net - refunded) as net_sales,
        sum(cogs) as cogs
    from {{ ref('order_lines') }}
    where not is_cancelled and sku is not null and location_id is not null
    group by all
),

costs as (
    select * from {{ ref('int_sku_costs') }}
),

fx as (
    select * from {{ ref('int_fx_rates_daily') }}
),

days as (
    select
        coalesce(s.stock_date, x.stock_date) as stock_date,
        coalesce(s.sku, x.sku) as sku,
        coalesce(s.location_id, x.location_id) as location_id,
        s.on_hand,
        coalesce(s.is_stockout, false) as is_stockout,
        coalesce(s.received_units, 0) as received_units,
        cast(coalesce(x.units_ordered, 0) as integer) as units_ordered,
        cast(coalesce(x.units_sold, 0) as integer) as units_sold,
        cast(coalesce(x.revenue, 0) as decimal(18, 4)) as revenue,
        cast(coalesce(x.net_sales, 0) as decimal(18, 4)) as net_sales,
        -- null where the SKU has no supplier terms (as order_lines.cogs)
        case when x.sku is null then cast(0 as decimal(18, 4)) else x.cogs end as cogs
    from snapshots as s
    full outer join sales as x
        on s.stock_date = x.stock_date and s.sku = x.sku and s.location_id = x.location_id
),

costed as (
    select
        d.*,
        {{ to_base('c.unit_cost_local', "case when c.cost_currency = '" ~ var('base_currency') ~ "' then 1 else f.rate_to_base end") }}
            as unit_cost
    from days as d
    left join costs as c on d.sku = c.sku
    left join fx as f on f.currency = c.cost_currency and f.rate_date = d.stock_date
),

windowed as (
    select
        *,
        min(stock_date) over pair as first_date,
        max(case when units_ordered > 0 then stock_date end) over (pair rows unbounded preceding)
            as last_sale_date,
        sum(case when is_stockout then 0 else units_ordered end) over recent as window_units,
        sum(case when is_stockout then 0 else revenue end) over recent as window_revenue,
        sum(case when is_stockout then 1 else 0 end) over recent as window_stockout_days,
        -- stockout runs: a run shares its number with the last in-stock day before it
        sum(case when is_stockout then 0 else 1 end) over (pair rows unbounded preceding) as run_id
    from costed
    window
        pair as (partition by sku, location_id order by stock_date),
        recent as (
            partition by sku, location_id order by stock_date
            range between interval {{ window - 1 }} days preceding and current row
        )
),

rated as (
    select
        *,
        least({{ window }}, stock_date - first_date + 1) - window_stockout_days as window_in_stock_days,
        window_units / nullif(least({{ window }}, stock_date - first_date + 1) - window_stockout_days, 0)
            as avg_daily_demand,
        window_revenue / nullif(window_units, 0) as avg_unit_price
    from windowed
),

pre_stockout as (
    select
        *,
        -- the rate and price of the run's first row: the last in-stock day before the stockout
        -- (null for a stockout before any in-stock day)
        first_value(case when not is_stockout then avg_daily_demand end) over run as pre_stockout_demand,
        first_value(case when not is_stockout then avg_unit_price end) over run as pre_stockout_price
    from rated
    window run as (partition by sku, location_id, run_id order by stock_date)
),

final as (
    select
        stock_date,
        cast(date_trunc('month', stock_date) as date) as month,
        sku,
        location_id,
        on_hand,
        is_stockout,
        units_ordered,
        units_sold,
        revenue,
        net_sales,
        cogs,
        unit_cost,
        cast(on_hand * unit_cost as decimal(18, 4)) as stock_value,
        cast(received_units as integer) as received_units,
        cast(window_in_stock_days as integer) as window_in_stock_days,
        avg_daily_demand,
        case
            when is_stockout then greatest(coalesce(pre_stockout_demand, 0) - units_ordered, 0)
            else 0
        end as lost_units,
        cast(round(case
            when is_stockout
                then greatest(coalesce(pre_stockout_demand, 0) - units_ordered, 0) * coalesce(pre_stockout_price, 0)
            else 0
        end, 4) as decimal(18, 4)) as lost_revenue,
        first_date,
        last_sale_date
    from pre_stockout
)

select * from final
