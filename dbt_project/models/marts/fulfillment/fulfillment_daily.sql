-- One row per day x channel x location (business time zone; dense from the first order to the
-- last order or shipment). Orders placed, backordered and open are of the orders placed at the
-- location (orders.fulfillment_location_id); shipments, latencies, on-time shares, split
-- shipments and shipping money are of the shipments that left the location that day.
with

order_fulfillment as (
    select * from {{ ref('order_fulfillment') }}
),

fulfillments as (
    select * from {{ ref('fulfillments') }}
),

bounds as (
    select
        min(order_date) as first_day,
        greatest(
            max(order_date),
            coalesce((select max(ship_date) from fulfillments), max(order_date))
        ) as last_day
    from order_fulfillment
),

days as (
    select cast(d as date) as day
    from bounds, range(bounds.first_day, bounds.last_day + 1, interval 1 day) as t(d)
),

cells as (
    select channel, location_id from order_fulfillment where location_id is not null
    union
    select channel, location_id from fulfillments where location_id is not null
),

spine as (
    select
        days.day,
        cells.channel,
        cells.location_id,
        -- the end of the day (UTC instant of the next business-day midnight)
        timezone('{{ var("business_timezone") }}', cast(days.day + 1 as timestamp)) as day_end
    from days
    cross join cells
),

placed as (
    select
        order_date as day,
        channel,
        location_id,
        count(*) as orders_placed,
        sum(units) as units_placed,
        count(*) filter (where is_backordered) as backordered_orders,
        sum(backordered_units) as backordered_units
    from order_fulfillment
    where not is_cancelled
    group by all
),

shipped as (
    select
        ship_date as day,
        channel,
        location_id,
        count(*) as shipments,
        count(distinct order_key) as orders_shipped,
        sum(units) as units_shipped,
        quantile_cont(hours_to_ship, 0.5) as hours_to_ship_median,
        quantile_cont(hours_to_ship, 0.9) as hours_to_ship_p90,
        quantile_cont(hours_to_deliver, 0.5) as hours_to_deliver_median,
        quantile_cont(hours_to_deliver, 0.9) as hours_to_deliver_p90,
        count(is_shipped_on_time) as shipments_with_ship_promise,
        count(*) filter (where is_shipped_on_time) as shipped_on_time,
        count(*) filter (where not is_shipped_on_time) as shipped_late,
        count(is_delivered_on_time) as shipments_with_delivery_promise,
        count(*) filter (where is_delivered_on_time) as delivered_on_time,
        count(distinct order_key) filter (where is_split_shipment) as split_shipment_orders,
        sum(shipping_charged) as shipping_charged,
        sum(shipping_cost) as shipping_cost,
        count(shipping_cost) as shipments_with_cost
    from fulfillments
    where ship_date is not null
    group by all
),

-- open (and late) at the end of each day: placed by then, not cancelled, not shipped complete
-- by then (an order marked fulfilled without a known ship time is not counted open)
backlog as (
    select
        spine.day,
        spine.channel,
        spine.location_id,
        count(*) as orders_open,
        count(*) filter (where f.ship_by_at < spine.day_end) as orders_late
    from spine
    inner join order_fulfillment as f
        on f.channel = spine.channel
        and f.location_id = spine.location_id
        and f.ordered_at < spine.day_end
        and (f.shipped_at >= spine.day_end or (f.shipped_at is null and f.is_open))
    where not f.is_cancelled
    group by all
),

final as (
    select
        spine.day,
        spine.channel,
        spine.location_id,
        coalesce(p.orders_placed, 0) as orders_placed,
        coalesce(p.units_placed, 0) as units_placed,
        coalesce(s.orders_shipped, 0) as orders_shipped,
        coalesce(s.shipments, 0) as shipments,
        coalesce(s.units_shipped, 0) as units_shipped,
        coalesce(b.orders_open, 0) as orders_open,
        coalesce(b.orders_late, 0) as orders_late,
        coalesce(s.shipped_late, 0) as shipped_late,
        round(s.hours_to_ship_median, 2) as hours_to_ship_median,
        round(s.hours_to_ship_p90, 2) as hours_to_ship_p90,
        round(s.hours_to_deliver_median, 2) as hours_to_deliver_median,
        round(s.hours_to_deliver_p90, 2) as hours_to_deliver_p90,
        coalesce(s.shipped_on_time, 0) as shipped_on_time,
        case when s.shipments_with_ship_promise > 0
            then round(s.shipped_on_time / s.shipments_with_ship_promise, 4) end
            as shipped_on_time_share,
        case when s.shipments_with_delivery_promise > 0
            then round(s.delivered_on_time / s.shipments_with_delivery_promise, 4) end
            as delivered_on_time_share,
        coalesce(s.split_shipment_orders, 0) as split_shipment_orders,
        coalesce(p.backordered_orders, 0) as backordered_orders,
        coalesce(p.backordered_units, 0) as backordered_units,
        cast(coalesce(s.shipping_charged, 0) as decimal(18, 4)) as shipping_charged,
        -- null where no shipment of the cell has a known cost (only Amazon reports one)
        cast(case when s.shipments_with_cost > 0 then s.shipping_cost end as decimal(18, 4))
            as shipping_cost
    from spine
    left join placed as p
        on spine.day = p.day and spine.channel = p.channel and spine.location_id = p.location_id
    left join shipped as s
        on spine.day = s.day and spine.channel = s.channel and spine.location_id = s.location_id
    left join backlog as b
        on spine.day = b.day and spine.channel = b.channel and spine.location_id = b.location_id
)

select * from final
