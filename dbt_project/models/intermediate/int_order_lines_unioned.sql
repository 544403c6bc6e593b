{{ config(materialized='table') }}
-- All channels' order lines in one shape, amounts local: goods only. Till return lines (negative
-- quantity) and credit notes are not order lines: they are refund lines (int_refund_lines_unioned);
-- till lines other than products (postage, fees, ...) are order totals (int_orders_unioned).
with

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

aliases as (
    select * from {{ ref('stg_ops__location_aliases') }}
),

shop_lines as (
    select * from {{ ref('stg_shop__order_lines') }}
),

amazon_items as (
    select * from {{ ref('stg_amazon__order_items') }}
),

woo_lines as (
    select * from {{ ref('stg_woo__order_lines') }}
),

till_lines as (
    select * from {{ ref('stg_tills__order_lines') }}
),

shop as (
    select
        'shop' as channel,
        l.order_id,
        l.line_id,
        l.sku,
        a.location_id as line_location_id,
        l.quantity,
        l.quantity_fulfilled,
        l.unit_price_local,
        l.gross_local,
        l.discount_local,
        l.net_local,
        l.tax_local,
        false as is_line_cancelled
    from shop_lines as l
    left join aliases as a
        on a.channel = 'shop' and a.external_id = l.fulfillment_external_location_id
),

amazon as (
    select
        'amazon' as channel,
        order_id,
        order_item_id as line_id,
        sku,
        cast(null as varchar) as line_location_id,
        quantity,
        quantity_shipped as quantity_fulfilled,
        unit_price_local,
        gross_local,
        discount_local,
        net_local,
        tax_local,
        false as is_line_cancelled
    from amazon_items
),

woo as (
    select
        'woo' as channel,
        order_id,
        line_id,
        sku,
        cast(null as varchar) as line_location_id,
        quantity,
        cast(null as integer) as quantity_fulfilled,
        unit_price_local,
        gross_local,
        discount_local,
        net_local,
        tax_local,
        false as is_line_cancelled
    from woo_lines
),

tills as (
    select
        'tills' as channel,
        order_id,
        line_id,
        sku,
        location_id as line_location_id,
        quantity,
        quantity as quantity_fulfilled,
        unit_price_local,
        gross_local,
        discount_local,
        net_local,
        cast(null as decimal(18, 4)) as tax_local,
        is_cancelled as is_line_cancelled
    from till_lines
    -- goods sold: postage, fees, discount and gift-card lines are order totals, write-offs
    -- inventory adjustments, credit notes refunds (int_orders_unioned, int_refund_lines_unioned)
    where line_type = 'product' and not is_return and not is_credit_note and not is_write_off
),

unioned as (
    select * from shop
    union all by name
    select * from amazon
    union all by name
    select * from woo
    union all by name
    select * from tills
),

final as (
    select
        o.order_key || ':' || u.line_id as order_line_key,
        o.order_key,
        u.channel,
        u.order_id,
        u.line_id,
        u.sku,
        coalesce(u.line_location_id, o.fulfillment_location_id) as location_id,
        o.ordered_at,
        o.order_date,
        o.currency,
        o.customer_key,
        (o.is_cancelled or u.is_line_cancelled) as is_cancelled,
        cast(u.quantity as integer) as quantity,
        -- units shipped/handed over; Woo reports no per-line fulfilment: all or nothing by order status
        cast(case
            when o.is_cancelled or u.is_line_cancelled then 0
            when u.quantity_fulfilled is not null then least(u.quantity_fulfilled, u.quantity)
            when o.fulfillment_status = 'fulfilled' then u.quantity
            else 0
        end as integer) as quantity_fulfilled,
        cast(u.unit_price_local as decimal(18, 4)) as unit_price_local,
        cast(u.gross_local as decimal(18, 4)) as gross_local,
        cast(u.discount_local as decimal(18, 4)) as discount_local,
        cast(u.net_local as decimal(18, 4)) as net_local,
        cast(u.tax_local as decimal(18, 4)) as tax_local
    from unioned as u
    inner join orders as o
        on o.channel = u.channel and o.order_id = u.order_id
)

select * from final
