-- Inventory health per SKU x location now: as of the latest stock snapshot (the latest count
-- date of any pair, inventory_snapshots), stock measures on that day, flow measures over the
-- trailing var inventory_health_current_days days up to it (docs/marts.md
-- "inventory_health_current"). Same measures as inventory_health (macros/inventory_health.sql).
{%- set days = var('inventory_health_current_days') | int %}
with

daily as (
    select * from {{ ref('int_inventory_health_daily') }}
),

as_of as (
    select max(stock_date) as as_of_date from daily where on_hand is not null
),

recent as (
    select
        d.sku,
        d.location_id,
        any_value(a.as_of_date) as as_of_date,
        cast(count(d.on_hand) as integer) as stock_days,
        avg(d.on_hand) as average_on_hand,
        cast(avg(d.stock_value) as decimal(18, 4)) as average_stock_value,
        sum(d.units_ordered) as units_ordered,
        sum(d.units_sold) as units_sold,
        sum(d.net_sales) as net_sales,
        sum(d.cogs) as cogs,
        count(*) filter (where d.is_stockout) as stockout_days,
        sum(d.lost_units) as lost_units,
        sum(d.lost_revenue) as lost_revenue
    from daily as d
    cross join as_of as a
    where d.stock_date > a.as_of_date - {{ days }} and d.stock_date <= a.as_of_date
    group by all
),

periods as (
    -- pairs with stock data on the as-of day
    select
        t.*,
        d.on_hand,
        d.is_stockout,
        d.unit_cost,
        d.avg_daily_demand,
        d.first_date,
        d.last_sale_date
    from recent as t
    inner join daily as d
        on d.sku = t.sku and d.location_id = t.location_id and d.stock_date = t.as_of_date
    where d.on_hand is not null
),

receipts as (
    select sku, location_id, stock_date as receipt_date, received_units as quantity
    from daily
    where received_units > 0
),

ages as (
    {{ fifo_stock_age('periods', 'receipts') }}
),

final as (
    select
        p.as_of_date,
        p.sku,
        p.location_id,
        p.is_stockout,
        p.stock_days,
        {{ inventory_health_measures() }},
        cast(p.units_ordered as integer) as units_ordered
    from periods as p
    left join ages as a
        on p.sku = a.sku and p.location_id = a.location_id and p.as_of_date = a.as_of_date
)

select * from final
