-- One row per order (every channel, cancelled ones flagged): its shipping promise, its
-- shipments, whether it is still open, shipped late or split, and how many of its units were
-- not in stock at its location when it was placed (backordered).
with

orders as (
    select * from {{ ref('orders') }}
),

order_lines as (
    select * from {{ ref('order_lines') }}
),

snapshots as (
    select * from {{ ref('inventory_snapshots') }}
),

shipments as (
    select * from {{ ref('int_fulfillments_unioned') }}
),

amazon_promises as (
    select * from {{ ref('stg_amazon__order_promises') }}
),

shipped as (
    select
        order_key,
        count(*) as shipments,
        sum(units) as units_shipped,
        min(shipped_at) as first_shipped_at,
        max(shipped_at) as last_shipped_at,
        -- delivered when every shipment is (the last delivery), else null
        case when count(delivered_at) = count(*) then max(delivered_at) end as delivered_at,
        max(estimated_delivery_at) as estimated_delivery_at
    from shipments
    group by all
),

-- Backorders: a line's units beyond what its location had when the order was placed: the
-- location's stock at the end of the day before (inventory_snapshots; after the last count, the
-- last snapshot carried forward) less the units of the same SKU ordered there earlier that day.
-- Unknown (null) without a snapshot up to that day; tills sell off the shelf, so a till sale is
-- never backordered.
sold_lines as (
    select
        order_key,
        order_line_key,
        sku,
        location_id,
        ordered_at,
        order_date,
        order_date - 1 as stock_day,
        quantity
    from order_lines
    where not is_cancelled and channel <> 'tills'
),

line_demand as (
    select
        l.order_key,
        l.order_line_key,
        l.quantity,
        s.on_hand as on_hand_before,
        coalesce(sum(l.quantity) over (
            partition by l.sku, l.location_id, l.order_date
            order by l.ordered_at, l.order_key, l.order_line_key
            rows between unbounded preceding and 1 preceding
        ), 0) as ordered_before
    from sold_lines as l
    asof left join snapshots as s
        on l.sku = s.sku
        and l.location_id = s.location_id
        and l.stock_day >= s.stock_date
),

backorders as (
    select
        order_key,
        cast(case when count(on_hand_before) = count(*) then sum(
            least(quantity, greatest(0, ordered_before + quantity - greatest(on_hand_before, 0)))
        ) end as integer) as backordered_units
    from line_demand
    group by all
),

promised as (
    select
        o.order_key,
        o.channel,
        o.order_id,
        o.fulfillment_location_id as location_id,
        o.ordered_at,
        o.order_date,
        o.status,
        o.is_cancelled,
        o.units,
        o.shipping,
        coalesce(
            p.latest_ship_at,
            o.ordered_at + to_seconds(cast({{ ship_sla_hours('o.channel') }} * 3600 as bigint))
        ) as ship_by_at,
        p.latest_ship_at is not null as is_channel_promise,
        coalesce(
            p.latest_delivery_at,
            s.estimated_delivery_at,
            o.ordered_at + to_seconds(cast({{ delivery_sla_hours('o.channel') }} * 3600 as bigint))
        ) as deliver_by_at,
        coalesce(s.shipments, 0) as shipments,
        coalesce(s.units_shipped, 0) as units_shipped,
        s.first_shipped_at,
        s.last_shipped_at,
        s.delivered_at,
        b.backordered_units
    from orders as o
    left join amazon_promises as p on o.channel = 'amazon' and o.order_id = p.order_id
    left join shipped as s on o.order_key = s.order_key
    left join backorders as b on o.order_key = b.order_key
),

final as (
    select
        order_key,
        channel,
        order_id,
        location_id,
        ordered_at,
        order_date,
        status,
        is_cancelled,
        units,
        shipments,
        units_shipped,
        ship_by_at,
        is_channel_promise,
        deliver_by_at,
        first_shipped_at,
        -- when the order was shipped complete: its last shipment, once it is fulfilled
        case when status = 'fulfilled' then last_shipped_at end as shipped_at,
        delivered_at,
        not is_cancelled and status in ('open', 'partially_fulfilled') as is_open,
        {{ hours_between('ordered_at', "case when status = 'fulfilled' then last_shipped_at end") }}
            as hours_to_ship,
        {{ hours_between("case when status = 'fulfilled' then last_shipped_at end", 'delivered_at') }}
            as hours_to_deliver,
        -- shipped complete after its ship-by time (open orders: see is_open and ship_by_at)
        coalesce(status = 'fulfilled' and last_shipped_at > ship_by_at, false) as is_shipped_late,
        case when delivered_at is not null and deliver_by_at is not null
            then delivered_at > deliver_by_at end as is_delivered_late,
        shipments > 1 as is_split,
        backordered_units,
        coalesce(backordered_units > 0, false) as is_backordered,
        shipping as shipping_charged
    from promised
)

select * from final
