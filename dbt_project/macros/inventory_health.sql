{#- The measures marts.inventory_health (per month) and marts.inventory_health_current (now)
    share, so both say the same thing about the same numbers. -#}

{#- FIFO age of the stock on hand: first in, first out, so the units on hand at as_of_date are
    the latest receipts up to that day. `positions` has sku, location_id, as_of_date, on_hand;
    `receipts` has sku, location_id, receipt_date, quantity (> 0). One row per position with
    stock: stock_age_days (average age of the units on hand, in days) and
    oldest_stock_age_days (age of the oldest unit still on hand). -#}
{% macro fifo_stock_age(positions, receipts) -%}
    select
        sku,
        location_id,
        as_of_date,
        sum(taken * (as_of_date - receipt_date)) / sum(taken) as stock_age_days,
        max(as_of_date - receipt_date) as oldest_stock_age_days
    from (
        select
            p.sku,
            p.location_id,
            p.as_of_date,
            r.receipt_date,
            -- newest receipts first: each gives what the on-hand still needs after the newer ones
            least(
                r.quantity,
                p.on_hand - coalesce(sum(r.quantity) over (
                    partition by p.sku, p.location_id, p.as_of_date
                    order by r.receipt_date desc
                    rows between unbounded preceding and 1 preceding
                ), 0)
            ) as taken
        from {{ positions }} as p
        inner join {{ receipts }} as r
            on p.sku = r.sku and p.location_id = r.location_id and r.receipt_date <= p.as_of_date
        where p.on_hand > 0
    )
    where taken > 0
    group by all
{%- endmacro %}

{#- The health measures of one period, from a relation `p` with: as_of_date, on_hand (at as_of),
    unit_cost (at as_of), avg_daily_demand (at as_of), first_date, last_sale_date, units_sold,
    net_sales, cogs, average_on_hand, average_stock_value, stockout_days, lost_units,
    lost_revenue; and `a` with stock_age_days, oldest_stock_age_days (fifo_stock_age). -#}
{% macro inventory_health_measures() -%}
    {%- set max_cover = var('inventory_max_days_of_cover') | int %}
    {%- set dead_days = var('inventory_dead_stock_days') | int %}
        p.on_hand,
        p.unit_cost,
        cast(p.on_hand * p.unit_cost as decimal(18, 4)) as stock_value,
        round(p.avg_daily_demand, 4) as avg_daily_demand,
        round(p.on_hand / nullif(p.avg_daily_demand, 0), 1) as days_of_supply,
        round(p.average_on_hand, 2) as average_on_hand,
        p.average_stock_value,
        cast(p.units_sold as integer) as units_sold,
        cast(p.net_sales as decimal(18, 4)) as net_sales,
        cast(p.cogs as decimal(18, 4)) as cogs,
        cast(p.net_sales - p.cogs as decimal(18, 4)) as gross_margin,
        round(p.cogs / nullif(p.average_stock_value, 0), 4) as turnover,
        round(p.units_sold / nullif(p.units_sold + p.on_hand, 0), 4) as sell_through,
        round((p.net_sales - p.cogs) / nullif(p.average_stock_value, 0), 4) as gmroi,
        round(a.stock_age_days, 1) as stock_age_days,
        a.oldest_stock_age_days,
        -- above max_days_of_cover of the demand rate (all of it without demand)
        cast(greatest(p.on_hand - floor({{ max_cover }} * coalesce(p.avg_daily_demand, 0)), 0) as integer)
            as excess_units,
        cast(greatest(p.on_hand - floor({{ max_cover }} * coalesce(p.avg_daily_demand, 0)), 0) * p.unit_cost
            as decimal(18, 4)) as excess_value,
        p.last_sale_date,
        p.as_of_date - p.last_sale_date as days_since_last_sale,
        -- no sale in the last dead_days days, and known for at least that long
        coalesce(p.on_hand > 0
            and coalesce(p.last_sale_date, p.first_date - 1) <= p.as_of_date - {{ dead_days }}, false)
            as is_dead_stock,
        cast(case
            when p.on_hand > 0 and coalesce(p.last_sale_date, p.first_date - 1) <= p.as_of_date - {{ dead_days }}
                then p.on_hand else 0
        end as integer) as dead_stock_units,
        cast(case
            when p.on_hand > 0 and coalesce(p.last_sale_date, p.first_date - 1) <= p.as_of_date - {{ dead_days }}
                then p.on_hand * p.unit_cost else 0
        end as decimal(18, 4)) as dead_stock_value,
        cast(p.stockout_days as integer) as stockout_days,
        round(p.lost_units, 2) as lost_units,
        cast(p.lost_revenue as decimal(18, 4)) as lost_revenue
{%- endmacro %}
