-- Current stock per SKU x location: the latest count, units committed to open orders, open
-- purchase-order quantity and the inventory position. Stock adjustments recorded after the
-- latest count (a till's write-offs, marts.inventory_adjustments) are applied to it: a count
-- already includes every adjustment made before it.
with

latest_counts as (
    select
        sku,
        location_id,
        on_hand,
        counted_at
    from {{ ref('stg_tpl__stock') }}
    where sku is not null and location_id is not null
    qualify row_number() over (partition by sku, location_id order by counted_at desc) = 1
),

adjusted as (
    -- adjustments after the pair's latest count (counts include the ones before them; the rule
    -- inventory_snapshots applies per day, macros/stock_adjustments.sql)
    select sku, location_id, sum(quantity) as adjusted
    from ({{ adjustments_after_counts('latest_counts') }})
    group by all
),

committed as (
    -- unfulfilled units of open (not cancelled, not fully refunded) orders shipping from the location
    select
        sku,
        location_id,
        sum(greatest(quantity - quantity_fulfilled - quantity_refunded, 0)) as committed
    from {{ ref('order_lines') }} as l
    where not is_cancelled
        and order_key in (
            select order_key from {{ ref('orders') }}
            where status in ('open', 'partially_fulfilled')
        )
    group by all
),

on_order as (
    select sku, location_id, sum(quantity_open) as on_order
    from {{ ref('int_open_purchase_orders') }}
    where status in ('open', 'partial')
    group by all
),

keys as (
    select sku, location_id from latest_counts
    union
    select sku, location_id from committed where committed > 0
    union
    select sku, location_id from on_order where on_order > 0
),

final as (
    select
        keys.sku,
        keys.location_id,
        -- never below zero: a write-off of more than the count saw is a stale count, not debt
        cast({{ adjusted_on_hand('coalesce(c.on_hand, 0)', 'a.adjusted') }} as integer) as on_hand,
        cast(coalesce(a.adjusted, 0) as integer) as adjusted_since_count,
        cast(coalesce(m.committed, 0) as integer) as committed,
        cast({{ adjusted_on_hand('coalesce(c.on_hand, 0)', 'a.adjusted') }} - coalesce(m.committed, 0) as integer)
            as available,
        cast(coalesce(o.on_order, 0) as integer) as on_order,
        cast({{ adjusted_on_hand('coalesce(c.on_hand, 0)', 'a.adjusted') }} - coalesce(m.committed, 0)
            + coalesce(o.on_order, 0) as integer) as inventory_position,
        c.counted_at,
        case when c.sku is not null then 'stock_count' else 'no_count' end as source
    from keys
    left join latest_counts as c on keys.sku = c.sku and keys.location_id = c.location_id
    left join adjusted as a on keys.sku = a.sku and keys.location_id = a.location_id
    left join committed as m on keys.sku = m.sku and keys.location_id = m.location_id
    left join on_order as o on keys.sku = o.sku and keys.location_id = o.location_id
)

select * from final
