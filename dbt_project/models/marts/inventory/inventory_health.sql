-- Inventory health per SKU x location x month (docs/marts.md "inventory_health"). Stock measures
-- are taken at the month's last day with stock data (as_of_date: the month end, or the latest
-- snapshot in the current month); flow measures (sales, COGS, margin, stockouts) add up the
-- month's days; averages of stock are over the month's days with stock data. The daily
-- arithmetic is int_inventory_health_daily's, the measures macros/inventory_health.sql's (shared
-- with inventory_health_current).
with

daily as (
    select * from {{ ref('int_inventory_health_daily') }}
),

months as (
    select
        month,
        sku,
        location_id,
        max(stock_date) filter (where on_hand is not null) as as_of_date,
        cast(count(on_hand) as integer) as stock_days,
        min(first_date) as first_date,
        avg(on_hand) as average_on_hand,
        cast(avg(stock_value) as decimal(18, 4)) as average_stock_value,
        sum(units_ordered) as units_ordered,
        sum(units_sold) as units_sold,
        sum(net_sales) as net_sales,
        sum(cogs) as cogs,
        count(*) filter (where is_stockout) as stockout_days,
        sum(lost_units) as lost_units,
        sum(lost_revenue) as lost_revenue
    from daily
    group by all
),

periods as (
    -- the month with the stock of its as-of day (none for a month without stock data)
    select
        m.*,
        d.on_hand,
        d.unit_cost,
        d.avg_daily_demand,
        d.last_sale_date
    from months as m
    left join daily as d
        on d.sku = m.sku and d.location_id = m.location_id and d.stock_date = m.as_of_date
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
        p.month,
        p.sku,
        p.location_id,
        p.as_of_date,
        p.stock_days,
        {{ inventory_health_measures() }},
        cast(p.units_ordered as integer) as units_ordered
    from periods as p
    left join ages as a
        on p.sku = a.sku and p.location_id = a.location_id and p.as_of_date = a.as_of_date
)

select * from final
