{{ config(materialized='table') }}
-- Every channel's shipments in one shape: Shopify fulfillments, Amazon shipment events, completed
-- WooCommerce orders (Woo ships an order whole, when it is completed) and till sales (handed
-- over at the till: shipped and delivered when placed). Money local (the shipment's currency).
with

channels as (
    select * from {{ ref('stg_ops__channels') }}
),

aliases as (
    select * from {{ ref('stg_ops__location_aliases') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

order_lines as (
    select * from {{ ref('int_order_lines_unioned') }}
),

shop_fulfillments as (
    select * from {{ ref('stg_shop__fulfillments') }}
),

amazon_shipments as (
    select * from {{ ref('stg_amazon__shipments') }}
),

amazon_promises as (
    select * from {{ ref('stg_amazon__order_promises') }}
),

woo_fulfillments as (
    select * from {{ ref('stg_woo__fulfillments') }}
),

shop as (
    -- only fulfillments that happened (REST status success; not cancelled, failed or pending)
    select
        'shop' as channel,
        f.order_id,
        f.fulfillment_id,
        a.location_id,
        f.carrier,
        f.service,
        f.tracking_number,
        f.shipped_at,
        f.delivered_at,
        f.estimated_delivery_at,
        f.lines,
        f.units,
        cast(null as decimal(18, 4)) as shipping_cost_local,
        cast(null as varchar) as shipping_cost_currency
    from shop_fulfillments as f
    left join aliases as a on a.channel = 'shop' and a.external_id = f.external_location_id
    where f.fulfillment_status = 'success'
),

amazon as (
    select
        'amazon' as channel,
        s.order_id,
        s.shipment_id as fulfillment_id,
        cast(null as varchar) as location_id,
        cast(null as varchar) as carrier,
        coalesce(p.ship_service_level, p.ship_service_level_category) as service,
        cast(null as varchar) as tracking_number,
        s.shipped_at,
        cast(null as timestamptz) as delivered_at,
        cast(null as timestamptz) as estimated_delivery_at,
        s.lines,
        s.units,
        s.fulfillment_fees_local as shipping_cost_local,
        s.currency as shipping_cost_currency
    from amazon_shipments as s
    left join amazon_promises as p on s.order_id = p.order_id
),

woo as (
    select
        'woo' as channel,
        order_id,
        order_id as fulfillment_id,
        cast(null as varchar) as location_id,
        cast(null as varchar) as carrier,
        shipping_method as service,
        cast(null as varchar) as tracking_number,
        completed_at as shipped_at,
        cast(null as timestamptz) as delivered_at,
        cast(null as timestamptz) as estimated_delivery_at,
        lines,
        units,
        cast(null as decimal(18, 4)) as shipping_cost_local,
        cast(null as varchar) as shipping_cost_currency
    from woo_fulfillments
    where completed_at is not null and order_status <> 'cancelled'
),

till_lines as (
    select order_id, count(*) as lines, sum(quantity) as units
    from order_lines
    where channel = 'tills' and not is_cancelled
    group by all
),

tills as (
    select
        'tills' as channel,
        o.order_id,
        o.order_id as fulfillment_id,
        o.fulfillment_location_id as location_id,
        cast(null as varchar) as carrier,
        'in_store' as service,
        cast(null as varchar) as tracking_number,
        o.ordered_at as shipped_at,
        o.ordered_at as delivered_at,
        cast(null as timestamptz) as estimated_delivery_at,
        coalesce(l.lines, 0) as lines,
        coalesce(l.units, 0) as units,
        cast(null as decimal(18, 4)) as shipping_cost_local,
        cast(null as varchar) as shipping_cost_currency
    from orders as o
    left join till_lines as l on o.order_id = l.order_id
    where o.channel = 'tills' and not o.is_cancelled
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
        u.channel || ':' || u.order_id || ':' || u.fulfillment_id as fulfillment_key,
        u.channel || ':' || u.order_id as order_key,
        u.channel,
        u.order_id,
        u.fulfillment_id,
        -- where the channel names the location (Shopify, tills), else the order's
        coalesce(u.location_id, o.fulfillment_location_id, ch.default_location_id) as location_id,
        u.carrier,
        u.service,
        u.tracking_number,
        u.shipped_at,
        u.delivered_at,
        u.estimated_delivery_at,
        cast(u.lines as integer) as lines,
        cast(u.units as integer) as units,
        cast(u.shipping_cost_local as decimal(18, 4)) as shipping_cost_local,
        coalesce(u.shipping_cost_currency, o.currency) as currency
    from unioned as u
    left join orders as o on o.channel = u.channel and o.order_id = u.order_id
    left join channels as ch on u.channel = ch.channel
)

select * from final
