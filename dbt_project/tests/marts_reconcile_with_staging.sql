-- Reconciliation: per channel, the orders, order lines and units of the marts equal what staging
-- holds (cancelled orders and voided lines included on both sides; till return lines are refunds,
-- not order lines, but a receipt of returns only is still an order; till credit notes, stock
-- write-offs and adjustment-only documents are no orders, and only product lines are order
-- lines). Returns one row per channel and measure that differs.

with staging_orders as (
    select 'shop' as channel, count(*) as orders from {{ ref('stg_shop__orders') }}
    union all
    select 'amazon', count(*) from {{ ref('stg_amazon__orders') }}
    union all
    select 'woo', count(*) from {{ ref('stg_woo__orders') }}
    union all
    select 'tills', count(distinct order_id) from {{ ref('stg_tills__order_lines') }}
    where not is_credit_note and not is_write_off and line_type <> 'adjustment'
),

staging_lines as (
    select 'shop' as channel, count(*) as order_lines, coalesce(sum(quantity), 0) as units
    from {{ ref('stg_shop__order_lines') }}
    union all
    select 'amazon', count(*), coalesce(sum(quantity), 0)
    from {{ ref('stg_amazon__order_items') }}
    union all
    select 'woo', count(*), coalesce(sum(quantity), 0)
    from {{ ref('stg_woo__order_lines') }}
    union all
    select 'tills', count(*), coalesce(sum(quantity), 0)
    from {{ ref('stg_tills__order_lines') }}
    where not is_return and line_type = 'product' and not is_credit_note and not is_write_off
),

mart_orders as (
    select channel, count(*) as orders
    from {{ ref('orders') }}
    group by all
),

mart_lines as (
    select channel, count(*) as order_lines, coalesce(sum(quantity), 0) as units
    from {{ ref('order_lines') }}
    group by all
),

staging_measures as (
    select channel, 'orders' as measure, orders as value from staging_orders
    union all
    select channel, 'order_lines', order_lines from staging_lines
    union all
    select channel, 'units', units from staging_lines
),

mart_measures as (
    select channel, 'orders' as measure, orders as value from mart_orders
    union all
    select channel, 'order_lines', order_lines from mart_lines
    union all
    select channel, 'units', units from mart_lines
),

compared as (
    select
        coalesce(s.channel, m.channel) as channel,
        coalesce(s.measure, m.measure) as measure,
        coalesce(s.value, 0) as staging_value,
        coalesce(m.value, 0) as mart_value
    from staging_measures as s
    full outer join mart_measures as m
        on s.channel = m.channel and s.measure = m.measure
),

final as (
    select
        channel,
        measure,
        staging_value,
        mart_value,
        mart_value - staging_value as difference
    from compared
    where mart_value <> staging_value
)

select * from final
