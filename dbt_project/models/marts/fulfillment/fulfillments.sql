-- One row per shipment (a Shopify fulfillment, an Amazon shipment event, a completed WooCommerce
-- order, a till sale), with its order's promise, its latencies and whether it was on time.
-- Money in the base currency at the order's rate.
with

shipments as (
    select * from {{ ref('int_fulfillments_unioned') }}
),

orders as (
    select * from {{ ref('orders') }}
),

order_fulfillment as (
    select * from {{ ref('order_fulfillment') }}
),

sequenced as (
    select
        s.*,
        row_number() over (partition by s.order_key order by s.shipped_at, s.fulfillment_id)
            as shipment_seq,
        count(*) over (partition by s.order_key) as shipments_in_order
    from shipments as s
),

final as (
    select
        s.fulfillment_key,
        s.order_key,
        s.channel,
        s.order_id,
        s.fulfillment_id,
        s.location_id,
        s.carrier,
        s.service,
        s.tracking_number,
        o.ordered_at,
        o.order_date,
        -- channels record a shipment when the goods leave: created is the ship time
        s.shipped_at as created_at,
        s.shipped_at,
        {{ business_date('s.shipped_at') }} as ship_date,
        s.delivered_at,
        f.ship_by_at,
        f.deliver_by_at,
        cast(s.shipment_seq as integer) as shipment_seq,
        cast(s.shipments_in_order as integer) as shipments_in_order,
        s.shipments_in_order > 1 as is_split_shipment,
        s.lines,
        s.units,
        {{ hours_between('o.ordered_at', 's.shipped_at') }} as hours_to_ship,
        {{ hours_between('s.shipped_at', 's.delivered_at') }} as hours_to_deliver,
        case when s.shipped_at is not null and f.ship_by_at is not null
            then s.shipped_at <= f.ship_by_at end as is_shipped_on_time,
        case when s.delivered_at is not null and f.deliver_by_at is not null
            then s.delivered_at <= f.deliver_by_at end as is_delivered_on_time,
        -- what the customer paid for shipping, on the order's first shipment
        cast(case when s.shipment_seq = 1 then coalesce(o.shipping, 0) else 0 end as decimal(18, 4))
            as shipping_charged,
        -- what the shipment cost the merchant where the channel reports it (Amazon FBA fees)
        {{ to_base('s.shipping_cost_local', 'o.fx_rate') }} as shipping_cost,
        s.shipping_cost_local,
        s.currency
    from sequenced as s
    inner join orders as o on s.order_key = o.order_key
    left join order_fulfillment as f on s.order_key = f.order_key
)

select * from final
